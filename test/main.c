/* SPDX-License-Identifier: MIT */
/* Runs every Check suite; the exit status is the number of failures. */
#include "testutil.h"

#include <stdlib.h>

int main(void)
{
  SRunner *sr = srunner_create(suite_rules());
  int failed;

#ifndef CF_TEST_PUBLIC_ONLY /* suites of internals: not in the shared-library run */
  srunner_add_suite(sr, suite_table());
  srunner_add_suite(sr, suite_rules_internal());
  srunner_add_suite(sr, suite_nat64_internal());
  srunner_add_suite(sr, suite_guard_internal());
#endif
  srunner_add_suite(sr, suite_policy());
  srunner_add_suite(sr, suite_default_rules());
  srunner_add_suite(sr, suite_guard());
  srunner_add_suite(sr, suite_audit_json());
#ifndef CF_TEST_PUBLIC_ONLY
  srunner_add_suite(sr, suite_reload());  /* the guard's reload hook */
  srunner_add_suite(sr, suite_diff());
  srunner_add_suite(sr, suite_preload());
  srunner_add_suite(sr, suite_image());   /* damages images through internals */
  srunner_add_suite(sr, suite_image_nat64());
  srunner_add_suite(sr, suite_util());
#endif
  srunner_add_suite(sr, suite_nat64());
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
