/* Runs every Check suite; the exit status is the number of failures. */
#include "testutil.h"

#include <stdlib.h>

int main(void)
{
  SRunner *sr = srunner_create(suite_rules());
  int failed;

  srunner_add_suite(sr, suite_table());
  srunner_add_suite(sr, suite_policy());
  srunner_add_suite(sr, suite_default_rules());
  srunner_add_suite(sr, suite_guard());
  srunner_add_suite(sr, suite_reload());
  srunner_add_suite(sr, suite_image());
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
