/* SPDX-License-Identifier: MIT */
/*
 * The libidn2 and libpsl functions the rules parser uses for host rules,
 * loaded on first use with RTLD_LOCAL, for the reason cidr.c gives: a
 * library linked in would join every program's symbol scope.  Without
 * them, a name with other bytes than ASCII is refused as before, and so is
 * every wildcard host rule (no public suffix list says it is safe): rules
 * that use them do not load, and the process refuses every connection.
 */
#include "preload.h"

#include <dlfcn.h>
#include <idn2.h>
#include <libpsl.h>
#include <string.h>

static struct {
  int (*to_ascii_8z)(const char *, char **, int);
  const psl_ctx_t *(*builtin)(void);
  int (*is_public_suffix2)(const psl_ctx_t *, const char *, int);
} fn;
static pthread_once_t idn_once = PTHREAD_ONCE_INIT,
                      psl_once = PTHREAD_ONCE_INIT;

static void *sym(const char *lib, const char *name)
{
  /* never closed: the parser may run again at any reload */
  void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);

  return h ? dlsym(h, name) : NULL;
}

static void load_idn(void)
{
  void *s = sym("libidn2.so.0", "idn2_to_ascii_8z");

  memcpy(&fn.to_ascii_8z, &s, sizeof(s));
}

static void load_psl(void)
{
  void *b = sym("libpsl.so.5", "psl_builtin");
  void *p = sym("libpsl.so.5", "psl_is_public_suffix2");

  if(b && p) {
    memcpy(&fn.builtin, &b, sizeof(b));
    memcpy(&fn.is_public_suffix2, &p, sizeof(p));
  }
}

int idn2_to_ascii_8z(const char *input, char **output, int flags)
{
  pthread_once(&idn_once, load_idn);
  if(!fn.to_ascii_8z) {
    *output = NULL;
    return IDN2_MALLOC;
  }
  return fn.to_ascii_8z(input, output, flags);
}

const psl_ctx_t *psl_builtin(void)
{
  pthread_once(&psl_once, load_psl);
  return fn.builtin ? fn.builtin() : NULL;
}

int psl_is_public_suffix2(const psl_ctx_t *psl, const char *domain, int type)
{
  return fn.is_public_suffix2(psl, domain, type);
}
