/* SPDX-License-Identifier: MIT */
/*
 * Start-up cost of the preload library: wall time of RUNS sequential runs
 * of `curl -s -o /dev/null http://127.0.0.2:PORT/` against a loopback
 * server, without and with LD_PRELOAD=libcurlfence-preload.so and the
 * shipped default rules (plus one line allowing the server, which they
 * deny as loopback).  The two kinds of run take turns, the order flipping
 * each round, so drift in the machine's load falls on both alike; the
 * ratio of the totals is the figure, checked against the target.
 *
 *   preload-start PRELOAD RULES-DIR [RUNS]
 */
#include "../test/httpd.h"

#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TARGET 1.03

extern char **environ;

static double now(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Seconds one run of argv took, or -1 when it did not exit 0; *cpu gets
 * the CPU time (user + system) the run used. */
static double timed(char *const *argv, char **env, double *cpu)
{
  double t0 = now();
  struct rusage ru;
  pid_t pid;
  int st;

  if(posix_spawnp(&pid, argv[0], NULL, NULL, argv, env) ||
     wait4(pid, &st, 0, &ru) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
    return -1;
  *cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  return now() - t0;
}

static int cmp(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;

  return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
  char url[64], rules[PATH_MAX], pre[PATH_MAX + 16], var[PATH_MAX + 32];
  char *plain_env[64], *guard_env[66];
  char *cmd[] = { "curl", "-s", "-o", "/dev/null", url, NULL };
  double total[2] = { 0, 0 }, cpu[2] = { 0, 0 }, c[2], *pair;
  th_server *srv;
  FILE *f;
  int runs = argc > 3 ? atoi(argv[3]) : 200, i, n = 0;

  if(argc < 3 || runs < 1) {
    fputs("usage: preload-start PRELOAD RULES-DIR [RUNS]\n", stderr);
    return 2;
  }
  srv = th_start("127.0.0.2", "bench");
  if(!srv)
    return 2;
  snprintf(url, sizeof(url), "http://127.0.0.2:%u/", th_port(srv));
  snprintf(rules, sizeof(rules), "/tmp/curlfence-bench-%d.rules",
           (int)getpid());
  f = fopen(rules, "w");
  if(!f)
    return 2;
  fprintf(f, "include %s/default.rules\nallow 127.0.0.2 port %u\n",
          argv[2], th_port(srv));
  fclose(f);
  for(i = 0; environ[i] && n < 62; i++)
    if(strncmp(environ[i], "LD_PRELOAD=", 11) &&
       strncmp(environ[i], "CURLFENCE_", 10))
      plain_env[n] = guard_env[n] = environ[i], n++;
  plain_env[n] = NULL;
  snprintf(pre, sizeof(pre), "LD_PRELOAD=%s", argv[1]);
  snprintf(var, sizeof(var), "CURLFENCE_RULES=%s", rules);
  guard_env[n] = pre;
  guard_env[n + 1] = var;
  guard_env[n + 2] = NULL;
  pair = calloc((size_t)runs, sizeof(*pair));
  /* One of each first, untimed: the page cache and the server warm up. */
  if(!pair || timed(cmd, plain_env, c) < 0 || timed(cmd, guard_env, c) < 0) {
    fprintf(stderr, "preload-start: curl %s failed\n", url);
    return 1;
  }
  for(i = 0; i < runs; i++) {
    int first = i & 1;
    double t[2];

    t[first] = timed(cmd, first ? guard_env : plain_env, &c[first]);
    t[!first] = timed(cmd, first ? plain_env : guard_env, &c[!first]);
    if(t[0] < 0 || t[1] < 0) {
      fprintf(stderr, "preload-start: curl %s failed\n", url);
      return 1;
    }
    total[0] += t[0];
    total[1] += t[1];
    cpu[0] += c[0];
    cpu[1] += c[1];
    pair[i] = t[1] / t[0];
  }
  qsort(pair, (size_t)runs, sizeof(*pair), cmp);
  printf("preload start-up: %d sequential `curl -s -o /dev/null %s` runs "
         "each, interleaved; rules %s/default.rules + 1 allow line\n",
         runs, url, argv[2]);
  printf("  without preload  %8.1f ms wall (%.2f ms/run), CPU %.1f ms\n",
         total[0] * 1e3, total[0] * 1e3 / runs, cpu[0] * 1e3);
  printf("  with preload     %8.1f ms wall (%.2f ms/run), CPU %.1f ms\n",
         total[1] * 1e3, total[1] * 1e3 / runs, cpu[1] * 1e3);
  /* The verdict is on wall time, as the target says; the median and the
   * CPU ratio show how much of it is noise on a busy machine. */
  printf("  wall ratio %.3f (median of per-round ratios %.3f), CPU ratio "
         "%.3f; target wall <= %.2f: %s\n", total[1] / total[0],
         pair[runs / 2], cpu[1] / cpu[0], TARGET,
         total[1] / total[0] <= TARGET ? "PASS" : "MISS");
  free(pair);
  unlink(rules);
  th_stop(srv);
  return 0;
}
