/* SPDX-License-Identifier: MIT */
/*
 * Audit sinks, report-only mode, counters and live reload, against real
 * libcurl transfers to servers on loopback (127.0.0.3 is the host whose
 * fate the rules decide).
 */
#include "testutil.h"
#include "httpd.h"
#include "guard/guard.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static th_server *srv;
static char dir[64], rules_path[128], url[128];

static void setup(void)
{
  ck_assert_int_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
  snprintf(dir, sizeof(dir), "/tmp/curlfence-reload-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(rules_path, sizeof(rules_path), "%s/app.rules", dir);
  srv = th_start("127.0.0.3", "target");
  ck_assert_ptr_nonnull(srv);
  snprintf(url, sizeof(url), "http://127.0.0.3:%u/", th_port(srv));
}

/* For tests that fork: no server threads may exist when they do, or a
 * child can inherit a lock held by one of them. */
static void setup_no_server(void)
{
  ck_assert_int_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
  snprintf(dir, sizeof(dir), "/tmp/curlfence-reload-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(rules_path, sizeof(rules_path), "%s/app.rules", dir);
  srv = NULL;
  /* Nothing listens here; the rules deny it before any connect. */
  snprintf(url, sizeof(url), "http://127.0.0.3:9/");
}

static void teardown(void)
{
  char cmd[128];

  th_stop(srv);
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  ck_assert_int_eq(system(cmd), 0);
  curl_global_cleanup();
}

static size_t sink_body(char *p, size_t size, size_t n, void *userdata)
{
  (void)p;
  *(size_t *)userdata += size * n;
  return size * n;
}

/* One guarded transfer to the test server; returns libcurl's code. */
static CURLcode transfer(curlfence_guard *g, unsigned flags, size_t *got)
{
  CURL *h = curl_easy_init();
  size_t dummy = 0;
  CURLcode rc;

  ck_assert_ptr_nonnull(h);
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, got ? got : &dummy);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
  ck_assert_int_eq(curlfence_attach(h, g, flags), CURLFENCE_OK);
  rc = curl_easy_perform(h);
  curl_easy_cleanup(h);
  return rc;
}

static curlfence_guard *guard_from_file(const char *text)
{
  curlfence_policy *p;
  curlfence_guard *g;
  curlfence_error err;

  tu_write_text(rules_path, text);
  ck_assert_msg(curlfence_policy_load_file(&p, rules_path, &err)
                    == CURLFENCE_OK, "%s", err.text);
  ck_assert_int_eq(curlfence_guard_new(&g, p), CURLFENCE_OK);
  curlfence_policy_unref(p);
  return g;
}

static const char deny_rules[] = "default allow\ndeny 127.0.0.3\n";
static const char allow_rules[] = "default deny\nallow 127.0.0.3   # now\n";

TU_SUITE_STATIC_ONLY("audit-reload", NULL);
TU_CASE(tc_audit, "audit", 120, setup, teardown);

/* A reload whose rules break one of their expectations is refused like
 * any load error: the old policy stays in force, the failure is kept. */
TU_TEST(tc_audit, test_reload_breaks_expectation)
{
  curlfence_guard *g = guard_from_file("default allow\ndeny 127.0.0.3\n"
                                       "expect deny 127.0.0.3\n");
  char tmp[160];
  curlfence_error err;
  curlfence_stats st;

  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_COULDNT_CONNECT);
  snprintf(tmp, sizeof(tmp), "%s/new.rules", dir);
  tu_write_text(tmp, "default allow\ndeny 127.0.0.3\n"
                     "allow 127.0.0.3 port 1-65535\n"
                     "expect deny 127.0.0.3\n");
  ck_assert_int_eq(rename(tmp, rules_path), 0);
  ck_assert_int_eq(curlfence_guard_reload(g, &err), CURLFENCE_E_EXPECT);
  ck_assert_uint_eq(err.line, 4);
  ck_assert_ptr_nonnull(strstr(err.message, "(allow 127.0.0.3 port 1-65535) "
                                            "decides allow"));
  ck_assert_int_eq(curlfence_guard_stats(g, &st), CURLFENCE_OK);
  ck_assert_uint_eq(st.generation, 1);
  ck_assert_uint_eq(st.reload_failures, 1);
  ck_assert_int_eq(st.last_reload_error.code, CURLFENCE_E_EXPECT);
  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_COULDNT_CONNECT);
  ck_assert_uint_eq(th_requests(srv), 0);
  curlfence_guard_free(g);
}
END_TEST

/* ---------------------------------------------------------------- sinks */

TU_CASE(tc_processes, "processes", 120, setup_no_server, teardown);

TU_TEST(tc_processes, test_file_sink_two_processes)
{
  curlfence_guard *g = guard_from_file(deny_rules);
  char log[128], cmd[256];
  int per = tu_quick() ? 20 : 200, i, status;
  pid_t kids[2];

  snprintf(log, sizeof(log), "%s/audit.jsonl", dir);
  for(i = 0; i < 2; i++) {
    kids[i] = fork();
    ck_assert_int_ge(kids[i], 0);
    if(kids[i] == 0) {
      curlfence_sink *s;
      int k, bad = 0;

      if(curlfence_sink_open_file(&s, log, NULL) ||
         curlfence_guard_set_audit(g, curlfence_sink_write, s,
                                   CURLFENCE_AUDIT_ALL))
        _exit(2);
      for(k = 0; k < per; k++)
        bad += transfer(g, 0, NULL) != CURLE_COULDNT_CONNECT;
      bad += curlfence_sink_errors(s) != 0;
      curlfence_sink_free(s);
      _exit(bad ? 1 : 0);
    }
  }
  for(i = 0; i < 2; i++) {
    ck_assert_int_eq(waitpid(kids[i], &status, 0), kids[i]);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "writer %d failed", i);
  }
  snprintf(cmd, sizeof(cmd), "python3 test/jsonl_check.py %s %d "
           "decision=deny addr=127.0.0.3 rule.line=2", log, 2 * per);
  ck_assert_int_eq(system(cmd), 0);
  curlfence_guard_free(g);
}
END_TEST

TU_TEST(tc_audit, test_syslog_sink)
{
  curlfence_guard *g = guard_from_file(deny_rules);
  struct sockaddr_un un;
  curlfence_sink *s;
  curlfence_error err;
  char msg[2048], want[64];
  ssize_t n;
  int fd;

  memset(&un, 0, sizeof(un));
  un.sun_family = AF_UNIX;
  snprintf(un.sun_path, sizeof(un.sun_path), "%s/log", dir);
  ck_assert_int_eq(curlfence_sink_open_syslog(&s, "cftest", LOG_AUTHPRIV,
                                              un.sun_path, &err),
                   CURLFENCE_E_IO);
  ck_assert_ptr_nonnull(strstr(err.text, "cannot connect to syslog"));

  fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(bind(fd, (struct sockaddr *)&un, sizeof(un)), 0);
  ck_assert_int_eq(curlfence_sink_open_syslog(&s, "cftest", LOG_AUTHPRIV,
                                              un.sun_path, &err),
                   CURLFENCE_OK);
  curlfence_guard_set_audit(g, curlfence_sink_write, s,
                            CURLFENCE_AUDIT_DENIED);
  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_COULDNT_CONNECT);
  n = recv(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT);
  ck_assert_int_gt(n, 0);
  msg[n] = '\0';
  /* LOG_AUTHPRIV | LOG_WARNING = 10 * 8 + 4 */
  ck_assert_msg(strncmp(msg, "<84>", 4) == 0, "%s", msg);
  snprintf(want, sizeof(want), " cftest[%ld]: {\"v\":4,", (long)getpid());
  ck_assert_msg(strstr(msg, want) != NULL, "%s", msg);
  ck_assert_ptr_nonnull(strstr(msg, "\"decision\":\"deny\""));
  ck_assert_int_eq(msg[n - 1], '}');
  ck_assert_uint_eq(curlfence_sink_errors(s), 0);
  curlfence_sink_free(s);
  close(fd);
  curlfence_guard_free(g);
}
END_TEST

/* A sink that cannot write changes no decision; its failures are counted. */
/* logrotate's "create": the log is renamed and a new file made at the
 * path.  Lines written once the sink has looked again (at most a second
 * later) go to the new file; none is lost or written twice.  The same
 * when nothing was made at the path: the sink creates it. */
TU_TEST(tc_audit, test_file_sink_follows_rename)
{
  curlfence_guard *g = guard_from_file(deny_rules);
  char log[128], old[140], older[140], cmd[1024], cwd[PATH_MAX];
  curlfence_sink *s;
  struct timespec pause = { 1, 200000000 };  /* longer than the look's 1 s */

  snprintf(log, sizeof(log), "%s/audit.jsonl", dir);
  snprintf(old, sizeof(old), "%s.1", log);
  snprintf(older, sizeof(older), "%s.2", log);
  /* named relative to a working directory the program then leaves: the
   * sink keeps following the file it was given */
  ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
  ck_assert_int_eq(chdir(dir), 0);
  ck_assert_int_eq(curlfence_sink_open_file(&s, "audit.jsonl", NULL),
                   CURLFENCE_OK);
  ck_assert_int_eq(chdir(cwd), 0);
  curlfence_guard_set_audit(g, curlfence_sink_write, s, CURLFENCE_AUDIT_ALL);
  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_COULDNT_CONNECT);
  ck_assert_int_eq(rename(log, old), 0);
  tu_write_text(log, "");
  nanosleep(&pause, NULL);
  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_COULDNT_CONNECT);
  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_COULDNT_CONNECT);
  /* rotated again, with no new file made */
  ck_assert_int_eq(rename(log, older), 0);
  nanosleep(&pause, NULL);
  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_COULDNT_CONNECT);
  ck_assert_uint_eq(curlfence_sink_errors(s), 0);
  curlfence_guard_set_audit(g, NULL, NULL, 0);
  curlfence_sink_free(s);
  ck_assert_int_eq(access("audit.jsonl", F_OK), -1);
  snprintf(cmd, sizeof(cmd),
           "python3 test/jsonl_check.py %s 1 decision=deny addr=127.0.0.3 && "
           "python3 test/jsonl_check.py %s 2 decision=deny addr=127.0.0.3 && "
           "python3 test/jsonl_check.py %s 1 decision=deny addr=127.0.0.3",
           old, older, log);
  ck_assert_int_eq(system(cmd), 0);
  curlfence_guard_free(g);
}
END_TEST

TU_TEST(tc_audit, test_failing_sink)
{
  curlfence_guard *g = guard_from_file("default deny\n"
                                       "allow 127.0.0.3 port 1-65535\n"
                                       "deny 127.0.0.3\n");
  curlfence_stats st;
  curlfence_sink *s;
  size_t got = 0;

  ck_assert_int_eq(curlfence_sink_open_file(&s, "/dev/full", NULL),
                   CURLFENCE_OK);
  curlfence_guard_set_audit(g, curlfence_sink_write, s, CURLFENCE_AUDIT_ALL);
  ck_assert_int_eq(transfer(g, 0, &got), CURLE_OK);
  ck_assert_uint_eq(got, strlen("hello from target\n"));
  ck_assert_uint_eq(curlfence_sink_errors(s), 2);   /* open + pre-request */
  curlfence_guard_stats(g, &st);
  ck_assert_uint_eq(st.audit_errors, 2);
  ck_assert_uint_eq(st.allowed, 2);
  ck_assert_uint_eq(st.denied, 0);
  curlfence_sink_free(s);
  curlfence_guard_free(g);
}
END_TEST

/* ------------------------------------------------------- report / stats */

TU_TEST(tc_audit, test_report_mode_in_rules)
{
  curlfence_guard *g = guard_from_file("mode report\ndefault allow\n"
                                       "deny 127.0.0.3\n");
  curlfence_stats st;
  tu_recorder r = { 0 };
  size_t got = 0;

  curlfence_guard_set_audit(g, tu_record, &r, CURLFENCE_AUDIT_DENIED);
  ck_assert_int_eq(transfer(g, 0, &got), CURLE_OK);
  ck_assert_uint_eq(got, strlen("hello from target\n"));
  ck_assert_uint_eq(th_requests(srv), 1);
  ck_assert_int_eq(r.n, 2);
  ck_assert_int_eq(r.ev[0].action, CURLFENCE_DENY);
  ck_assert_int_eq(r.ev[0].enforced, 0);
  ck_assert_int_eq(r.ev[0].check, CURLFENCE_CHECK_OPEN);
  ck_assert_str_eq(r.ev[0].verdict.rule, "deny 127.0.0.3");
  ck_assert_int_eq(r.ev[1].check, CURLFENCE_CHECK_REUSED);
  ck_assert_int_eq(r.ev[1].enforced, 0);
  curlfence_guard_stats(g, &st);
  ck_assert_uint_eq(st.reported, 2);
  ck_assert_uint_eq(st.denied, 0);
  curlfence_guard_free(g);
}
END_TEST

TU_TEST(tc_audit, test_report_mode_flag)
{
  curlfence_guard *g = guard_from_file(deny_rules);
  tu_recorder r = { 0 };
  char line[1024];

  curlfence_guard_set_audit(g, tu_record, &r, CURLFENCE_AUDIT_DENIED);
  ck_assert_int_eq(transfer(g, CURLFENCE_ATTACH_REPORT_ONLY, NULL), CURLE_OK);
  ck_assert_int_eq(r.n, 2);
  ck_assert_int_eq(r.ev[0].enforced, 0);
  curlfence_event_json(&r.ev[0], line, sizeof(line));
  ck_assert_ptr_nonnull(strstr(line,
                               "\"decision\":\"deny\",\"enforced\":false"));
  /* The same guard still enforces on handles attached without the flag. */
  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_COULDNT_CONNECT);
  ck_assert_int_eq(r.ev[2].enforced, 1);
  ck_assert_uint_eq(th_requests(srv), 1);
  curlfence_guard_free(g);
}
END_TEST

TU_TEST(tc_audit, test_rule_counters)
{
  curlfence_guard *g = guard_from_file(deny_rules);
  curlfence_rule_stat rs[4];
  curlfence_policy *p;
  curlfence_stats st;
  int i;

  for(i = 0; i < 3; i++)
    ck_assert_int_eq(transfer(g, 0, NULL), CURLE_COULDNT_CONNECT);
  p = curlfence_guard_policy(g, NULL);
  ck_assert_uint_eq(curlfence_policy_rule_stats(p, rs, 4), 3);
  ck_assert_str_eq(rs[0].rule, "deny 127.0.0.3");
  ck_assert_uint_eq(rs[0].line, 2);
  ck_assert_uint_eq(rs[0].hits, 3);
  ck_assert_str_eq(rs[1].rule, "default allow");
  ck_assert_uint_eq(rs[1].hits, 0);
  ck_assert_str_eq(rs[2].rule, "unix deny (built-in)");
  ck_assert_ptr_null(rs[2].file);
  curlfence_policy_unref(p);
  curlfence_guard_stats(g, &st);
  ck_assert_uint_eq(st.denied, 3);
  ck_assert_uint_eq(st.allowed, 0);
  ck_assert_uint_eq(st.generation, 1);
  curlfence_guard_free(g);
}
END_TEST

/* --------------------------------------------------------------- reload */

TU_CASE(tc_reload, "reload", 120, setup, teardown);

TU_TEST(tc_reload, test_reload)
{
  curlfence_guard *g = guard_from_file(deny_rules);
  curlfence_error err;
  curlfence_stats st;
  tu_recorder r = { 0 };
  uint64_t gen;
  curlfence_policy *p;

  curlfence_guard_set_audit(g, tu_record, &r, CURLFENCE_AUDIT_ALL);
  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_COULDNT_CONNECT);
  ck_assert_uint_eq(r.ev[0].generation, 1);

  tu_write_text(rules_path, allow_rules);
  ck_assert_int_eq(curlfence_guard_reload(g, &err), CURLFENCE_OK);
  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_OK);
  ck_assert_int_eq(r.ev[1].action, CURLFENCE_ALLOW);
  ck_assert_uint_eq(r.ev[1].generation, 2);
  ck_assert_str_eq(r.ev[1].verdict.rule, "allow 127.0.0.3");

  /* A broken file keeps the rules in force and says where it broke. */
  tu_write_text(rules_path, "default deny\nallow 127.0.0.3/33\n");
  ck_assert_int_eq(curlfence_guard_reload(g, &err), CURLFENCE_E_ADDRESS);
  ck_assert_str_eq(err.file, rules_path);
  ck_assert_uint_eq(err.line, 2);
  ck_assert_uint_eq(err.column, 17);
  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_OK);
  p = curlfence_guard_policy(g, &gen);
  ck_assert_uint_eq(gen, 2);
  curlfence_policy_unref(p);
  curlfence_guard_stats(g, &st);
  ck_assert_uint_eq(st.reloads, 1);
  ck_assert_uint_eq(st.reload_failures, 1);
  ck_assert_int_eq(st.last_reload_error.code, CURLFENCE_E_ADDRESS);
  ck_assert_uint_eq(st.last_reload_error.line, 2);

  /* A missing file too. */
  ck_assert_int_eq(unlink(rules_path), 0);
  ck_assert_int_eq(curlfence_guard_reload(g, &err), CURLFENCE_E_IO);
  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_OK);
  curlfence_guard_free(g);
}
END_TEST

TU_TEST(tc_reload, test_reload_needs_file)
{
  curlfence_policy *p = tu_load("deny 127.0.0.3\n");
  curlfence_guard *g;
  curlfence_error err;

  ck_assert_int_eq(curlfence_guard_new(&g, p), CURLFENCE_OK);
  ck_assert_int_eq(curlfence_guard_reload(g, &err), CURLFENCE_E_INVAL);
  ck_assert_ptr_nonnull(strstr(err.message, "not loaded from a file"));
  ck_assert_int_eq(curlfence_guard_set_policy(g, NULL), CURLFENCE_E_INVAL);
  ck_assert_int_eq(curlfence_guard_set_policy(g, p), CURLFENCE_OK);
  curlfence_policy_unref(p);
  curlfence_guard_free(g);
}
END_TEST

/* Four threads run guarded transfers and lookups while the rules flip
 * between deny (odd generations) and allow (even ones).  Every decision
 * must belong to exactly one generation's rules. */
typedef struct race {
  curlfence_guard *g;
  atomic_int stop;
  atomic_long decisions, wrong, transfers;
} race;

static int check_event(const curlfence_event *ev, void *userdata)
{
  race *rc = userdata;
  curlfence_action want = ev->generation % 2 ? CURLFENCE_DENY
                                             : CURLFENCE_ALLOW;

  atomic_fetch_add(&rc->decisions, 1);
  if(ev->action != want || ev->verdict.line != 2)
    atomic_fetch_add(&rc->wrong, 1);
  return 0;
}

static void *race_worker(void *arg)
{
  race *rc = arg;
  struct sockaddr_storage ss;
  socklen_t len = tu_sockaddr(&ss, "127.0.0.3", 80);

  while(!atomic_load(&rc->stop)) {
    CURLcode res = transfer(rc->g, 0, NULL);
    uint64_t gen;
    curlfence_policy *p;
    curlfence_verdict v;

    if(res != CURLE_OK && res != CURLE_COULDNT_CONNECT &&
       res != CURLE_ABORTED_BY_CALLBACK)
      atomic_fetch_add(&rc->wrong, 1);
    atomic_fetch_add(&rc->transfers, 1);
    p = curlfence_guard_policy(rc->g, &gen);
    curlfence_policy_decide(p, (struct sockaddr *)&ss, len, &v);
    if(v.action != (gen % 2 ? CURLFENCE_DENY : CURLFENCE_ALLOW))
      atomic_fetch_add(&rc->wrong, 1);
    curlfence_policy_unref(p);
  }
  return NULL;
}

TU_TEST(tc_reload, test_reload_under_load)
{
  race rc;
  pthread_t t[4];
  curlfence_error err;
  int i, flips = tu_quick() ? 6 : 40;

  memset(&rc, 0, sizeof(rc));
  rc.g = guard_from_file(deny_rules);
  curlfence_guard_set_audit(rc.g, check_event, &rc, CURLFENCE_AUDIT_ALL);
  for(i = 0; i < 4; i++)
    ck_assert_int_eq(pthread_create(&t[i], NULL, race_worker, &rc), 0);
  for(i = 0; i < flips; i++) {
    struct timespec ts = { 0, 5000000 };
    nanosleep(&ts, NULL);
    tu_write_text(rules_path, i % 2 ? deny_rules : allow_rules);
    ck_assert_int_eq(curlfence_guard_reload(rc.g, &err), CURLFENCE_OK);
  }
  atomic_store(&rc.stop, 1);
  for(i = 0; i < 4; i++)
    pthread_join(t[i], NULL);
  ck_assert_int_gt(atomic_load(&rc.transfers), 0);
  ck_assert_int_gt(atomic_load(&rc.decisions), 0);
  ck_assert_int_eq(atomic_load(&rc.wrong), 0);
  {
    curlfence_stats st;
    curlfence_guard_stats(rc.g, &st);
    ck_assert_uint_eq(st.generation, (uint64_t)flips + 1);
  }
  curlfence_guard_free(rc.g);
}
END_TEST

/* ---------------------------------------------------------- auto reload */

/* Wait up to 5 s for the guard to reach generation gen. */
/* Wait up to 5 s for the guard's stats to satisfy done; st holds the last
 * reading.  Returns whether they did. */
static int wait_stats(curlfence_guard *g, curlfence_stats *st,
                      int (*done)(const curlfence_stats *, uint64_t),
                      uint64_t arg)
{
  int i;

  for(i = 0; i < 500; i++) {
    struct timespec ts = { 0, 10000000 };

    curlfence_guard_stats(g, st);
    if(done(st, arg))
      return 1;
    nanosleep(&ts, NULL);
  }
  return 0;
}

static int reached_generation(const curlfence_stats *st, uint64_t gen)
{
  return st->generation >= gen;
}

static int reload_failed(const curlfence_stats *st, uint64_t unused)
{
  (void)unused;
  return st->reload_failures != 0;
}

static int wait_generation(curlfence_guard *g, uint64_t gen)
{
  curlfence_stats st;

  return wait_stats(g, &st, reached_generation, gen);
}

TU_TEST(tc_reload, test_watch_rename_and_rewrite)
{
  curlfence_guard *g = guard_from_file(deny_rules);
  char tmp[160];
  curlfence_stats st;

  ck_assert_int_eq(curlfence_guard_watch(g, 20), CURLFENCE_OK);
  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_COULDNT_CONNECT);

  /* Replaced by rename(2), as editors and deploy tools do. */
  snprintf(tmp, sizeof(tmp), "%s/app.rules.new", dir);
  tu_write_text(tmp, allow_rules);
  ck_assert_int_eq(rename(tmp, rules_path), 0);
  ck_assert(wait_generation(g, 2));
  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_OK);

  /* Rewritten in place. */
  tu_write_text(rules_path, deny_rules);
  ck_assert(wait_generation(g, 3));
  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_COULDNT_CONNECT);

  /* A broken version is not taken, and is reported. */
  tu_write_text(rules_path, "default allow\ndeny 127.0.0.3/40\n");
  wait_stats(g, &st, reload_failed, 0);
  ck_assert_uint_eq(st.reload_failures, 1);
  ck_assert_uint_eq(st.generation, 3);
  ck_assert_uint_eq(st.last_reload_error.line, 2);
  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_COULDNT_CONNECT);
  curlfence_guard_unwatch(g);
  curlfence_guard_free(g);
}
END_TEST

/* One version of a ConfigMap volume: the directory dir/NAME holding
 * app.rules with text. */
static void configmap_version(const char *name, const char *text)
{
  char path[200];

  snprintf(path, sizeof(path), "%s/%s", dir, name);
  ck_assert_int_eq(mkdir(path, 0700), 0);
  snprintf(path, sizeof(path), "%s/%s/app.rules", dir, name);
  tu_write_text(path, text);
}

/* Kubernetes ConfigMap volumes: app.rules -> ..data/app.rules, and ..data
 * is a symlink to a timestamped directory that is swapped atomically. */
TU_TEST(tc_reload, test_watch_configmap)
{
  char link_tmp[200], data[200];
  curlfence_policy *p;
  curlfence_guard *g;
  curlfence_error err;

  configmap_version("..2026_11_25_a", deny_rules);
  snprintf(data, sizeof(data), "%s/..data", dir);
  ck_assert_int_eq(symlink("..2026_11_25_a", data), 0);
  unlink(rules_path);
  ck_assert_int_eq(symlink("..data/app.rules", rules_path), 0);

  ck_assert_msg(curlfence_policy_load_file(&p, rules_path, &err) == 0, "%s",
                err.text);
  ck_assert_int_eq(curlfence_guard_new(&g, p), CURLFENCE_OK);
  curlfence_policy_unref(p);
  ck_assert_int_eq(curlfence_guard_watch(g, 20), CURLFENCE_OK);
  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_COULDNT_CONNECT);

  configmap_version("..2026_11_25_b", allow_rules);
  snprintf(link_tmp, sizeof(link_tmp), "%s/..data_tmp", dir);
  ck_assert_int_eq(symlink("..2026_11_25_b", link_tmp), 0);
  ck_assert_int_eq(rename(link_tmp, data), 0);

  ck_assert(wait_generation(g, 2));
  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_OK);
  curlfence_guard_free(g);   /* stops the watcher too */
}
END_TEST

/* Whether the guard's policy in force denies addr. */
static int denies(curlfence_guard *g, const char *addr)
{
  curlfence_policy *p = curlfence_guard_policy(g, NULL);
  int deny = tu_decide(p, addr, 80, NULL) == CURLFENCE_DENY;

  curlfence_policy_unref(p);
  return deny;
}

static uint64_t mono_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A file rewritten in place in two steps is never loaded half-written:
 * cut at the slash, "deny 10.0.0.0/8" is the valid "deny 10.0.0.0",
 * which lets 10.1.2.3 (and the rest of 10/8) through.  The promise holds
 * for a writer that finishes within the settle time; a round in which the
 * scheduler stretched the 5 ms pause past it proves nothing either way,
 * so only the final policy is checked then. */
TU_TEST(tc_reload, test_watch_half_written)
{
  static const char half[] = "default allow\ndeny 10.0.0.0";
  curlfence_guard *g = guard_from_file("default allow\n");
  int round, rounds = tu_quick() ? 2 : 5, strict = 0;

  ck_assert_int_eq(curlfence_guard_watch(g, 1), CURLFENCE_OK);
  for(round = 0; round < rounds; round++) {
    struct timespec pause = { 0, 5000000 };   /* 5 ms: five intervals */
    curlfence_stats before, st;
    uint64_t t0, took;
    int fd, i;

    ck_assert_int_eq(curlfence_guard_stats(g, &before), CURLFENCE_OK);
    fd = open(rules_path, O_WRONLY | O_TRUNC);
    ck_assert_int_ge(fd, 0);
    t0 = mono_ms();
    ck_assert_int_eq(write(fd, half, sizeof(half) - 1), sizeof(half) - 1);
    nanosleep(&pause, NULL);
    ck_assert_int_eq(write(fd, "/8\n", 3), 3);
    took = mono_ms() - t0;
    ck_assert_int_eq(close(fd), 0);
    ck_assert(wait_generation(g, before.generation + 1));
    for(i = 0; i < 5000 && !denies(g, "10.1.2.3"); i++)
      nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
    ck_assert(denies(g, "10.1.2.3"));
    ck_assert_int_eq(curlfence_guard_stats(g, &st), CURLFENCE_OK);
    ck_assert_uint_eq(st.reload_failures, 0);
    if(took >= CF_WATCH_SETTLE_MS)
      continue;            /* the writer was slower than the settle time */
    /* nothing else was published on the way */
    ck_assert_uint_eq(st.generation, before.generation + 1);
    ck_assert_uint_eq(st.reloads, before.reloads + 1);
    strict++;
  }
  ck_assert_msg(strict > 0, "every round was too slow to say anything");
  curlfence_guard_free(g);
}
END_TEST

/* A reload reads the file while it is being rewritten: what it read is
 * not published, and the failure says why. */
static void rewrite_file(curlfence_guard *g)
{
  (void)g;
  tu_write_text(rules_path, "default deny\n");
}

TU_TEST(tc_reload, test_reload_changed_while_read)
{
  curlfence_guard *g = guard_from_file(allow_rules);
  curlfence_error err;
  curlfence_stats st;

  g->reload_loaded_hook = rewrite_file;
  ck_assert_int_eq(curlfence_guard_reload(g, &err), CURLFENCE_E_IO);
  ck_assert_ptr_nonnull(strstr(err.text, "changed while it was being read"));
  ck_assert_int_eq(curlfence_guard_stats(g, &st), CURLFENCE_OK);
  ck_assert_uint_eq(st.generation, 1);
  ck_assert_uint_eq(st.reload_failures, 1);
  g->reload_loaded_hook = NULL;
  ck_assert_int_eq(curlfence_guard_reload(g, &err), CURLFENCE_OK);
  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_COULDNT_CONNECT);
  curlfence_guard_free(g);
}
END_TEST

static curlfence_policy *emergency;

static void set_emergency(curlfence_guard *g)
{
  ck_assert_int_eq(curlfence_guard_set_policy(g, emergency), CURLFENCE_OK);
}

/* An application's set_policy that lands while a reload reads the file
 * stays: the reload, which started from the older policy, loses. */
TU_TEST(tc_reload, test_reload_loses_to_set_policy)
{
  curlfence_guard *g = guard_from_file(allow_rules);
  curlfence_policy *p;
  curlfence_error err;
  curlfence_stats st;
  uint64_t gen;

  emergency = tu_load("default deny\n");
  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_OK);
  g->reload_loaded_hook = set_emergency;
  ck_assert_int_eq(curlfence_guard_reload(g, &err), CURLFENCE_E_SUPERSEDED);
  ck_assert_int_eq(err.code, CURLFENCE_E_SUPERSEDED);
  ck_assert_ptr_nonnull(strstr(err.text, "newer policy stays"));
  p = curlfence_guard_policy(g, &gen);
  ck_assert_ptr_eq(p, emergency);
  ck_assert_uint_eq(gen, 2);
  curlfence_policy_unref(p);
  ck_assert_int_eq(curlfence_guard_stats(g, &st), CURLFENCE_OK);
  ck_assert_uint_eq(st.reloads, 1);          /* the set_policy */
  ck_assert_uint_eq(st.reload_failures, 0);  /* the file was fine */
  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_COULDNT_CONNECT);

  /* set_policy always wins: it is the application's word. */
  g->reload_loaded_hook = NULL;
  ck_assert_int_eq(curlfence_guard_reload(g, &err), CURLFENCE_E_INVAL);
  ck_assert_int_eq(curlfence_guard_set_policy(g, emergency), CURLFENCE_OK);
  curlfence_guard_free(g);
  curlfence_policy_unref(emergency);
}
END_TEST

static pthread_barrier_t go;

static void *unwatch_thread(void *arg)
{
  pthread_barrier_wait(&go);
  curlfence_guard_unwatch(arg);
  return NULL;
}

static void *watch_thread(void *arg)
{
  pthread_barrier_wait(&go);
  ck_assert_int_eq(curlfence_guard_watch(arg, 1), CURLFENCE_OK);
  return NULL;
}

/* Two unwatch calls at once each return with the watcher stopped (both
 * used to join the same thread and hang); a watch racing them starts a
 * new watcher only after the old one is gone. */
TU_TEST(tc_reload, test_unwatch_concurrent)
{
  curlfence_guard *g = guard_from_file(deny_rules);
  int i, rounds = tu_quick() ? 10 : 50;

  for(i = 0; i < rounds; i++) {
    pthread_t t[3];
    int j, n = i % 2 ? 3 : 2;

    ck_assert_int_eq(curlfence_guard_watch(g, 1), CURLFENCE_OK);
    ck_assert_int_eq(pthread_barrier_init(&go, NULL, (unsigned)n), 0);
    for(j = 0; j < n; j++)
      ck_assert_int_eq(pthread_create(&t[j], NULL, j < 2 ? unwatch_thread
                                                         : watch_thread, g),
                       0);
    for(j = 0; j < n; j++)
      pthread_join(t[j], NULL);
    pthread_barrier_destroy(&go);
    if(n == 2)
      ck_assert_int_eq(g->watch.state, CF_WATCH_IDLE);
    else
      ck_assert_int_ne(g->watch.state, CF_WATCH_STOPPING);
  }
  curlfence_guard_free(g);
}
END_TEST
