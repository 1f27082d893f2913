/* SPDX-License-Identifier: MIT */
/* The rules parser's internals: what the public loaders cannot show. */
#include "internal.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

/* The arrays are sized by what the text can hold, not by its line count:
 * 704 MiB of blank lines asked for 30 GB of rules. */
START_TEST(test_presize_blank_lines)
{
  static const char mixed[] =
      "# allow 1.2.3.4\n\n  deny ::\n\tallow 10.0.0.0/8 port 80\ndenyx 1\n"
      "default allow\nallow\ndeny";
  size_t n = (size_t)1 << 20, rules, text;
  char *blank = malloc(n);
  cf_ruleset rs;
  curlfence_error err;
  curlfence_policy *p = NULL;

  ck_assert_ptr_nonnull(blank);
  memset(blank, '\n', n);
  cf_rules_presize(mixed, sizeof(mixed) - 1, &rules, &text);
  ck_assert_uint_eq(rules, 2);
  ck_assert_uint_eq(text, strlen("  deny ::\n\tallow 10.0.0.0/8 port 80\n"));
  cf_rules_presize(blank, n, &rules, &text);
  ck_assert_uint_eq(rules, 0);
  ck_assert_uint_eq(text, 0);

  memset(&rs, 0, sizeof(rs));
  ck_assert_int_eq(cf_rules_parse_string(&rs, blank, n, NULL, &err),
                   CURLFENCE_OK);
  ck_assert_uint_eq(rs.nrules, 0);
  ck_assert_msg(rs.caprules < 64 && rs.captexts < 64,
                "%zu rules and %zu text bytes reserved for blank lines",
                rs.caprules, rs.captexts);
  cf_ruleset_free(&rs);
  ck_assert_int_eq(curlfence_policy_load_string(&p, blank, n, NULL, &err),
                   CURLFENCE_OK);
  ck_assert_uint_eq(curlfence_policy_rule_count(p), 0);
  curlfence_policy_unref(p);
  free(blank);
}
END_TEST

Suite *suite_rules_internal(void)
{
  Suite *s = suite_create("rules-internal");
  TCase *tc = tcase_create("presize");

  tcase_add_test(tc, test_presize_blank_lines);
  suite_add_tcase(s, tc);
  return s;
}
