/* SPDX-License-Identifier: MIT */
/* Audit JSON: every line is valid UTF-8 JSON whatever bytes the event
 * holds, checked by a strict checker and by Python's parser. */
#include "testutil.h"
#include "fuzz/json_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The checker must be able to say no, or the tests below prove nothing. */
START_TEST(test_checker)
{
  static const char *good[] = {
    "{}", " {\"a\":[1,-0.5e+3,true,false,null,{}]} ", "{\"\\ud83d\\ude00\":\"\\u00e9\xc3\xa9\"}",
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

START_TEST(test_hostile_bytes)
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
      "\"addr\":\"/run/\\ufffd\\ufffd\\u0001\\u007f\\ufffd\\ufffd\\ufffd.sock\""));
  ck_assert_ptr_nonnull(strstr(line,
      "\"file\":\"/etc/r\xc3\xa9gles/\\ufffd.rules\""));
  ck_assert_ptr_nonnull(strstr(line,
      "\"text\":\"deny 10.0.0.0/8 \\ufffd\\ufffd \xf0\x9f\x98\x80 \\ufffd\\ufffd\""));
  ck_assert_ptr_nonnull(strstr(line, "\"reason\":\"rule\\\"\\\\\""));

  /* addr filled to the last byte with no NUL: read no further */
  memset(ev.addr, 0xff, sizeof(ev.addr));
  n = curlfence_event_json(&ev, line, sizeof(line));
  expect_valid(line, n);

  /* before 1970 */
  ev.time_us = -1;
  n = curlfence_event_json(&ev, line, sizeof(line));
  expect_valid(line, n);
  ck_assert_ptr_nonnull(strstr(line, "\"time\":\"1969-12-31T23:59:59.999999Z\""));
}
END_TEST

/* The same event through the JSON Lines callback, read back by a real
 * parser that decodes UTF-8 strictly. */
START_TEST(test_python_reads_it)
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
           "python3 test/jsonl_check.py %s 1 'rule.file=rules/\xef\xbf\xbd\xef\xbf\xbd.rules'",
           path);
  ck_assert_int_eq(system(cmd), 0);
  unlink(path);
}
END_TEST

Suite *suite_audit_json(void)
{
  Suite *s = suite_create("audit-json");
  TCase *tc = tcase_create("utf8");

  tcase_add_test(tc, test_checker);
  tcase_add_test(tc, test_hostile_bytes);
  tcase_add_test(tc, test_python_reads_it);
  suite_add_tcase(s, tc);
  return s;
}
