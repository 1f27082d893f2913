/* SPDX-License-Identifier: MIT */
/* Audit JSON: every line is valid UTF-8 JSON whatever bytes the event
 * holds, checked by a strict checker and by Python's parser. */
#include "testutil.h"
#include "fuzz/json_check.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

TU_SUITE("audit-json", NULL);
TU_CASE(tc_utf8, "utf8", 0, NULL, NULL);

/* The checker must be able to say no, or the tests below prove nothing. */
TU_TEST(tc_utf8, test_checker)
{
  static const char *good[] = {
    "{}", " {\"a\":[1,-0.5e+3,true,false,null,{}]} ",
    "{\"\\ud83d\\ude00\":\"\\u00e9\xc3\xa9\"}",
    "{\"a\":\"\xf4\x8f\xbf\xbf\xe2\x82\xac\"}",
  };
  static const char *bad[] = {
    "", "[]", "{", "{\"a\"}", "{\"a\":01}", "{\"a\":1,}", "{} x",
    "{\"a\":\"\xff\"}", "{\"a\":\"\xc0\xaf\"}", "{\"a\":\"\xed\xa0\x80\"}",
    "{\"a\":\"\xf4\x90\x80\x80\"}", "{\"a\":\"\xe2\x82\"}", "{\"a\":\"\x01\"}",
    "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}", "{\"a\":\"\\x41\"}",
    "{\"a\":tru}", "{\"a\":\"x}",
  };
  size_t i;

  for(i = 0; i < sizeof(good) / sizeof(good[0]); i++)
    ck_assert_msg(jc_check_object(good[i], strlen(good[i]), NULL, NULL) == 0,
                  "good case %zu refused", i);
  for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    ck_assert_msg(jc_check_object(bad[i], strlen(bad[i]), NULL, NULL) == -1,
                  "bad case %zu accepted", i);
}
END_TEST

static void expect_valid(const char *line, size_t n)
{
  const char *why;
  size_t at;

  ck_assert_msg(jc_check_object(line, n, &why, &at) == 0,
                "not valid JSON+UTF-8 at byte %zu (%s): %.*s", at, why,
                (int)n, line);
}

TU_TEST(tc_utf8, test_hostile_bytes)
{
  curlfence_event ev;
  char line[4096];
  size_t n;

  memset(&ev, 0, sizeof(ev));
  ev.time_us = 1764000000123456;
  ev.family = AF_UNIX;
  /* a socket path of invalid UTF-8 and control bytes */
  snprintf(ev.addr, sizeof(ev.addr), "/run/\xff\xfe\x01\x7f\xed\xa0\x80.sock");
  ev.verdict.file = "/etc/r\xc3\xa9gles/\xff.rules";      /* é is valid */
  ev.verdict.rule = "deny 10.0.0.0/8 \xc0\xaf \xf0\x9f\x98\x80 \xe2\x82";
  ev.verdict.reason = "rule\"\\";
  n = curlfence_event_json(&ev, line, sizeof(line));
  ck_assert_uint_lt(n, sizeof(line));
  expect_valid(line, n);
  ck_assert_ptr_nonnull(strstr(line,
      "\"addr\":\"/run/\\ufffd\\ufffd\\u0001\\u007f"
      "\\ufffd\\ufffd\\ufffd.sock\""));
  ck_assert_ptr_nonnull(strstr(line,
      "\"file\":\"/etc/r\xc3\xa9gles/\\ufffd.rules\""));
  ck_assert_ptr_nonnull(strstr(line,
      "\"text\":\"deny 10.0.0.0/8 \\ufffd\\ufffd \xf0\x9f\x98\x80 "
      "\\ufffd\\ufffd\""));
  ck_assert_ptr_nonnull(strstr(line, "\"reason\":\"rule\\\"\\\\\""));

  /* addr filled to the last byte with no NUL: read no further */
  memset(ev.addr, 0xff, sizeof(ev.addr));
  n = curlfence_event_json(&ev, line, sizeof(line));
  expect_valid(line, n);

  /* before 1970 */
  ev.time_us = -1;
  n = curlfence_event_json(&ev, line, sizeof(line));
  expect_valid(line, n);
  ck_assert_ptr_nonnull(strstr(line,
                               "\"time\":\"1969-12-31T23:59:59.999999Z\""));
}
END_TEST

/* The same event through the JSON Lines callback, read back by a real
 * parser that decodes UTF-8 strictly. */
TU_TEST(tc_utf8, test_python_reads_it)
{
  char path[] = "/tmp/curlfence-audit-XXXXXX", cmd[256];
  curlfence_event ev;
  FILE *f;
  int fd = mkstemp(path);

  ck_assert_int_ge(fd, 0);
  f = fdopen(fd, "w");
  ck_assert_ptr_nonnull(f);
  memset(&ev, 0, sizeof(ev));
  ev.time_us = 1764000000123456;
  ev.family = AF_INET;
  snprintf(ev.addr, sizeof(ev.addr), "192.0.2.1");
  ev.verdict.file = "rules/\xff\xfe.rules";
  ev.verdict.rule = "deny 192.0.2.0/24 \x80";
  ev.verdict.reason = "rule";
  ck_assert_int_eq(curlfence_audit_json(&ev, f), 0);
  fclose(f);
  snprintf(cmd, sizeof(cmd),
           "python3 test/jsonl_check.py %s 1 "
           "'rule.file=rules/\xef\xbf\xbd\xef\xbf\xbd.rules'",
           path);
  ck_assert_int_eq(system(cmd), 0);
  unlink(path);
}
END_TEST

/* ---------------------------------------------------------------- sinks */

static void sample_event(curlfence_event *ev)
{
  memset(ev, 0, sizeof(*ev));
  ev->time_us = 1764000000123456;
  ev->family = AF_INET;
  ev->socktype = SOCK_STREAM;
  ev->port = 80;
  snprintf(ev->addr, sizeof(ev->addr), "192.0.2.1");
  ev->verdict.file = "test.rules";
  ev->verdict.line = 2;
  ev->verdict.rule = "deny 192.0.2.0/24";
  ev->verdict.reason = "rule";
  ev->generation = 1;
}

/* The value of "lost" in a line, or -1 when it has none. */
static long lost_of(const char *line)
{
  const char *p = strstr(line, "\"lost\":");

  return p ? strtol(p + 7, NULL, 10) : -1;
}

TU_CASE(tc_sinks, "sinks", 0, NULL, NULL);

/* A syslog reader that does not read: the socket's queue fills, and the
 * sink drops the events that do not fit without waiting.  None is lost
 * silently: the sink counts them, and the first message that gets through
 * once the reader has caught up says how many were lost before it. */
TU_TEST(tc_sinks, test_syslog_losses_are_reported)
{
  char dir[] = "/tmp/curlfence-sink-XXXXXX", msg[4096], *json;
  struct sockaddr_un un;
  curlfence_sink *s;
  curlfence_event ev;
  int fd, rcvbuf = 1, i, sent = 0, failed = 0, got = 0;
  ssize_t n;

  ck_assert_ptr_nonnull(mkdtemp(dir));
  memset(&un, 0, sizeof(un));
  un.sun_family = AF_UNIX;
  snprintf(un.sun_path, sizeof(un.sun_path), "%s/log", dir);
  fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
                              sizeof(rcvbuf)), 0);
  ck_assert_int_eq(bind(fd, (struct sockaddr *)&un, sizeof(un)), 0);
  ck_assert_int_eq(curlfence_sink_open_syslog(&s, "cftest", LOG_USER,
                                              un.sun_path, NULL),
                   CURLFENCE_OK);
  sample_event(&ev);
  /* More than any queue holds (net.unix.max_dgram_qlen, 10 by default),
   * and each call returns at once. */
  for(i = 0; i < 200; i++) {
    if(curlfence_sink_write(&ev, s) == 0)
      sent++;
    else
      failed++;
  }
  ck_assert_int_gt(failed, 0);
  ck_assert_uint_eq(curlfence_sink_errors(s), (uint64_t)failed);
  while((n = recv(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT)) > 0) {
    msg[n] = '\0';
    ck_assert_msg(lost_of(msg) == 0, "%s", msg);
    got++;
  }
  ck_assert_int_eq(got, sent);
  /* The reader caught up: the next message carries the count. */
  ck_assert_int_eq(curlfence_sink_write(&ev, s), 0);
  n = recv(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT);
  ck_assert_int_gt(n, 0);
  msg[n] = '\0';
  ck_assert_msg(lost_of(msg) == failed, "want \"lost\":%d in %s", failed,
                msg);
  json = strstr(msg, "]: ");
  ck_assert_ptr_nonnull(json);
  expect_valid(json + 3, strlen(json + 3));
  /* ... once: the one after it lost nothing. */
  ck_assert_int_eq(curlfence_sink_write(&ev, s), 0);
  n = recv(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT);
  ck_assert_int_gt(n, 0);
  msg[n] = '\0';
  ck_assert_msg(lost_of(msg) == 0, "%s", msg);
  ck_assert_uint_eq(curlfence_sink_errors(s), (uint64_t)failed);
  curlfence_sink_free(s);
  close(fd);
  unlink(un.sun_path);
  rmdir(dir);
}
END_TEST

/* Read the whole file at path into buf. */
static size_t slurp(const char *path, char *buf, size_t size)
{
  FILE *f = fopen(path, "r");
  size_t n;

  ck_assert_ptr_nonnull(f);
  n = fread(buf, 1, size - 1, f);
  fclose(f);
  buf[n] = '\0';
  return n;
}

/* A file that stops growing (here a file size limit, as a full disk
 * would): a short write leaves part of a line, the next write fails.  Both
 * events are counted as lost, and once the file takes writes again the
 * next line starts on a line of its own and says "lost":2. */
TU_TEST(tc_sinks, test_file_short_write_is_a_loss)
{
  char path[] = "/tmp/curlfence-sink-XXXXXX", line[1024], all[8192];
  char *lines[8], *save = NULL, *l;
  struct rlimit old, lim;
  void (*old_xfsz)(int);
  curlfence_sink *s;
  curlfence_event ev;
  size_t len, k = 0;
  int fd = mkstemp(path);

  ck_assert_int_ge(fd, 0);
  close(fd);
  sample_event(&ev);
  len = curlfence_event_json(&ev, line, sizeof(line)) + 1;
  ck_assert_int_eq(curlfence_sink_open_file(&s, path, NULL), CURLFENCE_OK);
  ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
  lim = old;
  lim.rlim_cur = 2 * len + len / 2;
  old_xfsz = signal(SIGXFSZ, SIG_IGN);
  ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
  ck_assert_int_eq(curlfence_sink_write(&ev, s), 0);
  ck_assert_int_eq(curlfence_sink_write(&ev, s), 0);
  ck_assert_int_eq(curlfence_sink_write(&ev, s), -1);   /* short */
  ck_assert_int_eq(curlfence_sink_write(&ev, s), -1);   /* EFBIG */
  ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
  signal(SIGXFSZ, old_xfsz);
  ck_assert_uint_eq(curlfence_sink_errors(s), 2);
  ck_assert_int_eq(curlfence_sink_write(&ev, s), 0);
  curlfence_sink_free(s);
  slurp(path, all, sizeof(all));
  unlink(path);
  for(l = strtok_r(all, "\n", &save); l && k < 8;
      l = strtok_r(NULL, "\n", &save))
    lines[k++] = l;
  ck_assert_uint_eq(k, 4);
  expect_valid(lines[0], strlen(lines[0]));
  expect_valid(lines[1], strlen(lines[1]));
  ck_assert_uint_eq(strlen(lines[2]), len / 2);     /* what fit */
  expect_valid(lines[3], strlen(lines[3]));
  ck_assert_int_eq(lost_of(lines[0]), 0);
  ck_assert_int_eq(lost_of(lines[3]), 2);
}
END_TEST

/* With fd (standard output or error) on a regular file opened without
 * O_APPEND, as a shell's "2>file" does: what the program writes through
 * its descriptor and the audit lines share one file offset, so neither
 * overwrites the other. */
static void standard_stream_shared(const char *name, int fd)
{
  char path[] = "/tmp/curlfence-sink-XXXXXX", all[4096], line[1024];
  curlfence_sink *s;
  curlfence_event ev;
  int file = mkstemp(path), saved;
  size_t n;

  ck_assert_int_ge(file, 0);
  sample_event(&ev);
  curlfence_event_json(&ev, line, sizeof(line));
  fflush(stdout);
  fflush(stderr);
  saved = dup(fd);
  ck_assert_int_ge(saved, 0);
  ck_assert_int_eq(dup2(file, fd), fd);
  close(file);
  ck_assert_int_eq(write(fd, "before\n", 7), 7);
  /* NULL: the file's own name */
  ck_assert_int_eq(curlfence_sink_open_file(&s, name ? name : path, NULL),
                   CURLFENCE_OK);
  ck_assert_int_eq(curlfence_sink_write(&ev, s), 0);
  ck_assert_int_eq(write(fd, "after\n", 6), 6);
  ck_assert_int_eq(curlfence_sink_write(&ev, s), 0);
  /* The program replacing its descriptor does not take the trail along. */
  ck_assert_int_eq(dup2(saved, fd), fd);
  close(saved);
  ck_assert_int_eq(curlfence_sink_write(&ev, s), 0);
  curlfence_sink_free(s);
  n = slurp(path, all, sizeof(all));
  unlink(path);
  ck_assert_uint_eq(n, 7 + 6 + 3 * (strlen(line) + 1));
  ck_assert_msg(!strncmp(all, "before\n", 7) &&
                !strncmp(all + 7, line, strlen(line)) &&
                !strncmp(all + 7 + strlen(line) + 1, "after\n", 6),
                "%s", all);
}

TU_TEST(tc_sinks, test_stderr_sink_shares_the_offset)
{
  standard_stream_shared("/dev/stderr", STDERR_FILENO);
}
END_TEST

TU_TEST(tc_sinks, test_stdout_sink_shares_the_offset)
{
  standard_stream_shared("-", STDOUT_FILENO);
}
END_TEST

/* Other names of the same file: a path through /proc, or the file's own
 * name.  Opened anew (O_APPEND), the audit line went to the end and the
 * program's next write, at its own offset, overwrote it. */
TU_TEST(tc_sinks, test_other_names_of_a_standard_stream_share_the_offset)
{
  standard_stream_shared("/proc/self/fd/2", STDERR_FILENO);
  standard_stream_shared(NULL, STDOUT_FILENO);
}
END_TEST
