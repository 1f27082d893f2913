/* SPDX-License-Identifier: MIT */
/* Runs every Check test linked into the program (the registry in
 * testutil.h); the exit status says whether any failed. */
#include "testutil.h"

#include <stdlib.h>

int main(void)
{
  SRunner *sr = tu_runner();
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
