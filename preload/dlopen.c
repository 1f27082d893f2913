/* SPDX-License-Identifier: MIT */
/*
 * dlopen() without RTLD_DEEPBIND.
 *
 * PHP (before 8.5) loads its extensions with RTLD_DEEPBIND, which makes
 * the curl extension bind to its libcurl ahead of everything in the global
 * scope, this library included: curl_init() would never reach the
 * interposed curl_easy_init().  Dropping the flag gives the extension the
 * ordinary lookup order, in which a preloaded library comes first.  The
 * price, documented in docs/libcurlfence-preload.7: a program that relied
 * on RTLD_DEEPBIND to keep two copies of one symbol apart no longer gets
 * that while the preload library is loaded.
 *
 * glibc's dlopen() looks at its caller's return address (for the caller's
 * RUNPATH and $ORIGIN), so the real dlopen is reached by a tail call that
 * leaves the program's return address in place (PL_TAIL, preload.h).
 */
#include "preload.h"

#include <dlfcn.h>
#include <string.h>

typedef void *(*pl_dlopen_fn)(const char *, int);

static _Atomic(void *) real_dlopen;

__attribute__((visibility("default"))) PL_SIBCALL
void *dlopen(const char *file, int mode)
{
  PL_NEXT(pl_dlopen_fn, f, real_dlopen, "dlopen", NULL);
  PL_TAIL return f(file, mode & ~RTLD_DEEPBIND);
}
