/* SPDX-License-Identifier: MIT */
/*
 * An LD_AUDIT library that keeps every library whose name has "curlfence"
 * in it out of the process: the loader asks an audit library for each
 * name it looks up, preloaded libraries included, and loads nothing for
 * a name it answers with NULL.  `curlfence run` must refuse to start a
 * command with LD_AUDIT set (test/test_preload_run.c).
 */
#include <link.h>
#include <stddef.h>
#include <string.h>

__attribute__((visibility("default"))) unsigned la_version(unsigned v);
__attribute__((visibility("default"))) char *
la_objsearch(const char *name, uintptr_t *cookie, unsigned flag);

unsigned la_version(unsigned v)
{
  (void)v;
  return LAV_CURRENT;
}

char *la_objsearch(const char *name, uintptr_t *cookie, unsigned flag)
{
  (void)cookie;
  (void)flag;
  return strstr(name, "curlfence") ? NULL : (char *)name;
}
