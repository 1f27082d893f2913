/* SPDX-License-Identifier: MIT */
/*
 * curl under the preload library beyond the one-run rows: metrics, parallel
 * transfers, proxies, broken rules, preload order, TFTP, DoH, the audit
 * destinations and --watch.
 */
#include "preload_fixture.h"

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

TU_SUITE_STATIC_ONLY("preload_curl", NULL);
TU_CASE(tc_programs, "programs", 120, setup, teardown);

/* ------------------------------------------------------------------ curl */

/* --metrics: the program's own counters, as a Prometheus textfile named
 * after its process id, written at exit with nothing left behind. */
TU_TEST(tc_programs, curl_metrics_textfile)
{
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
  guarded_status(res, NULL, argv, 7);
  ck_assert_str_eq(res->out, "hello from allowed\n");
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
  run_status(res, NULL, check, 0);
  globfree(&g);
}
END_TEST

/* 20 URLs, even ones allowed, odd ones denied, 8 at a time: each transfer
 * reports its own exit code through --write-out. */
TU_TEST(tc_programs, curl_parallel_mixed)
{
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
  guarded_status(res, NULL, argv, 7);
  for(i = 0; i < 20; i++) {
    /* the precision bounds what gcc's truncation check assumes */
    snprintf(want, sizeof(want), "%d %.127s\n", i % 2 ? 7 : 0, urls[i]);
    ck_assert_msg(strstr(res->out, want) != NULL, "no \"%s\" in %s", want,
                  res->out);
  }
  for(line = res->out; (line = strchr(line, '\n')); line++)
    lines++;
  for(line = res->out; (line = strstr(line, "0 http://127.0.0.2:")); line++)
    ok++;
  for(line = res->out; (line = strstr(line, "7 http://127.0.0.3:")); line++)
    refused++;
  ck_assert_int_eq(lines, 20);
  ck_assert_int_eq(ok, 10);
  ck_assert_int_eq(refused, 10);
  ck_assert_uint_eq(th_requests(allowed), 10);
  ck_assert_uint_eq(th_requests(denied), 0);
}
END_TEST

/* --keep-proxy: the program's proxy is used, and the policy decides on
 * the proxy's address (allowed), not on the URL's host. */
TU_TEST(tc_programs, keep_proxy_goes_through_the_proxy)
{
  char proxy[128], target[256];
  const char *env[] = { proxy, NULL };
  const char *argv[] = { tool, "run", "-r", rules,
                         "--keep-proxy", "--", "curl", "-sS",
                         url("127.0.0.3", "/x"), NULL };

  snprintf(proxy, sizeof(proxy), "http_proxy=%s", url("127.0.0.2", "/"));
  guarded_status(res, env, argv, 0);
  ck_assert_str_eq(res->out, "hello from allowed\n");
  th_last_target(allowed, target, sizeof(target));
  ck_assert_str_eq(target, url("127.0.0.3", "/x"));
  ck_assert_uint_eq(th_requests(denied), 0);
}
END_TEST

TU_TEST(tc_programs, broken_rules_refuse_everything)
{
  char bad[PATH_MAX + 16], want[PATH_MAX + 64];
  const char *argv[] = { tool, "run", "-r", bad, "--",
                         "curl", "-s", url("127.0.0.2", "/x"), NULL };
  const char *nl;

  snprintf(bad, sizeof(bad), "%s/bad.rules", tmp);
  tu_write_text(bad, "allow 127.0.0.2\ndeny 10/8\n");
  guarded_status(res, NULL, argv, 7);
  snprintf(want, sizeof(want), "curlfence: %s:2:6: ", bad);
  ck_assert_msg(!strncmp(res->err, want, strlen(want)), SAYS(res));
  ck_assert_msg(strstr(res->err, "every connection is refused\n") != NULL,
                SAYS(res));
  nl = strchr(res->err, '\n');
  ck_assert_msg(nl && nl[1] == '\0', "more than one line: %s", res->err);
  ck_assert_uint_eq(th_requests(allowed), 0);
}
END_TEST

/* An LD_PRELOAD that already holds a library defining the libcurl
 * functions (here libcurl itself) must not take the calls ahead of the
 * preload library. */
TU_TEST(tc_programs, earlier_preload_entry_does_not_win)
{
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
  guarded_status(res, env, argv, 7);
  ck_assert_str_eq(res->out, "");
  ck_assert_uint_eq(th_requests(denied), 0);
}
END_TEST

/* A plain LD_PRELOAD with libcurl listed first: the preload library
 * cannot take the calls, and says so on standard error at load. */
TU_TEST(tc_programs, earlier_preload_entry_is_reported)
{
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
  run_status(res, env, argv, 0);
  ck_assert_msg(strstr(res->err, "curlfence: ") == res->err &&
                strstr(res->err, " defines curl_easy_init ahead of the "
                                 "preload library") != NULL, SAYS(res));
  /* In the usual order, nothing is said. */
  snprintf(var, sizeof(var), "LD_PRELOAD=%s:%s", preload, info.dli_fname);
  run(res, env, argv);
  ck_assert_msg(res->status == 0 && res->err[0] == '\0', SAYS(res));
}
END_TEST

/* --allow-tftp: the UDP socket is decided by the rules, and a TFTP
 * download from the allowed address works; without it, the socket is
 * refused and the responder gets no request. */
TU_TEST(tc_programs, allow_tftp_lets_curl_fetch)
{
  char tftp[128];
  const char *with[] = { tool, "run", "-r", rules, "--allow-tftp", "--",
                         "curl", "-sS", "--max-time", "10", tftp, NULL };
  const char *without[] = { tool, "run", "-r", rules, "--",
                            "curl", "-sS", "--max-time", "10", tftp, NULL };
  tu_tftp t;

  tu_tftp_start(&t, "127.0.0.2");
  snprintf(tftp, sizeof(tftp), "tftp://127.0.0.2:%u/file", t.port);
  guarded_status(res, NULL, without, 7);
  ck_assert_int_eq(atomic_load(&t.requests), 0);
  guarded_status(res, NULL, with, 0);
  ck_assert_str_eq(res->out, "hello over udp\n");
  tu_tftp_stop(&t);
  ck_assert_int_eq(atomic_load(&t.requests), 1);
  ck_assert_int_eq(atomic_load(&t.acked), 1);
}
END_TEST

/* --allow-tftp lets the rules decide, it does not allow: a denied address
 * stays denied, by its rule. */
TU_TEST(tc_programs, allow_tftp_keeps_denials)
{
  char tftp[128], audit[PATH_MAX + 16], log[OUT_MAX];
  const char *argv[] = { tool, "run", "-r", rules, "--allow-tftp",
                         "--audit", audit, "--", "curl", "-sS",
                         "--max-time", "10", tftp, NULL };
  tu_tftp t;

  snprintf(audit, sizeof(audit), "%s/audit.jsonl", tmp);
  tu_tftp_start(&t, "127.0.0.3");
  snprintf(tftp, sizeof(tftp), "tftp://127.0.0.3:%u/file", t.port);
  guarded(res, NULL, argv);
  tu_tftp_stop(&t);
  ck_assert_msg(res->status == 7, SAYS(res));
  ck_assert_int_eq(atomic_load(&t.requests), 0);
  read_file(audit, log, sizeof(log));
  ck_assert_msg(strstr(log, "\"decision\":\"deny\"") != NULL &&
                strstr(log, "\"text\":\"deny 127.0.0.3\"") != NULL, "%s",
                log);
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
  guarded_status(res, NULL, without, 7);
  ck_assert_uint_eq(th_connections(denied), 0);

  /* The DoH connection is refused like any other socket to a denied
   * address: nothing resolves the name. */
  guarded_status(res, NULL, with, 6);
  ck_assert_uint_eq(th_connections(denied), 0);

  /* Only libcurl's sockets decided: the DoH server is reached (and,
   * speaking no TLS, resolves nothing). */
  guarded_status(res, NULL, curl_only, 6);
  ck_assert_uint_ge(th_connections(denied), 1);
  ck_assert_uint_eq(th_requests(allowed), 0);
}
END_TEST

/* A syslog socket at tmp/log, bound, and var its CURLFENCE_SYSLOG_SOCKET
 * setting; small makes its receive buffer as small as the kernel allows. */
static int syslog_socket(char *var, size_t size, int small)
{
  struct sockaddr_un un;
  int fd, rcvbuf = 1;

  memset(&un, 0, sizeof(un));
  un.sun_family = AF_UNIX;
  ck_assert_int_lt(snprintf(un.sun_path, sizeof(un.sun_path), "%s/log",
                            tmp), (int)sizeof(un.sun_path));
  fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  ck_assert_int_ge(fd, 0);
  if(small)
    ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
                                sizeof(rcvbuf)), 0);
  ck_assert_int_eq(bind(fd, (struct sockaddr *)&un, sizeof(un)), 0);
  snprintf(var, size, "CURLFENCE_SYSLOG_SOCKET=%s", un.sun_path);
  return fd;
}

/* --audit syslog: RFC 3164 messages with ident curlfence and facility
 * LOG_USER on the socket CURLFENCE_SYSLOG_SOCKET names, denials at
 * LOG_WARNING (<12>) and allows at LOG_INFO (<14>). */
TU_TEST(tc_programs, audit_to_syslog)
{
  char var[PATH_MAX + 32], msg[4096], deny[4096] = "", allow[4096] = "";
  const char *env[] = { var, NULL };
  const char *argv[] = { tool, "run", "-r", rules, "--audit", "syslog",
                         "--", "curl", "-s", url("127.0.0.2", "/a"),
                         url("127.0.0.3", "/b"), NULL };
  ssize_t n;
  int fd, count = 0;

  fd = syslog_socket(var, sizeof(var), 0);
  guarded_status(res, env, argv, 7);
  ck_assert_str_eq(res->out, "hello from allowed\n");
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
}
END_TEST

/* A syslog socket nobody listens on fails closed, with one line. */
TU_TEST(tc_programs, audit_to_missing_syslog_refuses)
{
  char var[PATH_MAX + 32];
  const char *env[] = { var, NULL };
  const char *argv[] = { tool, "run", "-r", rules, "--audit", "syslog",
                         "--", "curl", "-sS", url("127.0.0.2", "/a"), NULL };

  snprintf(var, sizeof(var), "CURLFENCE_SYSLOG_SOCKET=%s/nolog", tmp);
  guarded_status(res, env, argv, 7);
  ck_assert_msg(!strncmp(res->err, "curlfence: audit: ", 18) &&
                strstr(res->err, "cannot connect to syslog") != NULL,
                SAYS(res));
  ck_assert_uint_eq(th_requests(allowed), 0);
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
  char var[PATH_MAX + 32], msg[4096], urls[N][64];
  const char *env[] = { var, NULL };
  const char *argv[10 + N] = { tool, "run", "-r", rules, "--audit", "syslog",
                              "--", "curl", "-s" };
  const char *line;
  unsigned long lost = 0;
  int fd, got = 0, i;
  ssize_t n;

  for(i = 0; i < N; i++) {
    snprintf(urls[i], sizeof(urls[i]), "http://127.0.0.3:%u/%d", port, i);
    argv[9 + i] = urls[i];
  }
  fd = syslog_socket(var, sizeof(var), 1);
  guarded_status(res, env, argv, 7);
  while((n = recv(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT)) > 0)
    got++;
  close(fd);
  line = strstr(res->err, "curlfence: audit trail incomplete: ");
  ck_assert_msg(line != NULL, SAYS(res));
  ck_assert_int_eq(sscanf(line, "curlfence: audit trail incomplete: %lu "
                          "events could not be written to syslog\n",
                          &lost), 1);
  ck_assert_msg(got + (int)lost == N, "%d received, %lu reported lost: %s",
                got, lost, res->err);
  ck_assert_int_gt(lost, 0);
  ck_assert_uint_eq(th_requests(denied), 0);
}
END_TEST

/* A process that ends with _exit() (Python's multiprocessing children do)
 * or replaces itself with exec never runs the exit report, and when no
 * line of its trail gets through, no "lost" field tells either: its lost
 * events vanished without a word.  The first loss is now said at once. */
TU_TEST(tc_programs, audit_loss_is_said_without_exit)
{
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
  guarded(res, NULL, argv);
  ck_assert_msg(res->status == 0 && !strcmp(res->out, "error 7\n"), SAYS(res));
  ck_assert_msg(strstr(res->err, "curlfence: audit events are being lost: "
                               "one could not be written to /dev/full")
                != NULL, SAYS(res));
  ck_assert_uint_eq(th_connections(denied), 0);
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
  const char *argv[] = { tool, "run", "-r", rules, "--audit", "/dev/stderr",
                         "--", "curl", "-sS", url("127.0.0.3", "/b"),
                         NULL };

  guarded_status(res, NULL, argv, 7);
  ck_assert_msg(audit_lines(res->err) == 1 &&
                strstr(res->err, "\"decision\":\"deny\"") != NULL, SAYS(res));
  ck_assert_msg(strstr(res->err, "\ncurl: (7) ") != NULL ||
                !strncmp(res->err, "curl: (7) ", 10), SAYS(res));
}
END_TEST

/* --audit -: the lines go to the command's standard output, here a
 * regular file that also gets the body. */
TU_TEST(tc_programs, audit_to_stdout_dash)
{
  const char *argv[] = { tool, "run", "-r", rules, "--audit", "-", "--",
                         "curl", "-s", url("127.0.0.2", "/a"), NULL };

  guarded_status(res, NULL, argv, 0);
  /* open and reused */
  ck_assert_msg(audit_lines(res->out) == 2, SAYS(res));
  ck_assert_msg(strstr(res->out, "hello from allowed\n") != NULL, SAYS(res));
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
  char log[OUT_MAX], want[PATH_MAX + 128];

  watch_run(res, "10", "1000", "default deny\ndeny 127.0.0.2\n", log,
            sizeof(log));
  ck_assert_msg(res->status == 0, SAYS(res));
  ck_assert_msg(!strcmp(res->out, "first 0\nsecond 42\n"), SAYS(res));
  ck_assert_uint_eq(th_requests(allowed), 1);
  snprintf(want, sizeof(want), "\"rule\":{\"file\":\"%s\",\"line\":2,"
           "\"text\":\"deny 127.0.0.2\"}", rules);
  ck_assert_msg(strstr(log, "\"decision\":\"deny\",\"enforced\":true,"
                            "\"addr\":\"127.0.0.2\"") != NULL &&
                strstr(log, want) != NULL, "%s", log);
}
END_TEST

/* watch_run's two fetches both reached the allowed server: the first
 * rules stayed in force, and nothing was denied. */
static void first_rules_kept(const char *log)
{
  ck_assert_msg(res->status == 0, SAYS(res));
  ck_assert_msg(!strcmp(res->out, "first 0\nsecond 0\n"), SAYS(res));
  ck_assert_uint_eq(th_requests(allowed), 2);
  ck_assert_msg(strstr(log, "\"decision\":\"deny\"") == NULL, "%s", log);
}

/* A replacement that does not load leaves the rules in force. */
TU_TEST(tc_programs, watch_keeps_rules_when_reload_fails)
{
  char log[OUT_MAX];

  watch_run(res, "10", "300", "default deny\ndeny 127.0.0\n", log,
            sizeof(log));
  first_rules_kept(log);
}
END_TEST

TU_TEST(tc_programs, no_watch_keeps_the_first_rules)
{
  char log[OUT_MAX];

  watch_run(res, NULL, "200", "default deny\ndeny 127.0.0.2\n", log,
            sizeof(log));
  first_rules_kept(log);
}
END_TEST
