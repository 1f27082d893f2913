/* SPDX-License-Identifier: MIT */
/*
 * Which libcurl a caller uses.
 *
 * A process may hold two libcurls (Debian: libcurl.so.4 built with
 * OpenSSL and libcurl-gnutls.so.4), and one of them may be loaded with
 * local scope (Python imports pycurl with RTLD_LOCAL), where
 * dlsym(RTLD_NEXT) cannot see it.  So the libcurl is looked up from the
 * calling code: dladdr() names the object the call came from, and dlsym()
 * on that object's handle searches the object and its own dependencies,
 * which hold the libcurl it was linked against.  For the main program,
 * whose handle would search the global scope and find this library's own
 * functions, RTLD_NEXT (the objects loaded after this one in the global
 * scope) is the answer.  Nothing is ever loaded: RTLD_NOLOAD only
 * finds objects that are already there.
 *
 * Layout: a singly linked list of (object base, functions) pairs, newest
 * first, pushed with a compare-and-swap and never freed, so lookups take no
 * lock.  A process has a handful of calling objects; a lookup is a short
 * walk plus, the first time per object, a dladdr() and a dlopen().
 */
#include "preload.h"

#include <dlfcn.h>
#include <link.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct pl_curl_entry {
  const void *base;                /* load address of the calling object */
  pl_curl fns;
  int internal;                    /* the calling object is that libcurl */
  struct pl_curl_entry *next;
} pl_curl_entry;

static _Atomic(pl_curl_entry *) entries;

/* Object pointers and function pointers do not convert in ISO C; dlsym()
 * returns the address as the former. */
#define PL_FN(dst, src) memcpy(&(dst), &(src), sizeof(dst))

/* Where a libcurl's curl_easy_init is, to name the object it is in. */
static void *pl_addr(CURL *(*fn)(void))
{
  void *p;

  PL_FN(p, fn);
  return p;
}

/* The functions that name a connection (guard/name.c), all or none. */
static void url_api(void *h, pl_curl *f)
{
  void *s[6] = {
    dlsym(h, "curl_easy_getinfo"), dlsym(h, "curl_url"),
    dlsym(h, "curl_url_set"), dlsym(h, "curl_url_get"),
    dlsym(h, "curl_url_cleanup"), dlsym(h, "curl_free")
  };
  int i;

  memset(&f->url, 0, sizeof(f->url));
  for(i = 0; i < 6; i++)
    if(!s[i])
      return;
  PL_FN(f->url.url, s[1]);
  PL_FN(f->url.set, s[2]);
  PL_FN(f->url.get, s[3]);
  PL_FN(f->url.cleanup, s[4]);
  PL_FN(f->url.free, s[5]);
  PL_FN(f->url.getinfo, s[0]);
}

static int lookup(void *h, pl_curl *f)
{
  void *s[5] = {
    dlsym(h, "curl_easy_init"), dlsym(h, "curl_easy_duphandle"),
    dlsym(h, "curl_easy_reset"), dlsym(h, "curl_easy_cleanup"),
    dlsym(h, "curl_easy_setopt")
  };
  int i;

  for(i = 0; i < 5; i++)
    if(!s[i])
      return -1;
  PL_FN(f->init, s[0]);
  PL_FN(f->duphandle, s[1]);
  PL_FN(f->reset, s[2]);
  PL_FN(f->cleanup, s[3]);
  PL_FN(f->setopt, s[4]);
  url_api(h, f);
  /* The handle of an object whose scope includes this library (the main
   * program's) finds the interposed functions themselves. */
  return f->init == curl_easy_init ? -1 : 0;
}

/* dl_iterate_phdr() reports the main program first: is addr in it? */
static int main_first(struct dl_phdr_info *info, size_t size, void *data)
{
  uintptr_t *addr = data;
  int i;

  (void)size;
  for(i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr;

    if(ph->p_type == PT_LOAD && *addr >= lo && *addr - lo < ph->p_memsz)
      *addr = 0;
  }
  return 1;
}

int pl_in_main_program(const void *caller)
{
  uintptr_t addr = (uintptr_t)caller;

  dl_iterate_phdr(main_first, &addr);
  return addr == 0;
}

static int is_next_libcurl(const Dl_info *caller)
{
  void *next = dlsym(RTLD_NEXT, "curl_easy_init");
  Dl_info info;

  return next && dladdr(next, &info) && info.dli_fbase == caller->dli_fbase;
}

static int resolve(const void *caller, const Dl_info *info, pl_curl *f)
{
  void *h = NULL;
  int rc = -1;

  /* dladdr() names the main program by argv[0]; looking that name up
   * would search the library path, file by file, for nothing.  A call from
   * inside the libcurl that RTLD_NEXT finds needs no handle either, and
   * dlopen() of a library loaded at start-up first builds its whole
   * dependency list, which costs more than the rest of the set-up. */
  if(info->dli_fname && info->dli_fname[0] && !pl_in_main_program(caller) &&
     !is_next_libcurl(info))
    h = dlopen(info->dli_fname, RTLD_LAZY | RTLD_NOLOAD);
  if(h) {
    rc = lookup(h, f);
    dlclose(h);
  }
  if(rc)
    rc = lookup(RTLD_NEXT, f);
  return rc;
}

const pl_curl *pl_curl_for(const void *caller, int *internal)
{
  pl_curl_entry *e, *head;
  Dl_info info, lib;

  *internal = 0;
  memset(&info, 0, sizeof(info));
  if(!dladdr(caller, &info))
    info.dli_fbase = NULL;
  head = atomic_load(&entries);
  for(e = head; e; e = e->next) {
    if(e->base == info.dli_fbase) {
      *internal = e->internal;
      return &e->fns;
    }
  }
  e = calloc(1, sizeof(*e));
  if(!e)
    return NULL;
  e->base = info.dli_fbase;
  if(resolve(caller, &info, &e->fns)) {
    free(e);
    return NULL;
  }
  e->internal = info.dli_fbase && dladdr(pl_addr(e->fns.init), &lib) &&
                lib.dli_fbase == info.dli_fbase;
  *internal = e->internal;
  /* Two threads may resolve the same object at once; both entries are
   * equal, so either may win the lookups that follow. */
  do
    e->next = head;
  while(!atomic_compare_exchange_weak(&entries, &head, e));
  return &e->fns;
}
