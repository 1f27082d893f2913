/* SPDX-License-Identifier: MIT */
/*
 * Audit sinks, report-only mode and counters, against real libcurl
 * transfers (reload_fixture.h).
 */
#include "reload_fixture.h"
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

TU_SUITE_STATIC_ONLY("reload-audit", NULL);
TU_CASE(tc_audit, "audit", 120, reload_setup, reload_teardown);

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
  snprintf(tmp, sizeof(tmp), "%s/new.rules", reload_dir);
  tu_write_text(tmp, "default allow\ndeny 127.0.0.3\n"
                     "allow 127.0.0.3 port 1-65535\n"
                     "expect deny 127.0.0.3\n");
  ck_assert_int_eq(rename(tmp, app_rules), 0);
  ck_assert_int_eq(curlfence_guard_reload(g, &err), CURLFENCE_E_EXPECT);
  ck_assert_uint_eq(err.line, 4);
  ck_assert_ptr_nonnull(strstr(err.message, "(allow 127.0.0.3 port 1-65535) "
                                            "decides allow"));
  ck_assert_int_eq(curlfence_guard_stats(g, &st), CURLFENCE_OK);
  ck_assert_uint_eq(st.generation, 1);
  ck_assert_uint_eq(st.reload_failures, 1);
  ck_assert_int_eq(st.last_reload_error.code, CURLFENCE_E_EXPECT);
  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_COULDNT_CONNECT);
  ck_assert_uint_eq(th_requests(target_srv), 0);
  curlfence_guard_free(g);
}
END_TEST

/* ---------------------------------------------------------------- sinks */

TU_CASE(tc_processes, "processes", 120, reload_setup_no_server,
        reload_teardown);

TU_TEST(tc_processes, test_file_sink_two_processes)
{
  curlfence_guard *g = guard_from_file(deny_rules);
  char log[128], cmd[256];
  int per = tu_quick() ? 20 : 200, i, status;
  pid_t kids[2];

  snprintf(log, sizeof(log), "%s/audit.jsonl", reload_dir);
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
  snprintf(un.sun_path, sizeof(un.sun_path), "%s/log", reload_dir);
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

  snprintf(log, sizeof(log), "%s/audit.jsonl", reload_dir);
  snprintf(old, sizeof(old), "%s.1", log);
  snprintf(older, sizeof(older), "%s.2", log);
  /* named relative to a working directory the program then leaves: the
   * sink keeps following the file it was given */
  ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
  ck_assert_int_eq(chdir(reload_dir), 0);
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
  ck_assert_uint_eq(th_requests(target_srv), 1);
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
  ck_assert_uint_eq(th_requests(target_srv), 1);
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
