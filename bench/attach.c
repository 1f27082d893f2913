/* SPDX-License-Identifier: MIT */
/*
 * attach.c - what a guard adds to a loopback HTTP request made on a fresh
 * handle: curl_easy_init(), curlfence_attach() (or not), one GET of
 * http://127.0.0.1:PORT/ from a server in another process,
 * curl_easy_cleanup(), REQUESTS times.
 *
 * Counted in instructions with callgrind (the figure that holds still on
 * a shared machine), only around the requests, in this process only (the
 * server is a child, not counted).  The guard's policy allows the server
 * by one rule among the shipped default rules, so the decision is a real
 * one.
 *
 * Then the same with a name: GET http://bench.example:PORT/a?q, the name
 * pinned to 127.0.0.1 with CURLOPT_RESOLVE (in the plain run too), where
 * the guard is handed the handle for the name: in the pre-request check
 * only (curlfence_attach), and in both checks (as the preload library
 * does: the guard's internal checks with the name passed in, put on the
 * handle by cf_harden with callbacks of its own, the program's close
 * callback left alone).  The shipped rules have no host rules and nothing
 * is audited, so the URL is never parsed: what is left is the handing.
 * Last, the name decides: the address rule for the server is replaced by
 * "allow host bench.example to 127.0.0.1/32 port PORT", so that both
 * checks parse the URL and ask the host rules (under curlfence_attach the
 * open check has no name, docs/security.md, so only the preload's way,
 * whose per-handle memo parses a URL once for both checks).
 *
 * libcurl's own count moves by a few hundred instructions per request
 * from run to run (how often its loop finds the server's answer not yet
 * there), so each mode is counted RUNS times and its fewest taken.
 *
 *   bench-attach RULES-DIR            runs itself under valgrind
 *   bench-attach RULES-DIR MODE       one measured run: plain, attach,
 *                                     named-plain, named-attach, named-both,
 *                                     hosts-both
 */
#include "../test/httpd.h"
#include "callgrind.h"
#include "curlfence.h"
#include "guard/guard.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <valgrind/callgrind.h>

#define REQUESTS 200
#define RUNS 3
#define TARGET 0.01

extern char **environ;

static size_t discard(char *p, size_t size, size_t n, void *userdata)
{
  (void)p;
  (void)userdata;
  return size * n;
}

/* The server, in a child that serves until the parent kills it. */
static pid_t serve(unsigned *port)
{
  int fd[2];
  pid_t pid;

  if(pipe(fd))
    return -1;
  pid = fork();
  if(pid == 0) {
    th_server *srv = th_start("127.0.0.1", "bench");
    unsigned p = srv ? th_port(srv) : 0;

    close(fd[0]);
    if(write(fd[1], &p, sizeof(p)) != sizeof(p) || !p)
      _exit(1);
    for(;;)
      pause();
  }
  close(fd[1]);
  if(pid < 0 || read(fd[0], port, sizeof(*port)) != sizeof(*port) || !*port)
    return -1;
  return pid;
}

enum { PLAIN, ATTACH, BOTH };

typedef struct both {
  curlfence_guard *g;
  CURL *h;
  cf_name_memo memo;   /* the handle's last URL and name, as the preload's */
} both;

/* Both checks with the handle's name, as the preload library makes them. */
static curl_socket_t both_open(void *clientp, curlsocktype purpose,
                               struct curl_sockaddr *a)
{
  both *b = clientp;
  return cf_guard_open_named(b->g, purpose, a, 0, NULL, cf_libcurl_urlapi(),
                             b->h, &b->memo);
}

static int both_prereq(void *clientp, char *primary_ip, char *local_ip,
                       int primary_port, int local_port)
{
  both *b = clientp;
  return cf_guard_prereq_named(b->g, primary_ip, local_ip, primary_port,
                               local_port, 0, cf_libcurl_urlapi(), b->h,
                               &b->memo);
}

static int one(const char *url, curlfence_guard *g, int how,
               struct curl_slist *pin)
{
  CURL *h = curl_easy_init();
  both b = { g, h, { 0 } };
  long code = 0;
  CURLcode rc;

  cf_hooks k = { both_open, &b, both_prereq, &b, 0, NULL, NULL };

  if(!h || (how == ATTACH && curlfence_attach(h, g, 0)) ||
     (how == BOTH && cf_harden(h, curl_easy_setopt, &k, 0) != CURLE_OK))
    return -1;
  if(pin)
    curl_easy_setopt(h, CURLOPT_RESOLVE, pin);
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
  rc = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(h);
  cf_name_memo_free(&b.memo);
  return rc == CURLE_OK && code == 200 ? 0 : -1;
}

static int measure(const char *dir, const char *mode)
{
  char url[96], rules[4096], pinned[64];
  struct curl_slist *pin = NULL;
  int hosts = !strncmp(mode, "hosts-", 6);
  int named = hosts || !strncmp(mode, "named-", 6);
  const char *m = named ? mode + 6 : mode;
  int how = !strcmp(m, "both") ? BOTH : !strcmp(m, "attach") ? ATTACH
                                                             : PLAIN;
  curlfence_policy *p = NULL;
  curlfence_guard *g = NULL;
  curlfence_error err;
  unsigned port;
  pid_t srv = serve(&port);
  int bad = 0;

  if(srv < 0)
    return 1;
  if(named) {
    snprintf(url, sizeof(url), "http://bench.example:%u/a?q", port);
    snprintf(pinned, sizeof(pinned), "bench.example:%u:127.0.0.1", port);
    pin = curl_slist_append(NULL, pinned);
    if(!pin)
      return 1;
  }
  else
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
  snprintf(rules, sizeof(rules), "include %s/default.rules\n%s %u\n", dir,
           hosts ? "allow host bench.example to 127.0.0.1/32 port"
                 : "allow 127.0.0.1 port", port);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  if(curlfence_policy_load_string(&p, rules, strlen(rules), "bench", &err) ||
     curlfence_guard_new(&g, p))
    return 1;
  /* one untimed request: libcurl's and the guard's first-use work */
  bad |= one(url, g, how, pin);
  CALLGRIND_TOGGLE_COLLECT;
  for(int i = 0; i < REQUESTS; i++)
    bad |= one(url, g, how, pin);
  CALLGRIND_TOGGLE_COLLECT;
  curl_slist_free_all(pin);
  curlfence_guard_free(g);
  curlfence_policy_unref(p);
  curl_global_cleanup();
  kill(srv, SIGTERM);
  waitpid(srv, NULL, 0);
  return bad ? 1 : 0;
}

/* Instructions of one measured run under callgrind; 0 on failure. */
static unsigned long long counted_once(const char *self, const char *dir,
                                       const char *mode)
{
  char out[64], opt[96];
  char *argv[] = { "valgrind", "--tool=callgrind", "--collect-atstart=no",
                   opt, (char *)self, (char *)dir, (char *)mode, NULL };
  posix_spawn_file_actions_t fa;
  unsigned long long n = 0;
  pid_t pid;
  int st, rc;

  snprintf(out, sizeof(out), "/tmp/curlfence-bench-attach-%d.cg",
           (int)getpid());
  snprintf(opt, sizeof(opt), "--callgrind-out-file=%s", out);
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  rc = posix_spawnp(&pid, "valgrind", &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if(!rc && waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
     WEXITSTATUS(st) == 0)
    n = bench_callgrind_totals(out);
  unlink(out);
  return n;
}

/* The fewest of RUNS runs (0 if one failed). */
static unsigned long long counted(const char *self, const char *dir,
                                  const char *mode)
{
  unsigned long long best = 0, n;

  for(int i = 0; i < RUNS; i++) {
    n = counted_once(self, dir, mode);
    if(!n)
      return 0;
    best = !best || n < best ? n : best;
  }
  return best;
}

static void line(const char *what, unsigned long long plain,
                 unsigned long long guarded)
{
  double extra;

  if(!plain || !guarded) {
    printf("  %s: valgrind could not count them (is it installed?)\n",
           what);
    return;
  }
  extra = (double)guarded / (double)plain - 1;
  printf("  %s: %llu plain, %llu guarded (%+lld, %+.2f%%); "
         "target <= +1%%: %s\n", what, plain / REQUESTS, guarded / REQUESTS,
         ((long long)guarded - (long long)plain) / REQUESTS, extra * 100,
         extra <= TARGET ? "PASS" : "MISS");
}

int main(int argc, char **argv)
{
  unsigned long long plain, named;

  if(argc == 3)
    return measure(argv[1], argv[2]);
  if(argc != 2) {
    fputs("usage: bench-attach RULES-DIR [plain|attach|named-plain|"
          "named-attach|named-both|hosts-both]\n", stderr);
    return 2;
  }
  printf("fresh handle per loopback request, %d requests, instructions "
         "per request (callgrind, client process only, fewest of %d "
         "runs)\n", REQUESTS, RUNS);
  plain = counted(argv[0], argv[1], "plain");
  line("http://127.0.0.1:PORT/, curlfence_attach", plain,
       counted(argv[0], argv[1], "attach"));
  named = counted(argv[0], argv[1], "named-plain");
  line("http://bench.example:PORT/a?q (name pinned), curlfence_attach, "
       "name at the pre-request check", named,
       counted(argv[0], argv[1], "named-attach"));
  line("the same, name at both checks (the preload's way)", named,
       counted(argv[0], argv[1], "named-both"));
  line("the same, the name deciding (a host rule, URL parsed)", named,
       counted(argv[0], argv[1], "hosts-both"));
  return 0;
}
