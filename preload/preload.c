/* SPDX-License-Identifier: MIT */
/*
 * The interposed libcurl functions.  Every easy handle the program makes
 * (curl_easy_init, curl_easy_duphandle) gets the guard's open-socket and
 * pre-request checks before the program sees it, and again after
 * curl_easy_reset; curl_easy_setopt keeps them there:
 *
 * - the program's own OPENSOCKETFUNCTION/DATA and PREREQFUNCTION/DATA are
 *   kept in the handle's record and called behind the check, per handle:
 *   the open callback only for allowed destinations, the pre-request
 *   callback after the check passed (and it may still refuse);
 * - CLOSESOCKETFUNCTION/DATA go to libcurl unchanged: closing needs no
 *   check, and libcurl may close pooled sockets after the handle that
 *   opened them is gone, when its record is freed already.  The record
 *   keeps a copy only to close a datagram socket the check could not pin
 *   (cf_guard_open), which happens while the handle is in use;
 * - PROXY, NOPROXY and PRE_PROXY are dropped unless CURLFENCE_KEEP_PROXY
 *   is set, DOH_URL unless CURLFENCE_KEEP_DOH is: the transfer then goes
 *   direct and the check sees the real destination.
 *
 * Each call goes to the libcurl that made the handle (libcurl.c).  The
 * handles libcurl makes for itself through its public functions get no
 * record and no checks of their own (own_use()); a handle the preload did
 * not see made gets both when the program first calls on it
 * (record_for()).
 */
#include "preload.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define PL_EXPORT __attribute__((visibility("default")))

/* ------------------------------------------------------------ callbacks */

/* The functions of the libcurl that made h's handle: the checks use the
 * name of the connection that handle is making.  Each handle has a record
 * of its own (copies get theirs in curl_easy_duphandle), so the record's
 * handle is the one connecting; libcurl's own copies have records without
 * a handle, and no name.  The record remembers the last URL named, so the
 * pre-request check after the open check of a connection, and the
 * requests that reuse it, do not parse the same URL again. */
static const cf_urlapi *pl_urlapi(const pl_handle *h)
{
  return h->lib ? &h->lib->url : NULL;
}

static curl_socket_t pl_open(void *clientp, curlsocktype purpose,
                             struct curl_sockaddr *a)
{
  const pl_config *c = pl_config_get();
  pl_handle *h = clientp;
  curl_socket_t fd;

  if(!h || h->broken)
    return CURL_SOCKET_BAD;
  fd = cf_guard_open_named(c->guard, purpose, a, c->flags, &h->chain,
                           pl_urlapi(h), h->curl, &h->memo);
  /* Decided here: libcurl's connect() to this address is not decided
   * again (sockets.c). */
  if(fd != CURL_SOCKET_BAD && c->sockets_all)
    pl_socket_allowed(fd, (const struct sockaddr *)&a->addr, a->addrlen);
  return fd;
}

static int pl_prereq(void *clientp, char *primary_ip, char *local_ip,
                     int primary_port, int local_port)
{
  const pl_config *c = pl_config_get();
  pl_handle *h = clientp;
  int rc;

  if(!h || h->broken)
    return CURL_PREREQFUNC_ABORT;
  rc = cf_guard_prereq_named(c->guard, primary_ip, local_ip, primary_port,
                             local_port, c->flags, pl_urlapi(h), h->curl,
                             &h->memo);
  if(rc != CURL_PREREQFUNC_OK)
    return CURL_PREREQFUNC_ABORT;
  if(h->prereq_fn)
    return h->prereq_fn(h->prereq_data, primary_ip, local_ip, primary_port,
                        local_port);
  return CURL_PREREQFUNC_OK;
}

/* Put the checks on a handle.  If libcurl refuses any of it
 * (PREREQFUNCTION needs 7.80.0; the strings need memory) the handle is
 * marked broken and its open callback, which takes no memory to install,
 * refuses everything: curl_easy_init() then frees it, and a handle
 * curl_easy_reset() could not re-arm fails every connection. */
static int hook(pl_handle *h)
{
  const pl_config *c = pl_config_get();
  /* The program's close callback stays with libcurl (see the top). */
  cf_hooks k = { pl_open, h, pl_prereq, h, 0, NULL, NULL };
  unsigned keep = (c->keep_proxy ? CURLFENCE_ATTACH_KEEP_PROXY : 0) |
                  (c->keep_doh ? CURLFENCE_ATTACH_KEEP_DOH : 0);

  h->broken = cf_harden(h->curl, h->lib->setopt, &k, keep) != CURLE_OK;
  return h->broken ? -1 : 0;
}

/* A record and the checks for a handle lib just made; on failure the
 * handle is freed and NULL returned, as libcurl does when out of memory. */
static CURL *adopt(CURL *curl, const pl_curl *lib, const pl_handle *from)
{
  pl_handle *h;

  if(!curl)
    return NULL;
  h = pl_handle_add(curl, lib);
  if(h && from) {
    h->chain = from->chain;
    h->prereq_fn = from->prereq_fn;
    h->prereq_data = from->prereq_data;
  }
  if(!h || hook(h)) {
    pl_handle_remove(curl);
    lib->cleanup(curl);
    return NULL;
  }
  return curl;
}

/* ----------------------------------------------------------- interposed */

/* The loader binds each function to the first object in the global scope
 * that defines it.  If one ahead of this library defines curl_easy_init
 * (libcurl itself or another wrapper listed earlier in LD_PRELOAD), the
 * program's calls never come here and no handle is guarded; nothing here
 * can refuse them, so the process is at least told, once, at load.  Not
 * when these objects are linked into a program (the test builds), nor for
 * the program's own definition (a libcurl linked in statically, or the
 * address a non-PIE program takes of the function), which no preloaded
 * library can replace (docs/libcurlfence-preload.7). */
static const char here;

__attribute__((constructor)) static void check_order(void)
{
  void *first = dlsym(RTLD_DEFAULT, "curl_easy_init");
  Dl_info self, info;

  /* By object, not by address: this library's own references to its
   * exported functions are bound like the program's, to the first. */
  if(!first || !dladdr(&here, &self) || pl_in_main_program(&here) ||
     !dladdr(first, &info) || info.dli_fbase == self.dli_fbase ||
     pl_in_main_program(first))
    return;
  if(!info.dli_fname || !info.dli_fname[0])
    info.dli_fname = "the program";
  fprintf(stderr, "curlfence: %s defines curl_easy_init ahead of the "
          "preload library (list the library first in LD_PRELOAD); this "
          "process's libcurl handles are not guarded\n", info.dli_fname);
}


/* The records of handles libcurl duplicates for itself from a guarded one
 * (a pushed HTTP/2 stream): the copy inherits the checks, and with them
 * the source's record as their data, which the source's cleanup frees
 * while the copy may live on.  They point here instead, to records that
 * live as long as the process: the checks without the program's
 * callbacks, or, from a handle that could not be armed, refusal. */
static pl_handle libcurl_copy, libcurl_copy_broken = { .broken = 1 };

/* libcurl's handles for itself: each multi and share handle's handle for
 * closing connections, and pushed streams.  The preload keeps no record
 * of them, since libcurl frees them where the preload cannot see it;
 * a record left under the new handle's address by such a handle is
 * dropped.  A copy's checks get data that outlives its source. */
static CURL *own_use(CURL *curl, const pl_curl *lib, const pl_handle *from)
{
  if(!curl)
    return NULL;
  pl_handle_remove(curl);
  if(from) {
    pl_handle *rec = from->broken ? &libcurl_copy_broken : &libcurl_copy;

    if(lib->setopt(curl, CURLOPT_OPENSOCKETDATA, (void *)rec) ||
       lib->setopt(curl, CURLOPT_PREREQDATA, (void *)rec)) {
      lib->cleanup(curl);
      return NULL;
    }
  }
  return curl;
}

/* The record of curl, for a call from caller, and the libcurl to call.  A
 * handle the preload did not see made (a pushed stream libcurl handed the
 * program, or one made through libcurl's own functions) gets a record and
 * the checks the first time the program itself calls on it, so it cannot
 * take that handle around them; libcurl's own calls pass through.  -1
 * when the handle cannot get a record (out of memory). */
static int record_for(CURL *curl, const void *caller, pl_handle **h,
                      const pl_curl **lib)
{
  int internal;

  *h = pl_handle_find(curl);
  if(*h) {
    *lib = (*h)->lib;
    return 0;
  }
  *lib = pl_curl_for(caller, &internal);
  if(!*lib || internal || !curl)
    return 0;
  pl_config_get();
  *h = pl_handle_add(curl, *lib);
  if(!*h)
    return -1;
  hook(*h);
  return 0;
}

PL_EXPORT CURL *curl_easy_init(void)
{
  int internal;
  const pl_curl *lib = pl_curl_for(__builtin_return_address(0), &internal);

  if(!lib)
    return NULL;
  if(internal)
    return own_use(lib->init(), lib, NULL);
  pl_config_get();
  return adopt(lib->init(), lib, NULL);
}

PL_EXPORT CURL *curl_easy_duphandle(CURL *curl)
{
  pl_handle *from = pl_handle_find(curl);
  int internal;
  const pl_curl *caller = pl_curl_for(__builtin_return_address(0),
                                      &internal);
  const pl_curl *lib = from ? from->lib : caller;

  if(!lib)
    return NULL;
  if(internal)
    return own_use(lib->duphandle(curl), lib, from);
  pl_config_get();
  /* The copy carries the source's callback data, which is the source's
   * record; adopt() gives it its own. */
  return adopt(lib->duphandle(curl), lib, from);
}

PL_EXPORT void curl_easy_reset(CURL *curl)
{
  pl_handle *h;
  const pl_curl *lib;

  if(record_for(curl, __builtin_return_address(0), &h, &lib) || !lib)
    return;
  lib->reset(curl);
  if(!h)
    return;
  memset(&h->chain, 0, sizeof(h->chain));
  h->prereq_fn = NULL;
  h->prereq_data = NULL;
  hook(h);
}

PL_EXPORT void curl_easy_cleanup(CURL *curl)
{
  /* Out of the table before libcurl frees the handle, freed after: once
   * the handle's memory is free, another thread's curl_easy_init() may get
   * the same address and register it.  Cleaning up opens no connection, so
   * nothing reads the record in between. */
  pl_handle *h = pl_handle_take(curl);
  int internal;
  const pl_curl *lib = h ? h->lib
                         : pl_curl_for(__builtin_return_address(0),
                                       &internal);

  if(lib)
    lib->cleanup(curl);
  pl_handle_free(h);
}

/* The variadic argument's type follows from the option's number
 * (curl/curl.h: CURLOPTTYPE_*). */
typedef void (*pl_fnptr)(void);

PL_EXPORT CURLcode curl_easy_setopt(CURL *curl, CURLoption opt, ...)
{
  pl_handle *h;
  const pl_curl *lib;
  const pl_config *c;
  CURLcode rc;
  va_list ap;

  if(record_for(curl, __builtin_return_address(0), &h, &lib))
    return CURLE_OUT_OF_MEMORY;
  if(!lib)
    return CURLE_FAILED_INIT;
  va_start(ap, opt);
  if(opt < CURLOPTTYPE_OBJECTPOINT) {
    rc = lib->setopt(curl, opt, va_arg(ap, long));
  }
  else if(opt < CURLOPTTYPE_FUNCTIONPOINT) {
    void *p = va_arg(ap, void *);

    c = h ? pl_config_get() : NULL;
    if(h && opt == CURLOPT_OPENSOCKETDATA)
      h->chain.open_data = p, rc = CURLE_OK;
    else if(h && opt == CURLOPT_PREREQDATA)
      h->prereq_data = p, rc = CURLE_OK;
    else if(c && !c->keep_proxy && (opt == CURLOPT_PROXY ||
                                    opt == CURLOPT_NOPROXY ||
                                    opt == CURLOPT_PRE_PROXY))
      rc = CURLE_OK;
    else if(c && !c->keep_doh && opt == CURLOPT_DOH_URL)
      rc = CURLE_OK;
    else if((rc = lib->setopt(curl, opt, p)) == CURLE_OK && h &&
            opt == CURLOPT_CLOSESOCKETDATA)
      h->chain.close_data = p;
  }
  else if(opt < CURLOPTTYPE_OFF_T) {
    pl_fnptr f = va_arg(ap, pl_fnptr);

    if(h && opt == CURLOPT_OPENSOCKETFUNCTION) {
      h->chain.open_fn = (curl_opensocket_callback)f;
      rc = CURLE_OK;
    }
    else if(h && opt == CURLOPT_PREREQFUNCTION) {
      h->prereq_fn = (curl_prereq_callback)f;
      rc = CURLE_OK;
    }
    else if((rc = lib->setopt(curl, opt, f)) == CURLE_OK && h &&
            opt == CURLOPT_CLOSESOCKETFUNCTION) {
      h->chain.close_fn = (curl_closesocket_callback)f;
    }
  }
  else if(opt < CURLOPTTYPE_BLOB) {
    rc = lib->setopt(curl, opt, va_arg(ap, curl_off_t));
  }
  else {
    rc = lib->setopt(curl, opt, va_arg(ap, void *));
  }
  va_end(ap);
  return rc;
}

void *pl_next(_Atomic(void *) *slot, const char *name)
{
  void *f = atomic_load_explicit(slot, memory_order_relaxed);

  if(!f) {
    f = dlsym(RTLD_NEXT, name);
    atomic_store_explicit(slot, f, memory_order_relaxed);
  }
  return f;
}
