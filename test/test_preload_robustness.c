/* SPDX-License-Identifier: MIT */
/*
 * Long runs of programs under the preload library: fork while handles
 * are busy, and memory that stays flat over many transfers.
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

TU_SUITE_STATIC_ONLY("preload_robustness", NULL);

/* ------------------------------------------------------- fork and memory */

/* Long runs, in their own case so that they can be run alone
 * (CK_RUN_CASE=robustness). */
TU_CASE(tc_robustness, "robustness", 300, setup, teardown);

/* fork() while another thread makes, sets up and frees handles, and while
 * a thread makes a process's first handle (test/prog/preload_fork.c):
 * every child gets its handle and has the denied URL refused.  A lock held
 * by another thread at the fork stayed held in the child, which then hung
 * in curl_easy_init(). */
TU_TEST(tc_robustness, fork_while_handles_are_busy)
{
  char prog[PATH_MAX + 32];
  const char *argv[] = { tool, "run", "-r", rules, "--", prog,
                         url("127.0.0.3", "/f"), NULL };

  sibling(prog, sizeof(prog), "preload-fork");
  guarded_status(res, NULL, argv, 0);
  ck_assert_str_eq(res->out, "forks 300 stuck 0 wrong 0\n");
  ck_assert_uint_eq(th_requests(denied), 0);
}
END_TEST

/* test/prog/preload_memory.c's growth in KB over cycles of mode, under the
 * preload library or without it. */
static long memory_growth(const char *mode, int preloaded)
{
  char prog[PATH_MAX + 32];
  const char *plain[] = { prog, mode, "100000", url("127.0.0.2", "/m"),
                          NULL };
  const char *under[] = { tool, "run", "-r", rules, "--", prog, mode,
                          "100000", url("127.0.0.2", "/m"), NULL };
  long kb = -1;

  sibling(prog, sizeof(prog), "preload-memory");
  if(preloaded)
    guarded(res, NULL, under);
  else
    run_status(res, NULL, plain, 0);
  ck_assert_msg(sscanf(res->out, "grew %ld", &kb) == 1, SAYS(res));
  return kb;
}

/* libcurl makes a handle of its own for every multi handle, and
 * curl_easy_perform() a multi handle, through curl_easy_init(), and frees
 * them itself: the preload library kept a record of each, +9.5 MB over
 * these 100,000 transfers and +18.7 MB over 200,000 multi handles.  The
 * resident set now grows as much as without it, give or take 1 MB. */
TU_TEST(tc_robustness, memory_flat_over_easy_transfers)
{
  long with, without;

  /* Under memcheck (make valgrind) the suite's server, in this process,
   * would take most of an hour over the 200,000 requests. */
  if(tu_quick())
    return;
  with = memory_growth("easy", 1);
  without = memory_growth("easy", 0);

  ck_assert_msg(with - without <= 1024, "grew %ld KB under the preload "
                "library, %ld KB without", with, without);
  ck_assert_uint_eq(th_requests(allowed), 200000);
}
END_TEST

TU_TEST(tc_robustness, memory_flat_over_multi_handles)
{
  long with = memory_growth("multi", 1), without = memory_growth("multi", 0);

  ck_assert_msg(with - without <= 1024, "grew %ld KB under the preload "
                "library, %ld KB without", with, without);
}
END_TEST
