/* SPDX-License-Identifier: MIT */
/*
 * The preload library in front of real programs: curl, git, PHP and
 * pycurl, started through `curlfence run` against the suite's own
 * servers on 127.0.0.2 (allowed) and 127.0.0.3 (denied by a rule), both on
 * one port.  Each test asserts the program's exit status and output and
 * what each server saw.  A missing program fails the test: CI installs
 * them (tools/install-deps).
 */
#include "testutil.h"
#include "httpd.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

extern char **environ;

#define OUT_MAX 65536

static th_server *allowed, *denied;
static unsigned port;
static char tmp[PATH_MAX];       /* scratch directory of the test */
static char rules[PATH_MAX + 16];
static char preload[PATH_MAX + 32];
static char tool[PATH_MAX + 32];    /* this build's curlfence */

typedef struct result {
  int status;                    /* exit status, or 128 + signal */
  char out[OUT_MAX];
  char err[OUT_MAX];
} result;

static void read_file(const char *path, char *buf, size_t size)
{
  FILE *f = fopen(path, "r");
  size_t n = 0;

  if(f) {
    n = fread(buf, 1, size - 1, f);
    fclose(f);
  }
  buf[n] = '\0';
}

/* The environment for a child: ours without proxies, preload settings or
 * an LD_PRELOAD of our own, plus extra ("NAME=value", NULL-terminated). */
static char **child_env(const char *const *extra)
{
  static const char *const drop[] = {
    "http_proxy=", "HTTP_PROXY=", "https_proxy=", "HTTPS_PROXY=",
    "all_proxy=", "ALL_PROXY=", "no_proxy=", "NO_PROXY=", "CURLFENCE_",
    "LD_PRELOAD=", NULL
  };
  size_t n = 0, i, k;
  char **env;

  while(environ[n])
    n++;
  for(k = 0; extra && extra[k]; k++)
    ;
  env = calloc(n + k + 2, sizeof(*env));
  ck_assert_ptr_nonnull(env);
  for(n = 0, i = 0; environ[i]; i++) {
    size_t d;

    for(d = 0; drop[d] && strncmp(environ[i], drop[d], strlen(drop[d])); d++)
      ;
    /* extra replaces a variable of the same name */
    for(k = 0; !drop[d] && extra && extra[k]; k++)
      if(!strncmp(environ[i], extra[k], strcspn(extra[k], "=") + 1))
        break;
    if(!drop[d] && !(extra && extra[k]))
      env[n++] = environ[i];
  }
  for(k = 0; extra && extra[k]; k++)
    env[n++] = (char *)extra[k];
  /* The preload library of this build (the sanitizer builds have their
   * own directory). */
  env[n] = malloc(strlen(preload) + 32);
  ck_assert_ptr_nonnull(env[n]);
  sprintf(env[n], "CURLFENCE_PRELOAD=%s", preload);
  return env;
}

/* Run argv (argv[0] looked up in PATH) with the extra environment,
 * stdin from /dev/null, and collect its exit status and output. */
static void run(result *r, const char *const *extra, const char *const *argv)
{
  char out[PATH_MAX + 16], err[PATH_MAX + 16];
  posix_spawn_file_actions_t fa;
  char **env = child_env(extra);
  pid_t pid;
  int st, rc;
  size_t n;

  snprintf(out, sizeof(out), "%s/stdout", tmp);
  snprintf(err, sizeof(err), "%s/stderr", tmp);
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out,
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err,
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, env);
  posix_spawn_file_actions_destroy(&fa);
  /* the last entry is child_env's own (extra may hold another
   * CURLFENCE_PRELOAD, which is the one used) */
  for(n = 0; env[n]; n++)
    ;
  free(env[n - 1]);
  free(env);
  ck_assert_msg(rc == 0, "cannot start %s", argv[0]);
  ck_assert_int_eq(waitpid(pid, &st, 0), pid);
  r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  read_file(out, r->out, sizeof(r->out));
  read_file(err, r->err, sizeof(r->err));
}

/* The program's exit status and output, for assertion messages. */
#define SAYS(r) "status %d\nstdout: %s\nstderr: %s", (r)->status, (r)->out, \
                (r)->err

/* A program under `curlfence run` that must exist: 127 is "not found". */
static void guarded(result *r, const char *const *extra,
                    const char *const *argv)
{
  run(r, extra, argv);
  ck_assert_msg(r->status != 127 && r->status != 126,
                "could not run it (tools/install-deps installs curl, git, "
                "nodejs, openssh-client, php-cli, php-curl, "
                "python3-pycurl): " SAYS(r));
}

static void sibling(char *buf, size_t size, const char *name);

static char *url(const char *host, const char *path)
{
  static char buf[8][256];
  static int i;
  char *u = buf[i++ % 8];

  snprintf(u, 256, "http://%s:%u%s", host, port, path);
  return u;
}

static void setup(void)
{
  char self[PATH_MAX], *slash;
  ssize_t n;

  snprintf(tmp, sizeof(tmp), "/tmp/curlfence-preload-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(tmp));
  snprintf(rules, sizeof(rules), "%s/test.rules", tmp);
  tu_write_text(rules, "default deny\nallow 127.0.0.2\ndeny 127.0.0.3\n");
  ck_assert_int_eq(th_start_pair("127.0.0.2", "allowed", &allowed,
                                 "127.0.0.3", "denied", &denied), 0);
  port = th_port(allowed);
  /* BUILD/test/check_curlfence -> BUILD/libcurlfence-preload.so */
  n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  ck_assert_int_gt(n, 0);
  self[n] = '\0';
  slash = strrchr(self, '/');
  *slash = '\0';
  snprintf(preload, sizeof(preload), "%s/../libcurlfence-preload.so", self);
  snprintf(tool, sizeof(tool), "%s/../tools/curlfence", self);
  ck_assert_msg(access(preload, R_OK) == 0, "no %s (make)", preload);
}

static void teardown(void)
{
  const char *argv[] = { "rm", "-rf", tmp, NULL };
  result *r = malloc(sizeof(*r));

  th_stop(allowed);
  th_stop(denied);
  allowed = denied = NULL;
  if(r)
    run(r, NULL, argv);
  free(r);
}

static result *new_result(void)
{
  result *r = calloc(1, sizeof(*r));

  ck_assert_ptr_nonnull(r);
  return r;
}

/* --------------------------------------------------------- one-run cases */

/* A program run once, mostly under `curlfence run`, judged by its exit
 * status, its output, what each server saw and what the guard said.  In
 * every text, @2 and @3 stand for http://127.0.0.2:PORT and
 * http://127.0.0.3:PORT, @P for PORT, @T for this build's curlfence, @R
 * for the suite's rules, @A for the audit file the row may name, @D for
 * tmp, @B for the directory of the test programs and @L for the preload
 * library. */
typedef struct run_row {
  const char *name;
  const char *env[3];            /* extra environment */
  const char *argv[16];
  int status;
  const char *out;               /* all of stdout */
  const char *err;               /* all of stderr */
  const char *err_has[3];        /* in stderr */
  const char *err_lacks;         /* not in stderr */
  const char *audit_has[5];      /* in the audit file @A */
  unsigned allowed, denied;      /* REQUESTS(n) each server saw */
  unsigned denied_connections;   /* REQUESTS(n): connections the denied
                                    server accepted, requests or not */
} run_row;

/* 0 in a row is "not asserted" */
#define REQUESTS(n) ((n) + 1)

static const run_row run_rows[] = {
  { .name = "curl_denied_never_reaches_the_server",
    .argv = { "@T", "run", "-r", "@R", "--", "curl", "-sS", "@3/x" },
    .status = 7, .out = "", .denied = REQUESTS(0) },
  { .name = "curl_allowed_gets_the_body",
    .argv = { "@T", "run", "-r", "@R", "--", "curl", "-sS", "@2/x" },
    .status = 0, .out = "hello from allowed\n", .allowed = REQUESTS(1) },
  /* Without -r: the shipped default rules, which deny loopback. */
  { .name = "curl_default_rules_deny_loopback",
    .argv = { "@T", "run", "--", "curl", "-sS", "@2/x" },
    .status = 7, .allowed = REQUESTS(0) },
  { .name = "proxy_from_environment_is_not_used",
    .env = { "http_proxy=@2/" },
    .argv = { "@T", "run", "-r", "@R", "--", "curl", "-sS", "@3/x" },
    .status = 7, .allowed = REQUESTS(0), .denied = REQUESTS(0) },
  { .name = "report_only_lets_it_through_and_says_so",
    .argv = { "@T", "run", "-r", "@R", "--report-only", "--audit", "@A",
              "--", "curl", "-sS", "@3/x" },
    .status = 0, .out = "hello from denied\n",
    .audit_has = { "\"decision\":\"deny\",\"enforced\":false,"
                   "\"addr\":\"127.0.0.3\"" },
    .denied = REQUESTS(1) },
  { .name = "curl_audit_names_the_rule",
    .argv = { "@T", "run", "-r", "@R", "--audit", "@A", "--", "curl", "-s",
              "@2/a", "@3/b" },
    .status = 7,
    .audit_has = {
      "\"decision\":\"deny\",\"enforced\":true,\"addr\":\"127.0.0.3\","
      "\"as\":null,\"port\":@P,",
      "\"rule\":{\"file\":\"@R\",\"line\":3,\"text\":\"deny 127.0.0.3\"}",
      /* coverage: the allowed connection was seen when it was opened */
      "\"decision\":\"allow\",\"enforced\":true,\"addr\":\"127.0.0.2\"",
      "\"check\":\"open\"" },
    .denied = REQUESTS(0) },
  /* Nothing lost, nothing said. */
  { .name = "audit_complete_says_nothing",
    .argv = { "@T", "run", "-r", "@R", "--audit", "@A", "--", "curl", "-s",
              "@3/b" },
    .status = 7, .err = "" },
  /* --audit stderr: one line for people per refusal on the command's
   * standard error, as curlfence fetch prints it; nothing for allowed
   * connections, no JSON. */
  { .name = "curl_audit_stderr_text",
    .argv = { "@T", "run", "-r", "@R", "--audit", "stderr", "--", "curl",
              "-s", "@2/x", "@3/y" },
    .status = 7, .out = "hello from allowed\n",
    .err = "curlfence: blocked 127.0.0.3 port @P by @R:3 (deny 127.0.0.3)\n",
    .denied = REQUESTS(0) },
  /* The open and the pre-request check each let it through. */
  { .name = "curl_audit_stderr_text_report_only",
    .argv = { "@T", "run", "-r", "@R", "--audit", "stderr", "--report-only",
              "--", "curl", "-s", "@3/z" },
    .status = 0,
    .err = "curlfence: would block (report-only) 127.0.0.3 port @P by "
           "@R:3 (deny 127.0.0.3)\n"
           "curlfence: would block (report-only) 127.0.0.3 port @P by "
           "@R:3 (deny 127.0.0.3)\n" },
  /* A metrics file that cannot be written is a setup error: it says so
   * and the guard refuses every connection, as for an audit log. */
  { .name = "metrics_unwritable_fails_closed",
    .env = { "CURLFENCE_METRICS=@D/no/such/dir/m.prom", "CURLFENCE_RULES=@R",
             "LD_PRELOAD=@L" },
    .argv = { "curl", "-sS", "@2/x" },
    .status = 7,
    .err_has = { "CURLFENCE_METRICS: cannot write",
                 "every connection is refused" },
    .allowed = REQUESTS(0) },
  /* `curlfence run` takes the settings that loosen the check from its
   * options only: CURLFENCE_ALLOW_TFTP inherited from its own environment
   * does not reach the command, whose UDP socket is then refused (nothing
   * listens on the UDP port, so nothing would be served either way). */
  { .name = "run_ignores_inherited_allow_tftp",
    .env = { "CURLFENCE_ALLOW_TFTP=1", "CURLFENCE_AUDIT_DENIED=1" },
    .argv = { "@T", "run", "-r", "@R", "--audit", "@A", "--", "curl", "-sS",
              "--max-time", "5", "tftp://127.0.0.2:@P/x" },
    .status = 7,
    .audit_has = { "\"decision\":\"deny\"", "\"reason\":\"udp\"" } },
  /* Like env or nice, run's options end at COMMAND: "--" is not needed,
   * and what follows is COMMAND's (-s is curl's). */
  { .name = "run_options_end_at_the_command",
    .argv = { "@T", "run", "-r", "@R", "curl", "-sS", "@3/x" },
    .status = 7, .denied = REQUESTS(0) },
  { .name = "run_options_end_at_the_command_after_dashes",
    .argv = { "@T", "run", "-r", "@R", "curl", "-s", "--", "@2/x" },
    .status = 0, .out = "hello from allowed\n", .denied = REQUESTS(0) },
  { .name = "php_curl_exec",
    .argv = { "@T", "run", "-r", "@R", "--", "php", "-r",
              "foreach (['@3/x', '@2/x'] as $u) {"
              " $c = curl_init($u);"
              " curl_setopt($c, CURLOPT_RETURNTRANSFER, true);"
              " $b = curl_exec($c);"
              " echo curl_errno($c), ' ', $b === false ? '-' : $b; }" },
    .status = 0, .out = "7 -0 hello from allowed\n", .denied = REQUESTS(0) },
  /* Names through PHP: each handle's own URL, in canonical form, and a
   * copy (curl_copy_handle, which is curl_easy_duphandle) has its own,
   * never its original's.  Every name is pinned to 127.0.0.2. */
  { .name = "php_names_per_handle",
    .argv = { "@T", "run", "-r", "@R", "--audit", "@A", "--", "php", "-r",
              "$c = curl_init('http://u:pw@pHP.Example.:@P/x?secret#f');"
              " curl_setopt($c, CURLOPT_RETURNTRANSFER, true);"
              " curl_setopt($c, CURLOPT_RESOLVE,"
              " ['php.example.:@P:127.0.0.2', 'copy.example:@P:127.0.0.2']);"
              " echo curl_exec($c);"
              " $d = curl_copy_handle($c);"
              " curl_setopt($d, CURLOPT_URL, 'http://copy.example:@P/y');"
              " echo curl_exec($d);" },
    .status = 0, .out = "hello from allowed\nhello from allowed\n",
    .audit_has = { "\"host\":\"php.example\",\"url\":"
                   "\"http://php.example:@P/x\",\"program\":\"php",
                   "\"host\":\"copy.example\",\"url\":"
                   "\"http://copy.example:@P/y\"" },
    .allowed = REQUESTS(2) },
  /* pycurl: a refusal names the host it was for */
  { .name = "pycurl_name_in_refusal",
    .argv = { "@T", "run", "-r", "@R", "--audit", "@A", "--",
              "/usr/bin/python3", "-c",
              "import pycurl\n"
              "c = pycurl.Curl()\n"
              "c.setopt(c.URL, 'http://Py.Example:@P/x')\n"
              "c.setopt(c.RESOLVE, ['py.example:@P:127.0.0.3'])\n"
              "try:\n"
              "    c.perform()\n"
              "except pycurl.error as e:\n"
              "    print('error', e.args[0])\n" },
    .status = 0, .out = "error 7\n",
    .audit_has = { "\"decision\":\"deny\"",
                   "\"host\":\"py.example\",\"url\":"
                   "\"http://py.example:@P/x\",\"program\":\"python3" },
    .denied = REQUESTS(0) },
  /* Two libcurls in one process: the program's libcurl.so.4 and a library
   * it opens with local scope that uses libcurl-gnutls.so.4 (as Python's
   * pycurl does).  Each handle goes to the libcurl that made it, and both
   * are guarded. */
  { .name = "two_libcurls_in_one_process",
    .env = { "ASAN_OPTIONS=verify_asan_link_order=0" },
    .argv = { "@T", "run", "-r", "@R", "--", "@B/two-libcurls",
              "@B/libtwo-gnutls.so", "@3/x", "@2/x" },
    .status = 0,
    .out = "program 7\nplugin 7\nprogram 0\nplugin 0\n"
           "libcurl libcurl-gnutls\n",
    .allowed = REQUESTS(2), .denied = REQUESTS(0) },
  { .name = "curl_under_memcheck",
    .argv = { "@T", "run", "-r", "@R", "--", "valgrind", "-q",
              "--error-exitcode=99", "--leak-check=full",
              "--show-leak-kinds=definite",
              "--errors-for-leak-kinds=definite", "curl", "-s", "@2/x",
              "@3/y" },
    .status = 7, .out = "hello from allowed\n", .err_lacks = "==" },
  /* The socket calls under memcheck too (make valgrind runs it). */
  { .name = "own_socket_calls_under_memcheck",
    .argv = { "@T", "run", "-r", "@R", "--", "valgrind", "-q",
              "--error-exitcode=99", "--leak-check=full",
              "--show-leak-kinds=definite",
              "--errors-for-leak-kinds=definite", "@B/preload-sockets",
              "calls" },
    .status = 0, .err_lacks = "==" },
  /* Eight threads make, duplicate, reset and free handles at once, under
   * the preload library.  In a sanitizer build the program carries its
   * runtime, which then is not the first library loaded: that is fine. */
  { .name = "threads_under_preload",
    .env = { "ASAN_OPTIONS=verify_asan_link_order=0" },
    .argv = { "@T", "run", "-r", "@R", "--", "@B/preload-threads", "@2/t",
              "@3/t" },
    .status = 0, .out = "preload-threads: 0 wrong\n",
    .denied = REQUESTS(0) },
  /* The same with the preload's objects linked into the program and built
   * like the rest of this build: `make tsan` and `make asan` check the
   * preload's own code this way. */
  { .name = "threads_linked",
    .env = { "CURLFENCE_RULES=@R" },
    .argv = { "@B/preload-threads-linked", "@2/t", "@3/t" },
    .status = 0, .out = "preload-threads: 0 wrong\n",
    .denied = REQUESTS(0) },

  /* ------------------------------------------------ the program's sockets
   * Outside libcurl: decided by the same rules, refused with EPERM, and
   * audited with the call as the check. */
  { .name = "own_socket_calls",
    .argv = { "@T", "run", "-r", "@R", "--audit", "@A", "--",
              "@B/preload-sockets", "calls" },
    .status = 0,
    .out = "connect tcp EPERM\n__connect tcp EPERM\nlistener accepted none\n"
           "connect udp EPERM\nsendto denied EPERM\nsendto allowed 5\n"
           "sendmsg denied EPERM\nsendmmsg 1\n"
           "sendmmsg from the denied one EPERM\nsendto allowed 4\n"
           "allowed got to-ok mm-one last then none\ndenied got none\n",
    .audit_has = {
      "\"decision\":\"deny\",\"enforced\":true,\"addr\":\"127.0.0.3\","
      "\"as\":null,\"port\":",
      "\"transport\":\"tcp\",\"socktype\":1,\"protocol\":6,"
      "\"check\":\"connect\",\"default\":false,\"reason\":\"rule\","
      "\"rule\":{\"file\":\"@R\",\"line\":3,\"text\":\"deny 127.0.0.3\"}",
      "\"transport\":\"udp\",\"socktype\":2,\"protocol\":17,"
      "\"check\":\"sendto\",\"default\":false,\"reason\":\"rule\","
      "\"rule\":{\"file\":\"@R\",\"line\":3",
      "\"check\":\"sendmsg\",\"default\":false,\"reason\":\"rule\","
      "\"rule\":{\"file\":\"@R\",\"line\":3",
      "\"decision\":\"allow\",\"enforced\":true,\"addr\":\"127.0.0.2\"" } },
  /* A descriptor libcurl's check allowed for one address does not take
   * the program to another: the socket callback's own connect() on it is
   * decided, and libcurl's connection then goes ahead. */
  { .name = "curl_socket_connected_elsewhere_is_decided",
    .argv = { "@T", "run", "-r", "@R", "--audit", "@A", "--",
              "@B/preload-sockets", "curl", "@2/x", "@P" },
    .status = 0, .out = "own connect EPERM\ncurl 0\n",
    .audit_has = { "\"addr\":\"127.0.0.3\",\"as\":null,\"port\":@P,"
                   "\"family\":\"inet\",\"transport\":\"tcp\","
                   "\"socktype\":1,\"protocol\":6,\"check\":\"connect\"" },
    .allowed = REQUESTS(1), .denied_connections = REQUESTS(0) },
  { .name = "python_socket_denied",
    .argv = { "@T", "run", "-r", "@R", "--audit", "@A", "--",
              "/usr/bin/python3", "-c",
              "import errno, socket\n"
              "s = socket.create_connection(('127.0.0.2', @P))\n"
              "s.sendall(b'GET /x HTTP/1.0\\r\\n\\r\\n')\n"
              "print(s.makefile().readline().split()[1])\n"
              "try:\n"
              "    socket.create_connection(('127.0.0.3', @P))\n"
              "    print('connected')\n"
              "except OSError as e:\n"
              "    print(errno.errorcode[e.errno])\n" },
    .status = 0, .out = "200\nEPERM\n",
    .audit_has = { "\"decision\":\"deny\",\"enforced\":true,"
                   "\"addr\":\"127.0.0.3\",\"as\":null,\"port\":@P,",
                   "\"check\":\"connect\"" },
    .allowed = REQUESTS(1), .denied_connections = REQUESTS(0) },
  { .name = "python_udp_sendto_denied",
    .argv = { "@T", "run", "-r", "@R", "--", "/usr/bin/python3", "-c",
              "import errno, socket\n"
              "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
              "try:\n"
              "    u.sendto(b'x', ('127.0.0.3', @P))\n"
              "    print('sent')\n"
              "except OSError as e:\n"
              "    print(errno.errorcode[e.errno])\n" },
    .status = 0, .out = "EPERM\n" },
  { .name = "python_urllib",
    .argv = { "@T", "run", "-r", "@R", "--", "/usr/bin/python3", "-c",
              "import urllib.request\n"
              "for u in ('@3/x', '@2/x'):\n"
              "    try:\n"
              "        print(urllib.request.urlopen(u, timeout=30).read()"
              ".decode(), end='')\n"
              "    except OSError as e:\n"
              "        print(getattr(e, 'reason', e))\n" },
    .status = 0,
    .out = "[Errno 1] Operation not permitted\nhello from allowed\n",
    .allowed = REQUESTS(1), .denied_connections = REQUESTS(0) },
  /* AF_UNIX is left alone, whatever the rules say of unix sockets. */
  { .name = "python_unix_socket_client",
    .argv = { "@T", "run", "-r", "@R", "--", "/usr/bin/python3", "-c",
              "import socket\n"
              "l = socket.socket(socket.AF_UNIX)\n"
              "l.bind('@D/u.sock')\n"
              "l.listen()\n"
              "c = socket.socket(socket.AF_UNIX)\n"
              "c.connect('@D/u.sock')\n"
              "c.sendall(b'through')\n"
              "print(l.accept()[0].recv(16).decode())\n" },
    .status = 0, .out = "through\n" },
  { .name = "php_file_get_contents",
    .argv = { "@T", "run", "-r", "@R", "--", "php", "-r",
              "foreach (['@3/x', '@2/x'] as $u) {"
              " $b = @file_get_contents($u);"
              " echo $b === false ? \"false\\n\" : $b; }" },
    .status = 0, .out = "false\nhello from allowed\n",
    .allowed = REQUESTS(1), .denied_connections = REQUESTS(0) },
  { .name = "php_fsockopen",
    .argv = { "@T", "run", "-r", "@R", "--", "php", "-r",
              "$f = @fsockopen('127.0.0.3', @P, $no, $text, 10);"
              " echo $f === false ? \"refused $no\\n\" : \"connected\\n\";" },
    .status = 0, .out = "refused 1\n", .denied_connections = REQUESTS(0) },
  { .name = "node_net_connect",
    .argv = { "@T", "run", "-r", "@R", "--", "node", "-e",
              "const net = require('net');"
              "net.connect(@P, '127.0.0.3')"
              ".on('connect', () => console.log('connected'))"
              ".on('error', e => console.log(e.code));" },
    .status = 0, .out = "EPERM\n", .denied_connections = REQUESTS(0) },
  { .name = "git_protocol_denied",
    .env = { "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0" },
    .argv = { "@T", "run", "-r", "@R", "--", "git", "clone", "-q",
              "git://127.0.0.3:@P/repo.git", "@D/clone" },
    .status = 128, .err_has = { "Operation not permitted" },
    .denied_connections = REQUESTS(0) },
  { .name = "git_ssh_denied",
    .env = { "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
             "GIT_SSH_COMMAND=ssh -F /dev/null -o BatchMode=yes" },
    .argv = { "@T", "run", "-r", "@R", "--", "git", "ls-remote",
              "ssh://git@127.0.0.3:@P/repo.git" },
    .status = 128, .err_has = { "Operation not permitted" },
    .denied_connections = REQUESTS(0) },
  /* Report-only lets the connection through and says so. */
  { .name = "own_socket_report_only",
    .argv = { "@T", "run", "-r", "@R", "--report-only", "--audit", "@A",
              "--", "/usr/bin/python3", "-c",
              "import socket\n"
              "socket.create_connection(('127.0.0.3', @P))\n"
              "print('connected')\n" },
    .status = 0, .out = "connected\n",
    .audit_has = { "\"decision\":\"deny\",\"enforced\":false,"
                   "\"addr\":\"127.0.0.3\"",
                   "\"check\":\"connect\"" },
    .denied_connections = REQUESTS(1) },
  /* --sockets curl: libcurl's sockets only, as before. */
  { .name = "sockets_curl_leaves_the_program_alone",
    .argv = { "@T", "run", "-r", "@R", "--sockets", "curl", "--",
              "/usr/bin/python3", "-c",
              "import socket\n"
              "socket.create_connection(('127.0.0.3', @P))\n"
              "print('connected')\n" },
    .status = 0, .out = "connected\n", .denied_connections = REQUESTS(1) },
  { .name = "sockets_from_the_environment",
    .env = { "CURLFENCE_SOCKETS=curl" },
    .argv = { "@T", "run", "-r", "@R", "--", "/usr/bin/python3", "-c",
              "import socket\n"
              "socket.create_connection(('127.0.0.3', @P))\n"
              "print('connected')\n" },
    .status = 0, .out = "connected\n", .denied_connections = REQUESTS(1) },
  { .name = "sockets_option_beats_the_environment",
    .env = { "CURLFENCE_SOCKETS=curl" },
    .argv = { "@T", "run", "-r", "@R", "--sockets", "all", "--",
              "/usr/bin/python3", "-c",
              "import errno, socket\n"
              "try:\n"
              "    socket.create_connection(('127.0.0.3', @P))\n"
              "    print('connected')\n"
              "except OSError as e:\n"
              "    print(errno.errorcode[e.errno])\n" },
    .status = 0, .out = "EPERM\n", .denied_connections = REQUESTS(0) },
  { .name = "sockets_bad_option",
    .argv = { "@T", "run", "-r", "@R", "--sockets", "some", "--", "true" },
    .status = 2, .err_has = { "--sockets \"some\" is not all or curl" } },
  { .name = "sockets_bad_environment",
    .env = { "CURLFENCE_SOCKETS=libcurl" },
    .argv = { "@T", "run", "-r", "@R", "--", "true" },
    .status = 2,
    .err_has = { "CURLFENCE_SOCKETS \"libcurl\" is not all or curl" } },
  /* Without run, a value the preload does not understand refuses every
   * connection, the program's own too. */
  { .name = "sockets_bad_value_refuses_everything",
    .env = { "LD_PRELOAD=@L", "CURLFENCE_RULES=@R",
             "CURLFENCE_SOCKETS=some" },
    .argv = { "/usr/bin/python3", "-c",
              "import errno, socket\n"
              "try:\n"
              "    socket.create_connection(('127.0.0.2', @P))\n"
              "    print('connected')\n"
              "except OSError as e:\n"
              "    print(errno.errorcode[e.errno])\n" },
    .status = 0, .out = "EPERM\n",
    .err = "curlfence: CURLFENCE_SOCKETS=\"some\" is not all or curl; "
           "every connection is refused\n",
    .allowed = REQUESTS(0) },
};

/* The letters after @ in the rows, in the order of the values expand()
 * is given. */
static const char row_keys[] = "23PTRADBL";

/* s with the placeholders of the rows replaced by values, in buf. */
static const char *expand(char *buf, size_t size, const char *s,
                          const char *const *values)
{
  size_t n = 0;

  for(; *s && n < size - 1; s++) {
    const char *key = s[0] == '@' && s[1] ? strchr(row_keys, s[1]) : NULL;

    if(key) {
      n += (size_t)snprintf(buf + n, size - n, "%s", values[key - row_keys]);
      s++;
    }
    else
      buf[n++] = *s;
  }
  ck_assert_msg(n < size - 1, "a row's text is too long: %.40s", buf);
  buf[n] = '\0';
  return buf;
}

#define ROW_SAYS(row, r) "%s: status %d\nstdout: %s\nstderr: %s", \
                         (row)->name, (r)->status, (r)->out, (r)->err

static void requests_are(const run_row *row, const char *which,
                         th_server *s, unsigned want)
{
  if(want)
    ck_assert_msg(th_requests(s) == want - 1, "%s: the %s server saw %u "
                  "requests, not %u", row->name, which, th_requests(s),
                  want - 1);
}

TU_SUITE_STATIC_ONLY("preload", NULL);
TU_CASE(tc_programs, "programs", 120, setup, teardown);

TU_LOOP(tc_programs, run_cases, 0,
        (int)(sizeof(run_rows) / sizeof(run_rows[0])))
{
  const run_row *row = &run_rows[_i];
  static char words[24][PATH_MAX + 256];
  char p[16], audit[PATH_MAX + 16], bin[PATH_MAX + 32], log[OUT_MAX];
  const char *const values[] = { url("127.0.0.2", ""), url("127.0.0.3", ""),
                                 p, tool, rules, audit, tmp, bin, preload };
  const char *env[4] = { NULL }, *argv[17] = { NULL };
  result *r = new_result();
  size_t i, w = 0;

  snprintf(p, sizeof(p), "%u", port);
  snprintf(audit, sizeof(audit), "%s/audit.jsonl", tmp);
  sibling(bin, sizeof(bin), "");
  bin[strlen(bin) - 1] = '\0';   /* its trailing slash */
  for(i = 0; i < 3 && row->env[i]; i++)
    env[i] = expand(words[w++], sizeof(words[0]), row->env[i], values);
  for(i = 0; i < 16 && row->argv[i]; i++)
    argv[i] = expand(words[w++], sizeof(words[0]), row->argv[i], values);
  guarded(r, env, argv);
  ck_assert_msg(r->status == row->status, ROW_SAYS(row, r));
  if(row->out)
    ck_assert_msg(!strcmp(r->out, row->out), ROW_SAYS(row, r));
  if(row->err)
    ck_assert_msg(!strcmp(r->err, expand(words[w], sizeof(words[0]),
                                         row->err, values)),
                  "%s: stderr: %s\nwant: %s", row->name, r->err, words[w]);
  for(i = 0; i < 3 && row->err_has[i]; i++)
    ck_assert_msg(strstr(r->err, row->err_has[i]) != NULL,
                  ROW_SAYS(row, r));
  if(row->err_lacks)
    ck_assert_msg(strstr(r->err, row->err_lacks) == NULL, ROW_SAYS(row, r));
  read_file(audit, log, sizeof(log));
  for(i = 0; i < 5 && row->audit_has[i]; i++) {
    const char *want = expand(words[w], sizeof(words[0]), row->audit_has[i],
                              values);

    ck_assert_msg(strstr(log, want) != NULL, "%s: no %s in %s", row->name,
                  want, log);
  }
  requests_are(row, "allowed", allowed, row->allowed);
  requests_are(row, "denied", denied, row->denied);
  if(row->denied_connections)
    ck_assert_msg(th_connections(denied) == row->denied_connections - 1,
                  "%s: the denied server accepted %u connections",
                  row->name, th_connections(denied));
  free(r);
}
END_TEST

/* ------------------------------------------------------------------ curl */

/* --metrics: the program's own counters, as a Prometheus textfile named
 * after its process id, written at exit with nothing left behind. */
TU_TEST(tc_programs, curl_metrics_textfile)
{
  result *r = new_result();
  char path[PATH_MAX + 32], pattern[PATH_MAX + 32];
  const char *argv[] = { tool, "run", "-r", rules, "--metrics", path, "--",
                         "curl", "-sS", url("127.0.0.2", "/x"),
                         url("127.0.0.3", "/y"), NULL };
  const char *check[] = {
    "python3", "test/metrics_check.py", NULL,
    "curlfence_decisions_total{decision=\"allow\",check=\"open\","
    "reason=\"rule\"}=1",
    "curlfence_decisions_total{decision=\"allow\",check=\"reused\","
    "reason=\"rule\"}=1",
    "curlfence_decisions_total{decision=\"deny\",check=\"open\","
    "reason=\"rule\"}=1",
    "curlfence_decisions_total{decision=\"deny\",check=\"reused\","
    "reason=\"rule\"}=0",
    NULL, NULL, "curlfence_policy_generation=1",
    "curlfence_policy_rules=2", NULL
  };
  char hit2[PATH_MAX + 128], hit3[PATH_MAX + 128];
  glob_t g;

  snprintf(path, sizeof(path), "%s/curl-%%p.prom", tmp);
  guarded(r, NULL, argv);
  ck_assert_msg(r->status == 7, SAYS(r));
  ck_assert_str_eq(r->out, "hello from allowed\n");
  ck_assert_uint_eq(th_requests(denied), 0);
  /* one file, of a process id, and no temporary file beside it */
  snprintf(pattern, sizeof(pattern), "%s/curl-*", tmp);
  ck_assert_int_eq(glob(pattern, 0, NULL, &g), 0);
  ck_assert_uint_eq(g.gl_pathc, 1);
  ck_assert_msg(strspn(g.gl_pathv[0] + strlen(tmp) + 6, "0123456789") ==
                strlen(g.gl_pathv[0] + strlen(tmp) + 6) - 5, "%s",
                g.gl_pathv[0]);
  check[2] = g.gl_pathv[0];
  snprintf(hit2, sizeof(hit2), "curlfence_rule_hits_total{file=\"%s\","
           "line=\"2\",rule=\"allow 127.0.0.2\"}=2", rules);
  snprintf(hit3, sizeof(hit3), "curlfence_rule_hits_total{file=\"%s\","
           "line=\"3\",rule=\"deny 127.0.0.3\"}=1", rules);
  check[7] = hit2;
  check[8] = hit3;
  run(r, NULL, check);
  ck_assert_msg(r->status == 0, SAYS(r));
  globfree(&g);
  free(r);
}
END_TEST

/* 20 URLs, even ones allowed, odd ones denied, 8 at a time: each transfer
 * reports its own exit code through --write-out. */
TU_TEST(tc_programs, curl_parallel_mixed)
{
  result *r = new_result();
  const char *argv[80] = { tool, "run", "-r", rules, "--",
                           "curl", "-s", "--parallel", "--parallel-max",
                           "8", "-w", "%{exitcode} %{url}\\n" };
  char urls[20][128], want[160], *line;
  int i, n = 12, ok = 0, refused = 0, lines = 0;

  for(i = 0; i < 20; i++) {
    snprintf(urls[i], sizeof(urls[i]), "http://127.0.0.%d:%u/p%d",
             i % 2 ? 3 : 2, port, i);
    argv[n++] = "-o";
    argv[n++] = "/dev/null";
    argv[n++] = urls[i];
  }
  argv[n] = NULL;
  guarded(r, NULL, argv);
  ck_assert_msg(r->status == 7, SAYS(r));
  for(i = 0; i < 20; i++) {
    snprintf(want, sizeof(want), "%d %s\n", i % 2 ? 7 : 0, urls[i]);
    ck_assert_msg(strstr(r->out, want) != NULL, "no \"%s\" in %s", want,
                  r->out);
  }
  for(line = r->out; (line = strchr(line, '\n')); line++)
    lines++;
  for(line = r->out; (line = strstr(line, "0 http://127.0.0.2:")); line++)
    ok++;
  for(line = r->out; (line = strstr(line, "7 http://127.0.0.3:")); line++)
    refused++;
  ck_assert_int_eq(lines, 20);
  ck_assert_int_eq(ok, 10);
  ck_assert_int_eq(refused, 10);
  ck_assert_uint_eq(th_requests(allowed), 10);
  ck_assert_uint_eq(th_requests(denied), 0);
  free(r);
}
END_TEST

/* --keep-proxy: the program's proxy is used, and the policy decides on
 * the proxy's address (allowed), not on the URL's host. */
TU_TEST(tc_programs, keep_proxy_goes_through_the_proxy)
{
  result *r = new_result();
  char proxy[128], target[256];
  const char *env[] = { proxy, NULL };
  const char *argv[] = { tool, "run", "-r", rules,
                         "--keep-proxy", "--", "curl", "-sS",
                         url("127.0.0.3", "/x"), NULL };

  snprintf(proxy, sizeof(proxy), "http_proxy=%s", url("127.0.0.2", "/"));
  guarded(r, env, argv);
  ck_assert_msg(r->status == 0, SAYS(r));
  ck_assert_str_eq(r->out, "hello from allowed\n");
  th_last_target(allowed, target, sizeof(target));
  ck_assert_str_eq(target, url("127.0.0.3", "/x"));
  ck_assert_uint_eq(th_requests(denied), 0);
  free(r);
}
END_TEST

TU_TEST(tc_programs, broken_rules_refuse_everything)
{
  result *r = new_result();
  char bad[PATH_MAX + 16], want[PATH_MAX + 64];
  const char *argv[] = { tool, "run", "-r", bad, "--",
                         "curl", "-s", url("127.0.0.2", "/x"), NULL };
  const char *nl;

  snprintf(bad, sizeof(bad), "%s/bad.rules", tmp);
  tu_write_text(bad, "allow 127.0.0.2\ndeny 10/8\n");
  guarded(r, NULL, argv);
  ck_assert_msg(r->status == 7, SAYS(r));
  snprintf(want, sizeof(want), "curlfence: %s:2:6: ", bad);
  ck_assert_msg(!strncmp(r->err, want, strlen(want)), SAYS(r));
  ck_assert_msg(strstr(r->err, "every connection is refused\n") != NULL,
                SAYS(r));
  nl = strchr(r->err, '\n');
  ck_assert_msg(nl && nl[1] == '\0', "more than one line: %s", r->err);
  ck_assert_uint_eq(th_requests(allowed), 0);
  free(r);
}
END_TEST

/* An LD_PRELOAD that already holds a library defining the libcurl
 * functions (here libcurl itself) must not take the calls ahead of the
 * preload library. */
TU_TEST(tc_programs, earlier_preload_entry_does_not_win)
{
  result *r = new_result();
  char var[PATH_MAX + 32];
  const char *env[] = { var, "ASAN_OPTIONS=verify_asan_link_order=0",
                        NULL };
  const char *argv[] = { tool, "run", "-r", rules, "--",
                         "curl", "-sS", url("127.0.0.3", "/x"), NULL };
  char *(*fn)(void) = curl_version;
  void *addr;
  Dl_info info;

  memcpy(&addr, &fn, sizeof(addr));
  ck_assert(dladdr(addr, &info) && info.dli_fname);
  snprintf(var, sizeof(var), "LD_PRELOAD=%s", info.dli_fname);
  guarded(r, env, argv);
  ck_assert_msg(r->status == 7, SAYS(r));
  ck_assert_str_eq(r->out, "");
  ck_assert_uint_eq(th_requests(denied), 0);
  free(r);
}
END_TEST

/* A plain LD_PRELOAD with libcurl listed first: the preload library
 * cannot take the calls, and says so on standard error at load. */
TU_TEST(tc_programs, earlier_preload_entry_is_reported)
{
  result *r = new_result();
  char var[2 * PATH_MAX + 64], rvar[PATH_MAX + 32];
  const char *env[] = { var, rvar, NULL };
  const char *argv[] = { "curl", "-sS", url("127.0.0.2", "/x"), NULL };
  char *(*fn)(void) = curl_version;
  void *addr;
  Dl_info info;

  memcpy(&addr, &fn, sizeof(addr));
  ck_assert(dladdr(addr, &info) && info.dli_fname);
  snprintf(var, sizeof(var), "LD_PRELOAD=%s:%s", info.dli_fname, preload);
  snprintf(rvar, sizeof(rvar), "CURLFENCE_RULES=%s", rules);
  run(r, env, argv);
  ck_assert_msg(r->status == 0, SAYS(r));
  ck_assert_msg(strstr(r->err, "curlfence: ") == r->err &&
                strstr(r->err, " defines curl_easy_init ahead of the preload "
                               "library") != NULL, SAYS(r));
  /* In the usual order, nothing is said. */
  snprintf(var, sizeof(var), "LD_PRELOAD=%s:%s", preload, info.dli_fname);
  run(r, env, argv);
  ck_assert_msg(r->status == 0 && r->err[0] == '\0', SAYS(r));
  free(r);
}
END_TEST

/* --allow-tftp: the UDP socket is decided by the rules, and a TFTP
 * download from the allowed address works; without it, the socket is
 * refused and the responder gets no request. */
TU_TEST(tc_programs, allow_tftp_lets_curl_fetch)
{
  result *r = new_result();
  char tftp[128];
  const char *with[] = { tool, "run", "-r", rules, "--allow-tftp", "--",
                         "curl", "-sS", "--max-time", "10", tftp, NULL };
  const char *without[] = { tool, "run", "-r", rules, "--",
                            "curl", "-sS", "--max-time", "10", tftp, NULL };
  tu_tftp t;

  tu_tftp_start(&t, "127.0.0.2");
  snprintf(tftp, sizeof(tftp), "tftp://127.0.0.2:%u/file", t.port);
  guarded(r, NULL, without);
  ck_assert_msg(r->status == 7, SAYS(r));
  ck_assert_int_eq(atomic_load(&t.requests), 0);
  guarded(r, NULL, with);
  ck_assert_msg(r->status == 0, SAYS(r));
  ck_assert_str_eq(r->out, "hello over udp\n");
  tu_tftp_stop(&t);
  ck_assert_int_eq(atomic_load(&t.requests), 1);
  ck_assert_int_eq(atomic_load(&t.acked), 1);
  free(r);
}
END_TEST

/* --allow-tftp lets the rules decide, it does not allow: a denied address
 * stays denied, by its rule. */
TU_TEST(tc_programs, allow_tftp_keeps_denials)
{
  result *r = new_result();
  char tftp[128], audit[PATH_MAX + 16], log[OUT_MAX];
  const char *argv[] = { tool, "run", "-r", rules, "--allow-tftp",
                         "--audit", audit, "--", "curl", "-sS",
                         "--max-time", "10", tftp, NULL };
  tu_tftp t;

  snprintf(audit, sizeof(audit), "%s/audit.jsonl", tmp);
  tu_tftp_start(&t, "127.0.0.3");
  snprintf(tftp, sizeof(tftp), "tftp://127.0.0.3:%u/file", t.port);
  guarded(r, NULL, argv);
  tu_tftp_stop(&t);
  ck_assert_msg(r->status == 7, SAYS(r));
  ck_assert_int_eq(atomic_load(&t.requests), 0);
  read_file(audit, log, sizeof(log));
  ck_assert_msg(strstr(log, "\"decision\":\"deny\"") != NULL &&
                strstr(log, "\"text\":\"deny 127.0.0.3\"") != NULL, "%s",
                log);
  free(r);
}
END_TEST

/* DNS-over-HTTPS runs on libcurl's internal handles, which no open-socket
 * check sees: by default the program's --doh-url is dropped and the DoH
 * server (here the denied one, which only counts the TLS attempt) is never
 * contacted.  With --keep-doh the URL is kept, and the DoH connection is
 * decided as one of the program's own sockets: refused, unless --sockets
 * curl leaves those alone.  The host name is one /etc/hosts maps to
 * loopback, so the system resolver sends nothing either. */
TU_TEST(tc_programs, keep_doh_reaches_the_doh_server)
{
  result *r = new_result();
  char name[256], target[512], doh[128];
  const char *without[] = { tool, "run", "-r", rules, "--", "curl", "-sS",
                            "--max-time", "10", "--doh-url", doh, target,
                            NULL };
  const char *with[] = { tool, "run", "-r", rules, "--keep-doh", "--",
                         "curl", "-sS", "--max-time", "10", "--doh-url", doh,
                         target, NULL };
  const char *curl_only[] = { tool, "run", "-r", rules, "--keep-doh",
                              "--sockets", "curl", "--", "curl", "-sS",
                              "--max-time", "10", "--doh-url", doh, target,
                              NULL };

  tu_loopback_hosts_name(name, sizeof(name));
  ck_assert_msg(name[0], "/etc/hosts names no loopback host but localhost");
  snprintf(target, sizeof(target), "http://%s:%u/x", name, port);
  snprintf(doh, sizeof(doh), "https://127.0.0.3:%u/dns-query", port);

  /* Resolved by /etc/hosts to a loopback address the rules deny. */
  guarded(r, NULL, without);
  ck_assert_msg(r->status == 7, SAYS(r));
  ck_assert_uint_eq(th_connections(denied), 0);

  /* The DoH connection is refused like any other socket to a denied
   * address: nothing resolves the name. */
  guarded(r, NULL, with);
  ck_assert_msg(r->status == 6, SAYS(r));
  ck_assert_uint_eq(th_connections(denied), 0);

  /* Only libcurl's sockets decided: the DoH server is reached (and,
   * speaking no TLS, resolves nothing). */
  guarded(r, NULL, curl_only);
  ck_assert_msg(r->status == 6, SAYS(r));
  ck_assert_uint_ge(th_connections(denied), 1);
  ck_assert_uint_eq(th_requests(allowed), 0);
  free(r);
}
END_TEST

/* --audit syslog: RFC 3164 messages with ident curlfence and facility
 * LOG_USER on the socket CURLFENCE_SYSLOG_SOCKET names, denials at
 * LOG_WARNING (<12>) and allows at LOG_INFO (<14>). */
TU_TEST(tc_programs, audit_to_syslog)
{
  result *r = new_result();
  struct sockaddr_un un;
  char var[PATH_MAX + 32], msg[4096], deny[4096] = "", allow[4096] = "";
  const char *env[] = { var, NULL };
  const char *argv[] = { tool, "run", "-r", rules, "--audit", "syslog",
                         "--", "curl", "-s", url("127.0.0.2", "/a"),
                         url("127.0.0.3", "/b"), NULL };
  ssize_t n;
  int fd, count = 0;

  memset(&un, 0, sizeof(un));
  un.sun_family = AF_UNIX;
  ck_assert_int_lt(snprintf(un.sun_path, sizeof(un.sun_path), "%s/log",
                            tmp), (int)sizeof(un.sun_path));
  fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(bind(fd, (struct sockaddr *)&un, sizeof(un)), 0);
  snprintf(var, sizeof(var), "CURLFENCE_SYSLOG_SOCKET=%s", un.sun_path);
  guarded(r, env, argv);
  ck_assert_msg(r->status == 7, SAYS(r));
  ck_assert_str_eq(r->out, "hello from allowed\n");
  while((n = recv(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT)) > 0) {
    msg[n] = '\0';
    count++;
    if(!strncmp(msg, "<12>", 4))
      snprintf(deny, sizeof(deny), "%s", msg);
    else if(!strncmp(msg, "<14>", 4))
      snprintf(allow, sizeof(allow), "%s", msg);
    ck_assert_msg(strstr(msg, " curlfence[") != NULL &&
                  strstr(msg, "]: {\"v\":") != NULL &&
                  msg[n - 1] == '}', "%s", msg);
  }
  close(fd);
  ck_assert_int_ge(count, 2);
  ck_assert_msg(strstr(deny, "\"decision\":\"deny\",\"enforced\":true,"
                             "\"addr\":\"127.0.0.3\"") != NULL &&
                strstr(deny, "\"text\":\"deny 127.0.0.3\"") != NULL,
                "deny: %s", deny);
  ck_assert_msg(strstr(allow, "\"decision\":\"allow\",\"enforced\":true,"
                              "\"addr\":\"127.0.0.2\"") != NULL,
                "allow: %s", allow);
  free(r);
}
END_TEST

/* A syslog socket nobody listens on fails closed, with one line. */
TU_TEST(tc_programs, audit_to_missing_syslog_refuses)
{
  result *r = new_result();
  char var[PATH_MAX + 32];
  const char *env[] = { var, NULL };
  const char *argv[] = { tool, "run", "-r", rules, "--audit", "syslog",
                         "--", "curl", "-sS", url("127.0.0.2", "/a"), NULL };

  snprintf(var, sizeof(var), "CURLFENCE_SYSLOG_SOCKET=%s/nolog", tmp);
  guarded(r, env, argv);
  ck_assert_msg(r->status == 7, SAYS(r));
  ck_assert_msg(!strncmp(r->err, "curlfence: audit: ", 18) &&
                strstr(r->err, "cannot connect to syslog") != NULL, SAYS(r));
  ck_assert_uint_eq(th_requests(allowed), 0);
  free(r);
}
END_TEST

/* A syslog reader that falls behind (here: one that never reads, with a
 * small buffer) makes the sink drop what does not fit, without holding up
 * the connections; the program's exit then says on standard error how
 * many events are missing from the trail, and that count and the messages
 * that did arrive add up to every decision. */
TU_TEST(tc_programs, audit_to_slow_syslog_reports_losses)
{
  /* More than the socket queues (net.unix.max_dgram_qlen, 10 by default)
   * and than the sender's buffer holds, whatever that limit is. */
  enum { N = 300 };
  result *r = new_result();
  struct sockaddr_un un;
  char var[PATH_MAX + 32], msg[4096], urls[N][64];
  const char *env[] = { var, NULL };
  const char *argv[10 + N] = { tool, "run", "-r", rules, "--audit", "syslog",
                              "--", "curl", "-s" };
  const char *line;
  unsigned long lost = 0;
  int fd, rcvbuf = 1, got = 0, i;
  ssize_t n;

  for(i = 0; i < N; i++) {
    snprintf(urls[i], sizeof(urls[i]), "http://127.0.0.3:%u/%d", port, i);
    argv[9 + i] = urls[i];
  }
  memset(&un, 0, sizeof(un));
  un.sun_family = AF_UNIX;
  ck_assert_int_lt(snprintf(un.sun_path, sizeof(un.sun_path), "%s/log",
                            tmp), (int)sizeof(un.sun_path));
  fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
                              sizeof(rcvbuf)), 0);
  ck_assert_int_eq(bind(fd, (struct sockaddr *)&un, sizeof(un)), 0);
  snprintf(var, sizeof(var), "CURLFENCE_SYSLOG_SOCKET=%s", un.sun_path);
  guarded(r, env, argv);
  ck_assert_msg(r->status == 7, SAYS(r));
  while((n = recv(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT)) > 0)
    got++;
  close(fd);
  line = strstr(r->err, "curlfence: audit trail incomplete: ");
  ck_assert_msg(line != NULL, SAYS(r));
  ck_assert_int_eq(sscanf(line, "curlfence: audit trail incomplete: %lu "
                          "events could not be written to syslog\n",
                          &lost), 1);
  ck_assert_msg(got + (int)lost == N, "%d received, %lu reported lost: %s",
                got, lost, r->err);
  ck_assert_int_gt(lost, 0);
  ck_assert_uint_eq(th_requests(denied), 0);
  free(r);
}
END_TEST

/* A process that ends with _exit() (Python's multiprocessing children do)
 * or replaces itself with exec never runs the exit report, and when no
 * line of its trail gets through, no "lost" field tells either: its lost
 * events vanished without a word.  The first loss is now said at once. */
TU_TEST(tc_programs, audit_loss_is_said_without_exit)
{
  result *r = new_result();
  char script[PATH_MAX + 16];
  const char *argv[] = { tool, "run", "-r", rules, "--audit", "/dev/full",
                         "--", "/usr/bin/python3", script,
                         url("127.0.0.3", "/x"), NULL };

  snprintf(script, sizeof(script), "%s/quit.py", tmp);
  tu_write_text(script,
             "import os, sys\n"
             "import pycurl\n"
             "c = pycurl.Curl()\n"
             "c.setopt(c.URL, sys.argv[1])\n"
             "try:\n"
             "    c.perform()\n"
             "except pycurl.error as e:\n"
             "    print('error', e.args[0])\n"
             "sys.stdout.flush()\n"
             "os._exit(0)\n");
  guarded(r, NULL, argv);
  ck_assert_msg(r->status == 0 && !strcmp(r->out, "error 7\n"), SAYS(r));
  ck_assert_msg(strstr(r->err, "curlfence: audit events are being lost: "
                               "one could not be written to /dev/full")
                != NULL, SAYS(r));
  ck_assert_uint_eq(th_connections(denied), 0);
  free(r);
}
END_TEST

/* The number of lines of text that are whole audit events with "lost":0. */
static int audit_lines(const char *text)
{
  const char *p = text, *end;
  int n = 0;

  for(; (end = strchr(p, '\n')) != NULL; p = end + 1)
    if(!strncmp(p, "{\"v\":4,", 7) && end[-1] == '}' &&
       memmem(p, (size_t)(end - p), ",\"lost\":0,", 10))
      n++;
  return n;
}

/* --audit /dev/stderr with standard error on a regular file (run() opens
 * it without O_APPEND, as a shell's 2> does): curl's message and the audit
 * line both survive whole, as they share the descriptor's offset. */
TU_TEST(tc_programs, audit_to_stderr_file)
{
  result *r = new_result();
  const char *argv[] = { tool, "run", "-r", rules, "--audit", "/dev/stderr",
                         "--", "curl", "-sS", url("127.0.0.3", "/b"),
                         NULL };

  guarded(r, NULL, argv);
  ck_assert_msg(r->status == 7, SAYS(r));
  ck_assert_msg(audit_lines(r->err) == 1 &&
                strstr(r->err, "\"decision\":\"deny\"") != NULL, SAYS(r));
  ck_assert_msg(strstr(r->err, "\ncurl: (7) ") != NULL ||
                !strncmp(r->err, "curl: (7) ", 10), SAYS(r));
  free(r);
}
END_TEST

/* --audit -: the lines go to the command's standard output, here a
 * regular file that also gets the body. */
TU_TEST(tc_programs, audit_to_stdout_dash)
{
  result *r = new_result();
  const char *argv[] = { tool, "run", "-r", rules, "--audit", "-", "--",
                         "curl", "-s", url("127.0.0.2", "/a"), NULL };

  guarded(r, NULL, argv);
  ck_assert_msg(r->status == 0, SAYS(r));
  /* open and reused */
  ck_assert_msg(audit_lines(r->out) == 2, SAYS(r));
  ck_assert_msg(strstr(r->out, "hello from allowed\n") != NULL, SAYS(r));
  free(r);
}
END_TEST

/* --watch: one process, one handle, the rules file replaced between two
 * transfers.  With the watcher, the second request (on the pooled
 * connection) is checked against the new rules and refused; without it,
 * the process keeps the rules it started with. */
static void watch_run(result *r, const char *watch, const char *wait_ms,
                      const char *next_rules, char *log, size_t size)
{
  char prog[PATH_MAX + 32], next[PATH_MAX + 16], audit[PATH_MAX + 16];
  const char *with[] = { tool, "run", "-r", rules, "--audit", audit,
                         "--watch", watch, "--", prog,
                         url("127.0.0.2", "/w"), rules, next, wait_ms,
                         NULL };
  const char *without[] = { tool, "run", "-r", rules, "--audit", audit,
                            "--", prog, url("127.0.0.2", "/w"), rules, next,
                            wait_ms, NULL };

  sibling(prog, sizeof(prog), "preload-watch");
  snprintf(next, sizeof(next), "%s/next.rules", tmp);
  snprintf(audit, sizeof(audit), "%s/watch.jsonl", tmp);
  tu_write_text(next, next_rules);
  unlink(audit);
  guarded(r, NULL, watch ? with : without);
  read_file(audit, log, size);
}

TU_TEST(tc_programs, watch_reloads_replaced_rules)
{
  result *r = new_result();
  char log[OUT_MAX], want[PATH_MAX + 128];

  watch_run(r, "10", "1000", "default deny\ndeny 127.0.0.2\n", log,
            sizeof(log));
  ck_assert_msg(r->status == 0, SAYS(r));
  ck_assert_msg(!strcmp(r->out, "first 0\nsecond 42\n"), SAYS(r));
  ck_assert_uint_eq(th_requests(allowed), 1);
  snprintf(want, sizeof(want), "\"rule\":{\"file\":\"%s\",\"line\":2,"
           "\"text\":\"deny 127.0.0.2\"}", rules);
  ck_assert_msg(strstr(log, "\"decision\":\"deny\",\"enforced\":true,"
                            "\"addr\":\"127.0.0.2\"") != NULL &&
                strstr(log, want) != NULL, "%s", log);
  free(r);
}
END_TEST

/* A replacement that does not load leaves the rules in force. */
TU_TEST(tc_programs, watch_keeps_rules_when_reload_fails)
{
  result *r = new_result();
  char log[OUT_MAX];

  watch_run(r, "10", "300", "default deny\ndeny 127.0.0\n", log,
            sizeof(log));
  ck_assert_msg(r->status == 0, SAYS(r));
  ck_assert_msg(!strcmp(r->out, "first 0\nsecond 0\n"), SAYS(r));
  ck_assert_uint_eq(th_requests(allowed), 2);
  ck_assert_msg(strstr(log, "\"decision\":\"deny\"") == NULL, "%s", log);
  free(r);
}
END_TEST

TU_TEST(tc_programs, no_watch_keeps_the_first_rules)
{
  result *r = new_result();
  char log[OUT_MAX];

  watch_run(r, NULL, "200", "default deny\ndeny 127.0.0.2\n", log,
            sizeof(log));
  ck_assert_msg(r->status == 0, SAYS(r));
  ck_assert_msg(!strcmp(r->out, "first 0\nsecond 0\n"), SAYS(r));
  ck_assert_uint_eq(th_requests(allowed), 2);
  ck_assert_msg(strstr(log, "\"decision\":\"deny\"") == NULL, "%s", log);
  free(r);
}
END_TEST

/* ------------------------------------------------------------------- git */

/* A bare repository with one commit under tmp/srv, served by both servers
 * over git's dumb HTTP protocol (plain files). */
static void make_repo(void)
{
  char srv[PATH_MAX + 8], bare[PATH_MAX + 32], work[PATH_MAX + 8];
  char file[PATH_MAX + 16];
  result *r = new_result();
  const char *env[] = { "GIT_CONFIG_NOSYSTEM=1", "GIT_AUTHOR_NAME=t",
                        "GIT_AUTHOR_EMAIL=t@example.org",
                        "GIT_COMMITTER_NAME=t",
                        "GIT_COMMITTER_EMAIL=t@example.org", NULL };
  const char *init[] = { "git", "init", "-q", "--bare", bare, NULL };
  const char *head[] = { "git", "-C", bare, "symbolic-ref", "HEAD",
                         "refs/heads/main", NULL };
  const char *winit[] = { "git", "init", "-q", work, NULL };
  const char *add[] = { "git", "-C", work, "add", "README", NULL };
  const char *commit[] = { "git", "-C", work, "commit", "-qm", "one", NULL };
  const char *push[] = { "git", "-C", work, "push", "-q", bare,
                         "HEAD:refs/heads/main", NULL };
  const char *info[] = { "git", "-C", bare, "update-server-info", NULL };
  const char *const *steps[] = { init, head, winit, add, commit, push, info };
  size_t i;

  snprintf(srv, sizeof(srv), "%s/srv", tmp);
  snprintf(bare, sizeof(bare), "%s/repo.git", srv);
  snprintf(work, sizeof(work), "%s/work", tmp);
  ck_assert_int_eq(mkdir(srv, 0700), 0);
  ck_assert_int_eq(mkdir(work, 0700), 0);
  snprintf(file, sizeof(file), "%s/README", work);
  tu_write_text(file, "served over dumb HTTP\n");
  for(i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
    run(r, env, steps[i]);
    ck_assert_msg(r->status == 0, "git %s: status %d\nstdout: %s\n"
                  "stderr: %s", steps[i][1], r->status, r->out, r->err);
  }
  th_set_root(allowed, srv);
  th_set_root(denied, srv);
  free(r);
}

TU_TEST(tc_programs, git_clone_denied_host)
{
  result *r = new_result();
  char dest[PATH_MAX + 8];
  const char *env[] = { "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
                        NULL };
  const char *argv[] = { tool, "run", "-r", rules, "--",
                         "git", "clone", "-q", url("127.0.0.3", "/repo.git"),
                         dest, NULL };

  make_repo();
  snprintf(dest, sizeof(dest), "%s/clone", tmp);
  guarded(r, env, argv);
  ck_assert_msg(r->status == 128, SAYS(r));
  ck_assert_msg(strstr(r->err, "127.0.0.3") != NULL, SAYS(r));
  ck_assert_uint_eq(th_requests(denied), 0);
  free(r);
}
END_TEST

TU_TEST(tc_programs, git_clone_allowed_host)
{
  result *r = new_result();
  char dest[PATH_MAX + 8], file[PATH_MAX + 16], text[256];
  const char *env[] = { "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
                        NULL };
  const char *argv[] = { tool, "run", "-r", rules, "--",
                         "git", "clone", "-q", url("127.0.0.2", "/repo.git"),
                         dest, NULL };

  make_repo();
  snprintf(dest, sizeof(dest), "%s/clone", tmp);
  guarded(r, env, argv);
  ck_assert_msg(r->status == 0, SAYS(r));
  snprintf(file, sizeof(file), "%s/README", dest);
  read_file(file, text, sizeof(text));
  ck_assert_str_eq(text, "served over dumb HTTP\n");
  ck_assert_uint_gt(th_requests(allowed), 0);
  free(r);
}
END_TEST

/* ------------------------------------------------ the program's sockets */

/* The lines of the audit file path holding needle. */
static unsigned audit_count(const char *path, const char *needle)
{
  char log[OUT_MAX];
  const char *p;
  unsigned n = 0;

  read_file(path, log, sizeof(log));
  for(p = log; (p = strstr(p, needle)) != NULL; p++)
    n++;
  return n;
}

/* libcurl's sockets are decided once, by the open-socket check: its
 * connect() is not decided again.  An allowed transfer gives its open and
 * reused events and no connect event; a denied one a single event. */
TU_TEST(tc_programs, curl_connection_decided_once)
{
  result *r = new_result();
  char audit[PATH_MAX + 16];
  const char *ok[] = { tool, "run", "-r", rules, "--audit", audit, "--",
                       "curl", "-sS", url("127.0.0.2", "/x"), NULL };
  const char *no[] = { tool, "run", "-r", rules, "--audit", audit, "--",
                       "curl", "-sS", url("127.0.0.3", "/x"), NULL };

  snprintf(audit, sizeof(audit), "%s/audit.jsonl", tmp);
  guarded(r, NULL, ok);
  ck_assert_msg(r->status == 0, SAYS(r));
  ck_assert_uint_eq(audit_count(audit, "\"v\":"), 2);
  ck_assert_uint_eq(audit_count(audit, "\"check\":\"open\""), 1);
  ck_assert_uint_eq(audit_count(audit, "\"check\":\"reused\""), 1);
  ck_assert_int_eq(unlink(audit), 0);
  guarded(r, NULL, no);
  ck_assert_msg(r->status == 7, SAYS(r));
  ck_assert_uint_eq(audit_count(audit, "\"v\":"), 1);
  ck_assert_uint_eq(audit_count(audit, "\"check\":\"open\""), 1);
  ck_assert_uint_eq(th_connections(denied), 0);
  free(r);
}
END_TEST

/* urllib by name: localhost is 127.0.0.1 (and ::1), which the suite's
 * rules deny by default; a listener there must see nothing.  Only where
 * /etc/hosts maps it, so the system resolver sends nothing. */
TU_TEST(tc_programs, python_urllib_localhost)
{
  result *r = new_result();
  th_server *local;
  char u[128], hosts[4096];
  const char *argv[] = { tool, "run", "-r", rules, "--", "/usr/bin/python3",
                         "-c",
                         "import sys, urllib.request\n"
                         "try:\n"
                         "    urllib.request.urlopen(sys.argv[1], "
                         "timeout=30)\n"
                         "    print('fetched')\n"
                         "except OSError as e:\n"
                         "    print(getattr(e, 'reason', e))\n",
                         u, NULL };

  read_file("/etc/hosts", hosts, sizeof(hosts));
  if(!strstr(hosts, "127.0.0.1") || !strstr(hosts, "localhost"))
    return;
  local = th_start("127.0.0.1", "local");
  ck_assert_ptr_nonnull(local);
  snprintf(u, sizeof(u), "http://localhost:%u/x", th_port(local));
  guarded(r, NULL, argv);
  ck_assert_msg(r->status == 0 &&
                !strcmp(r->out, "[Errno 1] Operation not permitted\n"),
                SAYS(r));
  ck_assert_uint_eq(th_connections(local), 0);
  th_stop(local);
  free(r);
}
END_TEST

static void git_steps(const char *const *const *steps, size_t n)
{
  result *r = new_result();
  const char *env[] = { "GIT_CONFIG_NOSYSTEM=1", "GIT_AUTHOR_NAME=t",
                        "GIT_AUTHOR_EMAIL=t@example.org",
                        "GIT_COMMITTER_NAME=t",
                        "GIT_COMMITTER_EMAIL=t@example.org", NULL };
  size_t i;

  for(i = 0; i < n; i++) {
    run(r, env, steps[i]);
    ck_assert_msg(r->status == 0, "git %s: status %d\nstdout: %s\n"
                  "stderr: %s", steps[i][1], r->status, r->out, r->err);
  }
  free(r);
}

/* An allowed server's superproject whose .gitmodules names a git://
 * submodule on the denied host: git's own git:// code never goes through
 * libcurl.  The superproject is cloned, the submodule is not, and the
 * denied server sees no connection. */
TU_TEST(tc_programs, git_submodule_on_denied_host)
{
  result *r = new_result();
  char super[PATH_MAX + 8], bare[PATH_MAX + 32], work[PATH_MAX + 8];
  char mods[PATH_MAX + 32], text[512], cache[128], dest[PATH_MAX + 8];
  const char *env[] = { "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
                        NULL };
  const char *sha[] = { "git", "-C", work, "rev-parse", "HEAD", NULL };
  const char *init[] = { "git", "init", "-q", super, NULL };
  const char *add[] = { "git", "-C", super, "add", ".gitmodules", NULL };
  const char *link[] = { "git", "-C", super, "update-index", "--add",
                         "--cacheinfo", cache, NULL };
  const char *commit[] = { "git", "-C", super, "commit", "-qm", "super",
                           NULL };
  const char *binit[] = { "git", "init", "-q", "--bare", bare, NULL };
  const char *push[] = { "git", "-C", super, "push", "-q", bare,
                         "HEAD:refs/heads/main", NULL };
  const char *head[] = { "git", "-C", bare, "symbolic-ref", "HEAD",
                         "refs/heads/main", NULL };
  const char *info[] = { "git", "-C", bare, "update-server-info", NULL };
  const char *const *steps[] = { init, add, link, commit, binit, push, head,
                                 info };
  const char *clone[] = { tool, "run", "-r", rules, "--", "git", "clone",
                          "-q", "--recurse-submodules",
                          url("127.0.0.2", "/super.git"), dest, NULL };
  struct stat st;

  make_repo();
  snprintf(work, sizeof(work), "%s/work", tmp);
  snprintf(super, sizeof(super), "%s/super", tmp);
  snprintf(bare, sizeof(bare), "%s/srv/super.git", tmp);
  snprintf(dest, sizeof(dest), "%s/clone", tmp);
  run(r, NULL, sha);
  ck_assert_msg(r->status == 0 && strlen(r->out) == 41, SAYS(r));
  r->out[40] = '\0';
  snprintf(cache, sizeof(cache), "160000,%.40s,sub", r->out);
  git_steps(steps, 1);
  snprintf(mods, sizeof(mods), "%s/.gitmodules", super);
  snprintf(text, sizeof(text), "[submodule \"sub\"]\n\tpath = sub\n"
           "\turl = git://127.0.0.3:%u/sub.git\n", port);
  tu_write_text(mods, text);
  git_steps(steps + 1, sizeof(steps) / sizeof(steps[0]) - 1);

  guarded(r, env, clone);
  ck_assert_msg(r->status != 0, SAYS(r));
  ck_assert_msg(strstr(r->err, "127.0.0.3") != NULL, SAYS(r));
  snprintf(mods, sizeof(mods), "%s/.gitmodules", dest);
  ck_assert_msg(stat(mods, &st) == 0, "the superproject was not cloned: "
                SAYS(r));
  ck_assert_uint_gt(th_requests(allowed), 0);
  ck_assert_uint_eq(th_connections(denied), 0);
  free(r);
}
END_TEST

/* The resolver exemption, in a mount and network namespace of its own
 * (test/preload_resolver.sh): port 53 on the name server resolv.conf
 * names is open, on a denied address, to libc's resolver, Node's and a
 * program's own query; the same address on another port, another host's
 * port 53, and the old server once resolv.conf changed are refused. */
TU_TEST(tc_programs, resolver_exemption)
{
  result *r = new_result();
  char dir[PATH_MAX + 16];
  const char *argv[] = { "unshare", "-m", "-n", "sh",
                         "test/preload_resolver.sh", tool, rules, dir,
                         NULL };

  /* New namespaces need root (CI runs the suite as root; a package
   * build may not). */
  if(geteuid() != 0) {
    fputs("resolver_exemption: skipped, not root\n", stderr);
    free(r);
    return;
  }
  snprintf(dir, sizeof(dir), "%s/resolver", tmp);
  ck_assert_int_eq(mkdir(dir, 0700), 0);
  run(r, NULL, argv);
  ck_assert_msg(r->status == 0 &&
                !strcmp(r->out, "getaddrinfo 127.0.0.2\nnode 127.0.0.2\n"
                                "query 127.0.0.2\nother port EPERM\n"
                                "other server EPERM\nchanged EPERM\n"),
                "(unshare needs root) " SAYS(r));
  free(r);
}
END_TEST

/* ---------------------------------------------------------------- pycurl */

/* Debian's python3 by its path: PATH may put another Python, one without
 * pycurl, first.  With "own", the program sets its own
 * OPENSOCKETFUNCTION, which records each address it is asked to open. */
static void pycurl_run(result *r, int own)
{
  char script[PATH_MAX + 16];
  const char *argv[] = { tool, "run", "-r", rules, "--",
                         "/usr/bin/python3", script, own ? "own" : "plain",
                         url("127.0.0.3", "/x"), url("127.0.0.2", "/x"),
                         NULL };

  snprintf(script, sizeof(script), "%s/fetch.py", tmp);
  tu_write_text(script,
             "import io, socket, sys\n"
             "import pycurl\n"
             "seen = []\n"
             "def opensocket(purpose, a):\n"
             "    seen.append(a[3][0])\n"
             "    return socket.socket(a[0], a[1], a[2])\n"
             "for u in sys.argv[2:]:\n"
             "    c = pycurl.Curl()\n"
             "    b = io.BytesIO()\n"
             "    c.setopt(c.URL, u)\n"
             "    c.setopt(c.WRITEDATA, b)\n"
             "    if sys.argv[1] == 'own':\n"
             "        c.setopt(c.OPENSOCKETFUNCTION, opensocket)\n"
             "    try:\n"
             "        c.perform()\n"
             "        print('ok', b.getvalue().decode().strip())\n"
             "    except pycurl.error as e:\n"
             "        print('error', e.args[0])\n"
             "    c.close()\n"
             "print('opened', ','.join(seen))\n");
  guarded(r, NULL, argv);
}

TU_TEST(tc_programs, pycurl_denied)
{
  result *r = new_result();

  pycurl_run(r, 0);
  ck_assert_msg(r->status == 0, SAYS(r));
  ck_assert_str_eq(r->out, "error 7\nok hello from allowed\nopened \n");
  ck_assert_uint_eq(th_requests(denied), 0);
  free(r);
}
END_TEST

TU_TEST(tc_programs, pycurl_own_opensocket_runs_only_when_allowed)
{
  result *r = new_result();

  pycurl_run(r, 1);
  ck_assert_msg(r->status == 0, SAYS(r));
  ck_assert_str_eq(r->out,
                   "error 7\nok hello from allowed\nopened 127.0.0.2\n");
  ck_assert_uint_eq(th_requests(denied), 0);
  free(r);
}
END_TEST

/* --------------------------------------------------------- test programs */

/* BUILD/test/NAME, next to this program. */
static void sibling(char *buf, size_t size, const char *name)
{
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

  ck_assert_int_gt(n, 0);
  self[n] = '\0';
  *strrchr(self, '/') = '\0';
  snprintf(buf, size, "%s/%s", self, name);
}

/* A program that tries to get its handles around the preload library
 * (test/prog/preload_odd.c): every way fails, the denied server sees
 * nothing, a unix server under the rules' implicit "unix deny" neither,
 * and the program's own open callback is never asked for anything but
 * loopback. */
TU_TEST(tc_programs, odd_program_stays_guarded)
{
  static const char *const want[] = {
    "open-null 7\n", "own-open 7\n", "rewrite 7\n", "reset 7\n",
    "duphandle 7\n",
    "allowed 0\n", "proxy-later 7\n", "pre-proxy 7\n",
    "connect-only 7\n", "multi 7\n", "share-allowed 0\n", "share 7\n",
    "connect-to 7\n", "redirect 7\n", "unix 7\n", "dlvsym-default 7\n",
    "dlvsym-next 7\n", "dlvsym-global 7\n", "libcurl-init 7\n",
    "elsewhere 0\n"
  };
  result *r = new_result();
  char prog[PATH_MAX + 32], sock[PATH_MAX + 16], to[128];
  const char *env[] = { "ASAN_OPTIONS=verify_asan_link_order=0", NULL };
  const char *argv[] = { tool, "run", "-r", rules, "--", prog,
                         url("127.0.0.2", "/"), url("127.0.0.3", "/"), to,
                         sock, NULL };
  th_server *unix_srv;
  size_t i;

  sibling(prog, sizeof(prog), "preload-odd");
  snprintf(sock, sizeof(sock), "%s/u.sock", tmp);
  snprintf(to, sizeof(to), "127.0.0.2:%u:127.0.0.3:%u", port, port);
  unix_srv = th_start_unix(sock, "unix");
  ck_assert_ptr_nonnull(unix_srv);
  guarded(r, env, argv);
  ck_assert_msg(r->status == 0, SAYS(r));
  for(i = 0; i < sizeof(want) / sizeof(want[0]); i++)
    ck_assert_msg(strstr(r->out, want[i]) != NULL, "no \"%s\" in %s",
                  want[i], r->out);
  ck_assert_msg(strstr(r->out, "send 0\n") == NULL, SAYS(r));
  ck_assert_uint_eq(th_requests(denied), 0);
  ck_assert_uint_eq(th_connections(denied), 0);
  ck_assert_uint_eq(th_connections(unix_srv), 0);
  th_stop(unix_srv);
  free(r);
}
END_TEST

/* ------------------------------------------------------- fork and memory */

/* Long runs, in their own case so that they can be run alone
 * (CK_RUN_CASE=robustness). */
TU_CASE(tc_robustness, "robustness", 300, setup, teardown);

/* fork() while another thread makes, sets up and frees handles, and while
 * a thread makes a process's first handle (test/prog/preload_fork.c):
 * every child gets its handle and has the denied URL refused.  A lock held
 * by another thread at the fork stayed held in the child, which then hung
 * in curl_easy_init(). */
TU_TEST(tc_robustness, fork_while_handles_are_busy)
{
  result *r = new_result();
  char prog[PATH_MAX + 32];
  const char *argv[] = { tool, "run", "-r", rules, "--", prog,
                         url("127.0.0.3", "/f"), NULL };

  sibling(prog, sizeof(prog), "preload-fork");
  guarded(r, NULL, argv);
  ck_assert_msg(r->status == 0, SAYS(r));
  ck_assert_str_eq(r->out, "forks 300 stuck 0 wrong 0\n");
  ck_assert_uint_eq(th_requests(denied), 0);
  free(r);
}
END_TEST

/* test/prog/preload_memory.c's growth in KB over cycles of mode, under the
 * preload library or without it. */
static long memory_growth(const char *mode, int preloaded)
{
  result *r = new_result();
  char prog[PATH_MAX + 32];
  const char *plain[] = { prog, mode, "100000", url("127.0.0.2", "/m"),
                          NULL };
  const char *under[] = { tool, "run", "-r", rules, "--", prog, mode,
                          "100000", url("127.0.0.2", "/m"), NULL };
  long kb = -1;

  sibling(prog, sizeof(prog), "preload-memory");
  if(preloaded)
    guarded(r, NULL, under);
  else
    run(r, NULL, plain);
  ck_assert_msg(r->status == 0, SAYS(r));
  ck_assert_msg(sscanf(r->out, "grew %ld", &kb) == 1, SAYS(r));
  free(r);
  return kb;
}

/* libcurl makes a handle of its own for every multi handle, and
 * curl_easy_perform() a multi handle, through curl_easy_init(), and frees
 * them itself: the preload library kept a record of each, +9.5 MB over
 * these 100,000 transfers and +18.7 MB over 200,000 multi handles.  The
 * resident set now grows as much as without it, give or take 1 MB. */
TU_TEST(tc_robustness, memory_flat_over_easy_transfers)
{
  long with, without;

  /* Under memcheck (make valgrind) the suite's server, in this process,
   * would take most of an hour over the 200,000 requests. */
  if(tu_quick())
    return;
  with = memory_growth("easy", 1);
  without = memory_growth("easy", 0);

  ck_assert_msg(with - without <= 1024, "grew %ld KB under the preload "
                "library, %ld KB without", with, without);
  ck_assert_uint_eq(th_requests(allowed), 200000);
}
END_TEST

TU_TEST(tc_robustness, memory_flat_over_multi_handles)
{
  long with = memory_growth("multi", 1), without = memory_growth("multi", 0);

  ck_assert_msg(with - without <= 1024, "grew %ld KB under the preload "
                "library, %ld KB without", with, without);
}
END_TEST

/* ----------------------------------------------------------------- tool */

TU_TEST(tc_programs, run_missing_command)
{
  result *r = new_result();
  const char *argv[] = { tool, "run", "--",
                         "curlfence-no-such-command", NULL };

  run(r, NULL, argv);
  ck_assert_msg(r->status == 127, SAYS(r));
  ck_assert_msg(strstr(r->err, "command not found") != NULL, SAYS(r));
  free(r);
}
END_TEST

/* ------------------------------------------- commands run will not start */

/* Every refusal: status 126 and one line on stderr naming the command
 * (and the file at fault) and the reason. */
static void refused(const result *r, const char *who, const char *why)
{
  const char *nl = strchr(r->err, '\n');

  ck_assert_msg(r->status == 126, SAYS(r));
  ck_assert_msg(!strncmp(r->err, "curlfence: ", 11) &&
                strstr(r->err, who) != NULL && strstr(r->err, why) != NULL,
                "wanted \"%s\" and \"%s\": status %d, stderr: %s", who, why,
                r->status, r->err);
  ck_assert_msg(nl && nl[1] == '\0', "more than one line: %s", r->err);
}

/* The program PATH finds for name, in buf. */
static void in_path(char *buf, size_t size, const char *name)
{
  const char *p = getenv("PATH"), *end;

  for(; p && *p; p = *end ? end + 1 : end) {
    end = strchr(p, ':');
    if(!end)
      end = p + strlen(p);
    snprintf(buf, size, "%.*s/%s", (int)(end - p), p, name);
    if(access(buf, X_OK) == 0)
      return;
  }
  ck_abort_msg("no %s in PATH", name);
}

/* A copy of curl at tmp/name, mode mode. */
static void copy_curl(char *buf, size_t size, const char *name,
                      mode_t mode)
{
  char curl[PATH_MAX + 16];
  const char *argv[] = { "cp", curl, buf, NULL };
  result *r = new_result();

  in_path(curl, sizeof(curl), "curl");
  snprintf(buf, size, "%s/%s", tmp, name);
  run(r, NULL, argv);
  ck_assert_msg(r->status == 0, SAYS(r));
  ck_assert_int_eq(chmod(buf, mode), 0);
  free(r);
}

/* The loader runs a program with file capabilities in secure-execution
 * mode, where it ignores LD_PRELOAD (for a user other than root): a copy
 * of curl with cap_net_bind_service reached the denied server.  It is
 * refused, as set-user-ID programs are, and never started. */
TU_TEST(tc_programs, run_refuses_secure_execution)
{
  result *r = new_result();
  char capcurl[PATH_MAX + 16], suid[PATH_MAX + 16];
  const char *cap[] = { tool, "run", "-r", rules, "--", capcurl, "-sS",
                        url("127.0.0.3", "/x"), NULL };
  const char *uid[] = { tool, "run", "-r", rules, "--", suid, "-sS",
                        url("127.0.0.3", "/x"), NULL };
  /* struct vfs_cap_data, revision 2: cap_net_bind_service (10) permitted
   * and effective */
  const unsigned char blob[20] = { 1, 0, 0, 2, 0, 4, 0, 0 };

  copy_curl(capcurl, sizeof(capcurl), "capcurl", 0755);
  if(setxattr(capcurl, "security.capability", blob, sizeof(blob), 0)) {
    /* only root (CAP_SETFCAP) may set them */
    fprintf(stderr, "run_refuses_secure_execution: file capabilities not "
            "tested: %s\n", strerror(errno));
  }
  else {
    run(r, NULL, cap);
    refused(r, capcurl, "has file capabilities (security.capability)");
  }
  copy_curl(suid, sizeof(suid), "suidcurl", 04755);
  run(r, NULL, uid);
  refused(r, suid, "is set-user-ID or set-group-ID");
  ck_assert_uint_eq(th_connections(denied), 0);
  free(r);
}
END_TEST

/* No loader runs in a statically linked program, so nothing loads the
 * preload library: it is refused before it runs, whether named directly,
 * as a #! interpreter, through env in a #! line (found in PATH), or
 * through env as the command.  The program would create the marker. */
TU_TEST(tc_programs, run_refuses_static_programs)
{
  result *r = new_result();
  char prog[PATH_MAX + 32], dir[PATH_MAX + 32], mark[PATH_MAX + 16];
  char direct[PATH_MAX + 16], viaenv[PATH_MAX + 16], text[PATH_MAX + 64];
  char pathvar[2 * PATH_MAX + 64];
  const char *env[] = { pathvar, NULL };
  const char *a1[] = { tool, "run", "--", prog, mark, NULL };
  const char *a2[] = { tool, "run", "--", direct, mark, NULL };
  const char *a3[] = { tool, "run", "--", viaenv, mark, NULL };
  const char *a4[] = { tool, "run", "--", "env", "A=1", "marker-static",
                       mark, NULL };
  const char *const *argvs[] = { a1, a2, a3, a4 };
  const char *who[] = { prog, direct, viaenv, "env" };
  struct stat st;
  size_t i;

  sibling(prog, sizeof(prog), "marker-static");
  snprintf(dir, sizeof(dir), "%s", prog);
  *strrchr(dir, '/') = '\0';
  snprintf(pathvar, sizeof(pathvar), "PATH=%s:%s", dir, getenv("PATH"));
  snprintf(mark, sizeof(mark), "%s/ran", tmp);
  snprintf(direct, sizeof(direct), "%s/direct.sh", tmp);
  snprintf(text, sizeof(text), "#!%s\n", prog);
  tu_write_text(direct, text);
  snprintf(viaenv, sizeof(viaenv), "%s/env.sh", tmp);
  tu_write_text(viaenv, "#! /usr/bin/env  marker-static \n");
  ck_assert_int_eq(chmod(direct, 0755), 0);
  ck_assert_int_eq(chmod(viaenv, 0755), 0);
  for(i = 0; i < sizeof(argvs) / sizeof(argvs[0]); i++) {
    run(r, env, argvs[i]);
    refused(r, who[i], i ? "marker-static, which is statically linked"
                         : "marker-static is statically linked");
    ck_assert_msg(stat(mark, &st) != 0, "it ran: %s", argvs[i][3]);
  }
  /* The same program, run directly, does create it. */
  run(r, env, a1 + 3);
  ck_assert_msg(r->status == 0 && stat(mark, &st) == 0, SAYS(r));
  free(r);
}
END_TEST

/* #! chains: five scripts in a row end in a program the kernel runs (and
 * the preload library guards); a sixth is refused, as the kernel would. */
TU_TEST(tc_programs, run_follows_script_chains)
{
  result *r = new_result();
  char name[6][PATH_MAX + 16], text[2 * PATH_MAX];
  const char *ok[] = { tool, "run", "-r", rules, "--", name[4], NULL };
  const char *deep[] = { tool, "run", "-r", rules, "--", name[5], NULL };
  int i;

  for(i = 0; i < 6; i++) {
    snprintf(name[i], sizeof(name[i]), "%s/s%d", tmp, i);
    if(i == 0)
      snprintf(text, sizeof(text), "#!/bin/sh\nexec curl -sS %s\n",
               url("127.0.0.3", "/s"));
    else
      snprintf(text, sizeof(text), "#!%s\n", name[i - 1]);
    tu_write_text(name[i], text);
    ck_assert_int_eq(chmod(name[i], 0755), 0);
  }
  run(r, NULL, ok);
  ck_assert_msg(r->status == 7, SAYS(r));
  run(r, NULL, deep);
  refused(r, name[5], "has more than 5 #! scripts in a row");
  ck_assert_uint_eq(th_connections(denied), 0);
  free(r);
}
END_TEST

/* The ELF header and the one program header, a PT_INTERP naming interp
 * (filesz bytes), into buf: the same for either class but for the types. */
#define ELF_HEADERS(Ehdr, Phdr, Half, cls, type, machine, interp, filesz) \
  do {                                                                    \
    Ehdr eh;                                                              \
    Phdr ph;                                                              \
                                                                          \
    memset(&eh, 0, sizeof(eh));                                           \
    memset(&ph, 0, sizeof(ph));                                           \
    memcpy(eh.e_ident, ELFMAG, SELFMAG);                                  \
    eh.e_ident[EI_CLASS] = cls;                                           \
    eh.e_ident[EI_DATA] = ELFDATA2LSB;                                    \
    eh.e_ident[EI_VERSION] = EV_CURRENT;                                  \
    eh.e_type = type;                                                     \
    eh.e_machine = (Half)(machine);                                       \
    eh.e_version = EV_CURRENT;                                            \
    eh.e_phoff = sizeof(eh);                                              \
    eh.e_ehsize = sizeof(eh);                                             \
    eh.e_phentsize = sizeof(ph);                                          \
    eh.e_phnum = 1;                                                       \
    ph.p_type = PT_INTERP;                                                \
    ph.p_offset = sizeof(eh) + sizeof(ph);                                \
    ph.p_filesz = filesz;                                                 \
    memcpy(buf, &eh, sizeof(eh));                                         \
    memcpy(buf + sizeof(eh), &ph, sizeof(ph));                            \
    memcpy(buf + ph.p_offset, interp, sizeof(interp));                    \
  } while(0)

/* An ELF program of the given class and machine with a program
 * interpreter, otherwise empty: what the kernel looks at first. */
static void craft_elf(const char *path, int cls, unsigned machine)
{
  unsigned char buf[256];
  FILE *f;

  memset(buf, 0, sizeof(buf));
  if(cls == ELFCLASS32)
    ELF_HEADERS(Elf32_Ehdr, Elf32_Phdr, Elf32_Half, ELFCLASS32, ET_EXEC,
                machine, "/lib/ld-linux.so.2", 19);
  else
    ELF_HEADERS(Elf64_Ehdr, Elf64_Phdr, Elf64_Half, ELFCLASS64, ET_DYN,
                machine, "/lib/ld-linux-aarch64.so.1", 28);
  f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(buf, 1, sizeof(buf), f), sizeof(buf));
  ck_assert_int_eq(fclose(f), 0);
  ck_assert_int_eq(chmod(path, 0755), 0);
}

/* The preload library is built for this build's programs: a program for
 * another word size or machine is refused before exec, with what it is.
 * A preload path with $LIB takes the library built for the program. */
TU_TEST(tc_programs, run_refuses_other_architectures)
{
  result *r = new_result();
  char p32[PATH_MAX + 16], arm[PATH_MAX + 16], lib[PATH_MAX + 64];
  char dir[PATH_MAX + 16], var[PATH_MAX + 64];
  const char *env[] = { var, NULL };
  const char *a32[] = { tool, "run", "--", p32, NULL };
  const char *aarm[] = { tool, "run", "--", arm, NULL };
  const char *acurl[] = { tool, "run", "-r", rules, "--", "curl", "-sS",
                          url("127.0.0.3", "/x"), NULL };

  snprintf(p32, sizeof(p32), "%s/prog32", tmp);
  snprintf(arm, sizeof(arm), "%s/progarm", tmp);
  craft_elf(p32, ELFCLASS32, EM_386);
  craft_elf(arm, ELFCLASS64, EM_AARCH64);
  run(r, NULL, a32);
  refused(r, p32, "is a 32-bit i386 program: the preload library (");
  run(r, NULL, aarm);
  refused(r, arm, "is a 64-bit arm64 program: the preload library (");

  /* tmp/lib64/libcurlfence-preload.so is this build's library */
  snprintf(dir, sizeof(dir), "%s/lib64", tmp);
  ck_assert_int_eq(mkdir(dir, 0700), 0);
  snprintf(lib, sizeof(lib), "%s/libcurlfence-preload.so", dir);
  ck_assert_int_eq(symlink(preload, lib), 0);
  snprintf(var, sizeof(var), "CURLFENCE_PRELOAD=%s/$LIB/"
           "libcurlfence-preload.so", tmp);
  run(r, env, acurl);
  ck_assert_msg(r->status == 7, SAYS(r));
  run(r, env, a32);
  refused(r, p32, "is a 32-bit i386 program, and there is no preload "
          "library for it (");
  ck_assert_uint_eq(th_connections(denied), 0);
  free(r);
}
END_TEST

/* CURLFENCE_RULES and CURLFENCE_AUDIT from the environment apply when the
 * options do not say otherwise, as in check and fetch. */
TU_TEST(tc_programs, run_takes_settings_from_the_environment)
{
  result *r = new_result();
  char rvar[PATH_MAX + 32], avar[PATH_MAX + 32], audit[PATH_MAX + 16];
  char open_all[PATH_MAX + 16], log[OUT_MAX];
  const char *env[] = { rvar, avar, NULL };
  const char *plain[] = { tool, "run", "--", "curl", "-sS",
                          url("127.0.0.2", "/x"), NULL };
  const char *opt[] = { tool, "run", "-r", rules, "--", "curl", "-sS",
                        url("127.0.0.3", "/x"), NULL };

  snprintf(audit, sizeof(audit), "%s/env.jsonl", tmp);
  snprintf(avar, sizeof(avar), "CURLFENCE_AUDIT=%s", audit);
  /* the default rules deny loopback: these let 127.0.0.2 through */
  snprintf(rvar, sizeof(rvar), "CURLFENCE_RULES=%s", rules);
  guarded(r, env, plain);
  ck_assert_msg(r->status == 0, SAYS(r));
  ck_assert_str_eq(r->out, "hello from allowed\n");
  read_file(audit, log, sizeof(log));
  ck_assert_msg(strstr(log, "\"decision\":\"allow\",\"enforced\":true,"
                            "\"addr\":\"127.0.0.2\"") != NULL, "%s", log);
  /* -r wins over the environment */
  snprintf(open_all, sizeof(open_all), "%s/open.rules", tmp);
  tu_write_text(open_all, "default allow\n");
  snprintf(rvar, sizeof(rvar), "CURLFENCE_RULES=%s", open_all);
  guarded(r, env, opt);
  ck_assert_msg(r->status == 7, SAYS(r));
  ck_assert_uint_eq(th_requests(denied), 0);
  free(r);
}
END_TEST

/* A path longer than a path may be: refused, never cut to the name of
 * another file (here one the first PATH_MAX - 1 bytes name). */
static void long_path(char *buf, size_t size, const char *cut_to)
{
  size_t len = strlen(tmp) + 1, name = strlen(cut_to), i;

  ck_assert_uint_gt(size, PATH_MAX + 16);
  if((PATH_MAX - 1 - len - name) % 2)
    name++;            /* "/./" steps are 2 bytes: one more byte of name */
  snprintf(buf, size, "%s/", tmp);
  for(i = 0; i < (PATH_MAX - 1 - len - name) / 2; i++)
    strcat(buf, "./");
  strcat(buf, cut_to);
  if(name > strlen(cut_to))
    strcat(buf, "_");
  ck_assert_uint_eq(strlen(buf), PATH_MAX - 1);
  strcat(buf, "-and-more");
}

TU_TEST(tc_programs, run_refuses_long_paths)
{
  result *r = new_result();
  char *audit = malloc(PATH_MAX + 64), *rpath = malloc(PATH_MAX + 64);
  char cut[PATH_MAX + 16];
  const char *a1[] = { tool, "run", "-r", rules, "--audit", audit, "--",
                       "curl", "-sS", url("127.0.0.2", "/x"), NULL };
  const char *a2[] = { tool, "run", "-r", rpath, "--", "curl", "-sS",
                       url("127.0.0.3", "/x"), NULL };
  struct stat st;

  ck_assert_ptr_nonnull(audit);
  ck_assert_ptr_nonnull(rpath);
  long_path(audit, PATH_MAX + 64, "cut.jsonl");
  run(r, NULL, a1);
  ck_assert_msg(r->status == 2 && strstr(r->err, "--audit") != NULL &&
                strstr(r->err, "File name too long") != NULL, SAYS(r));
  memcpy(cut, audit, PATH_MAX - 1);
  cut[PATH_MAX - 1] = '\0';
  ck_assert_msg(stat(cut, &st) != 0, "the cut name was written");
  /* the cut name of the rules would open everything */
  long_path(rpath, PATH_MAX + 64, "cut.rules");
  memcpy(cut, rpath, PATH_MAX - 1);
  cut[PATH_MAX - 1] = '\0';
  tu_write_text(cut, "default allow\n");
  run(r, NULL, a2);
  ck_assert_msg(r->status == 2 && strstr(r->err, "-r") != NULL &&
                strstr(r->err, "File name too long") != NULL, SAYS(r));
  ck_assert_uint_eq(th_connections(allowed), 0);
  ck_assert_uint_eq(th_connections(denied), 0);
  free(audit);
  free(rpath);
  free(r);
}
END_TEST

/* env -S splits its string at every blank, vertical tab, form feed,
 * carriage return and newline included: "X=1\vLD_PRELOAD=" is two
 * assignments, the second dropping the preload library.  Split at spaces
 * and tabs only, it looked like one harmless assignment, and curl reached
 * the denied server unguarded. */
TU_TEST(tc_programs, run_splits_env_strings_as_env_does)
{
  result *r = new_result();
  static const char *const split[] = {
    "X=1\vLD_PRELOAD=", "X=1\fLD_PRELOAD=", "X=1\rLD_PRELOAD=",
    "X=1\nLD_PRELOAD="
  };
  const char *argv[] = { tool, "run", "-r", rules, "--", "env", "-S", NULL,
                         "curl", "-sS", url("127.0.0.3", "/x"), NULL };
  size_t i;

  for(i = 0; i < sizeof(split) / sizeof(split[0]); i++) {
    argv[7] = split[i];
    run(r, NULL, argv);
    refused(r, "env", "is env setting LD_PRELOAD");
  }
  ck_assert_uint_eq(th_connections(denied), 0);
  free(r);
}
END_TEST

/* env under another name (a link to it) is still env: an LD_PRELOAD=
 * assignment through it is refused as through env itself.  It used to be
 * run, and curl reached the denied server unguarded. */
TU_TEST(tc_programs, run_knows_env_by_another_name)
{
  result *r = new_result();
  char env[PATH_MAX + 16], link[PATH_MAX + 16];
  const char *argv[] = { tool, "run", "-r", rules, "--", link,
                         "LD_PRELOAD=", "curl", "-sS",
                         url("127.0.0.3", "/x"), NULL };

  in_path(env, sizeof(env), "env");
  snprintf(link, sizeof(link), "%s/launch", tmp);
  ck_assert_int_eq(symlink(env, link), 0);
  run(r, NULL, argv);
  refused(r, link, "is env setting LD_PRELOAD");
  ck_assert_uint_eq(th_connections(denied), 0);
  free(r);
}
END_TEST

/* The loader asks LD_AUDIT's libraries for every library it looks up,
 * the preloaded ones too, and one that answers "none" for the preload
 * library leaves the program unguarded: curl reached the denied server.
 * With LD_AUDIT set, run starts nothing. */
#if defined(__SANITIZE_THREAD__)
#define TSAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TSAN_BUILD 1
#endif
#endif

TU_TEST(tc_programs, run_refuses_ld_audit)
{
  result *r = new_result();
  char lib[PATH_MAX + 16], var[PATH_MAX + 32];
  const char *env[] = { var, NULL };
  const char *argv[] = { tool, "run", "-r", rules, "--", "curl", "-sS",
                         url("127.0.0.3", "/x"), NULL };

#ifdef TSAN_BUILD
  /* The tool is built with the sanitizer too, and the loader cannot fit
   * ThreadSanitizer's runtime in static TLS beside an audit library: the
   * tool itself would not start. */
  fprintf(stderr, "run_refuses_ld_audit: not tested under "
          "ThreadSanitizer\n");
  free(r);
  return;
#endif
  sibling(lib, sizeof(lib), "libdrop-preload.so");
  snprintf(var, sizeof(var), "LD_AUDIT=%s", lib);
  run(r, env, argv);
  refused(r, "LD_AUDIT is set", "keep the preload library out of curl");
  ck_assert_uint_eq(th_connections(denied), 0);
  free(r);
}
END_TEST

/* env reads its words as options up to "--" or the first other word, then
 * words with "=" as assignments, "--" passed or not, then the command.
 * "--" was taken to end the assignments too, and after one it was skipped
 * instead of being the command: what run looked at was not what env ran.
 * A program named "LD_PRELOAD=" in PATH was looked at while env dropped
 * the preload library and ran curl, which reached the denied server; a
 * static program named "--" ran while run looked at true. */
TU_TEST(tc_programs, run_reads_env_words_as_env_does)
{
  result *r = new_result();
  char named[PATH_MAX + 16], dashes[PATH_MAX + 16], marker[PATH_MAX + 32];
  char pathvar[2 * PATH_MAX + 64], mark[PATH_MAX + 16];
  const char *env[] = { pathvar, NULL };
  const char *after[] = { tool, "run", "-r", rules, "--", "env", "--",
                          "LD_PRELOAD=", "curl", "-sS",
                          url("127.0.0.3", "/x"), NULL };
  const char *cmd[] = { tool, "run", "-r", rules, "--", "env", "A=1", "--",
                        "true", mark, NULL };
  const char *cp[] = { "cp", marker, dashes, NULL };
  struct stat st;

  copy_curl(named, sizeof(named), "LD_PRELOAD=", 0755);
  sibling(marker, sizeof(marker), "marker-static");
  snprintf(dashes, sizeof(dashes), "%s/--", tmp);
  run(r, NULL, cp);
  ck_assert_msg(r->status == 0, SAYS(r));
  snprintf(pathvar, sizeof(pathvar), "PATH=%s:%s", tmp, getenv("PATH"));
  snprintf(mark, sizeof(mark), "%s/ran", tmp);
  run(r, env, after);
  refused(r, "env", "is env setting LD_PRELOAD");
  ck_assert_uint_eq(th_connections(denied), 0);
  run(r, env, cmd);
  refused(r, dashes, "is statically linked");
  ck_assert_msg(stat(mark, &st) != 0, "%s ran", dashes);
  free(r);
}
END_TEST
