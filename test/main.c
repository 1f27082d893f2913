/* SPDX-License-Identifier: MIT */
/* Runs every Check suite linked into the program (the registry in
 * testutil.h); the exit status is the number of failures. */
#include "testutil.h"

#include <stdlib.h>

extern const tu_suite *__start_tu_suites[], *__stop_tu_suites[];

int main(void)
{
  SRunner *sr = srunner_create(NULL);
  const tu_suite **s;
  int failed;

  for(s = __start_tu_suites; s < __stop_tu_suites; s++)
    srunner_add_suite(sr, tu_suite_build(*s));
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
