/* SPDX-License-Identifier: MIT */
/*
 * dlvsym() that finds this library.
 *
 * This library's functions carry no symbol version, and a lookup that
 * names one (dlvsym(RTLD_DEFAULT, "curl_easy_init", "CURL_OPENSSL_4"))
 * passes over unversioned definitions: it would return libcurl's own
 * function, whose handles nothing guards.  So dlvsym() answers with this
 * library's function wherever dlsym() would, when the versioned symbol
 * exists at all; other lookups are glibc's.
 *
 * glibc's dlvsym() looks at its caller's return address (for the scope
 * RTLD_DEFAULT and RTLD_NEXT search), so the real function is reached by a
 * tail call that leaves the program's return address in place (PL_TAIL,
 * preload.h).
 *
 * Not in the test programs that link the preload's objects with a
 * sanitizer (Makefile): the sanitizer's runtime calls dlvsym() while it
 * starts, before instrumented code may run.
 */
#include "preload.h"

#include <dlfcn.h>
#include <string.h>
#include <sys/socket.h>

typedef void *(*pl_dlvsym_fn)(void *, const char *, const char *);

static _Atomic(void *) real_dlvsym;

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
  else if(!strcmp(name, "connect"))
    fn = (void (*)(void))connect;
  else if(!strcmp(name, "__connect"))
    fn = (void (*)(void))__connect;
  else if(!strcmp(name, "sendto"))
    fn = (void (*)(void))sendto;
  else if(!strcmp(name, "sendmsg"))
    fn = (void (*)(void))sendmsg;
  else if(!strcmp(name, "sendmmsg"))
    fn = (void (*)(void))sendmmsg;
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
  PL_NEXT(pl_dlvsym_fn, f, real_dlvsym, "dlvsym", NULL);

  if(own_symbol(name) &&
     (handle != RTLD_NEXT ||
      pl_in_main_program(__builtin_return_address(0))))
    return own_versioned(f, handle, name, version);
  PL_TAIL return f(handle, name, version);
}
