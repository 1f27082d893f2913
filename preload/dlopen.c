/* SPDX-License-Identifier: MIT */
/*
 * dlopen() without RTLD_DEEPBIND, and dlvsym() that finds this library.
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
 * This library's functions carry no symbol version, and a lookup that
 * names one (dlvsym(RTLD_DEFAULT, "curl_easy_init", "CURL_OPENSSL_4"))
 * passes over unversioned definitions: it would return libcurl's own
 * function, whose handles nothing guards.  So dlvsym() answers with this
 * library's function wherever dlsym() would, when the versioned symbol
 * exists at all; other lookups are glibc's.
 *
 * glibc's dlopen() and dlvsym() look at their caller's return address
 * (for the caller's RUNPATH and $ORIGIN, and for the scope RTLD_DEFAULT
 * and RTLD_NEXT search), so the real function is reached by a tail call
 * that leaves the program's return address in place: the file is built
 * with -O2 (which enables sibling calls in gcc) and clang is told
 * musttail.
 */
#include "preload.h"

#include <dlfcn.h>
#include <string.h>

typedef void *(*pl_dlopen_fn)(const char *, int);
typedef void *(*pl_dlvsym_fn)(void *, const char *, const char *);

static _Atomic(pl_dlopen_fn) real_dlopen;
static _Atomic(pl_dlvsym_fn) real_dlvsym;

static void *next(const char *name)
{
  return dlsym(RTLD_NEXT, name);
}

static pl_dlopen_fn find_dlopen(void)
{
  void *sym = next("dlopen");
  pl_dlopen_fn f;

  memcpy(&f, &sym, sizeof(f));
  atomic_store(&real_dlopen, f);
  return f;
}

static pl_dlvsym_fn find_dlvsym(void)
{
  void *sym = next("dlvsym");
  pl_dlvsym_fn f;

  memcpy(&f, &sym, sizeof(f));
  atomic_store(&real_dlvsym, f);
  return f;
}

#if defined(__clang__)
#define PL_TAIL __attribute__((musttail))
#define PL_SIBCALL
#else
#define PL_TAIL
#define PL_SIBCALL __attribute__((optimize("optimize-sibling-calls")))
#endif

__attribute__((visibility("default"))) PL_SIBCALL
void *dlopen(const char *file, int mode)
{
  pl_dlopen_fn f = atomic_load(&real_dlopen);

  if(!f)
    f = find_dlopen();
  PL_TAIL return f(file, mode & ~RTLD_DEEPBIND);
}

/* This library's definition of name, as the program's lookups find it,
 * for the functions it exports; NULL for any other name. */
static void *own_symbol(const char *name)
{
  void (*fn)(void) = NULL;
  void *p;

  if(!strcmp(name, "curl_easy_init"))
    fn = (void (*)(void))curl_easy_init;
  else if(!strcmp(name, "curl_easy_duphandle"))
    fn = (void (*)(void))curl_easy_duphandle;
  else if(!strcmp(name, "curl_easy_reset"))
    fn = (void (*)(void))curl_easy_reset;
  else if(!strcmp(name, "curl_easy_cleanup"))
    fn = (void (*)(void))curl_easy_cleanup;
  else if(!strcmp(name, "curl_easy_setopt"))
    fn = (void (*)(void))curl_easy_setopt;
  else if(!strcmp(name, "dlopen"))
    fn = (void (*)(void))dlopen;
  else if(!strcmp(name, "dlvsym"))
    fn = (void (*)(void))dlvsym;
  memcpy(&p, &fn, sizeof(p));
  return p;
}

/* dlvsym() of one of this library's names: this library's function when
 * the versioned symbol exists and an unversioned lookup in the same place
 * finds this library.  RTLD_NEXT comes here only from the main program,
 * for which this library is the next object.  Kept out of dlvsym() so that
 * its other lookups stay a plain tail call. */
__attribute__((noinline))
static void *own_versioned(pl_dlvsym_fn f, void *handle, const char *name,
                           const char *version)
{
  void *own = own_symbol(name);
  void *found = f(handle, name, version);

  if(!found || found == own)
    return found;
  if(handle == RTLD_NEXT || dlsym(handle, name) == own)
    return own;
  return found;
}

__attribute__((visibility("default"))) PL_SIBCALL
void *dlvsym(void *handle, const char *name, const char *version)
{
  pl_dlvsym_fn f = atomic_load(&real_dlvsym);

  if(!f)
    f = find_dlvsym();
  if(own_symbol(name) &&
     (handle != RTLD_NEXT ||
      pl_in_main_program(__builtin_return_address(0))))
    return own_versioned(f, handle, name, version);
  PL_TAIL return f(handle, name, version);
}
