/* SPDX-License-Identifier: MIT */
/*
 * The libcidr functions the rules parser uses, loaded on first use.
 *
 * A library the preload library links against joins the program's global
 * symbol scope ahead of most of the program's own libraries, and every
 * symbol the loader binds at start-up is then looked for in it too: with
 * libcidr linked in, that was most of the preload's start-up cost in
 * programs that never load a rules file.  So libcidr is opened with
 * RTLD_LOCAL when the first rules are parsed and reached through these
 * forwarders.  If it cannot be opened, cidr_from_str() fails, every rule
 * is an error and the process refuses every connection (config.c).
 */
#include "preload.h"

#include <dlfcn.h>
#include <libcidr.h>
#include <string.h>

#define PL_LIBCIDR "libcidr.so.0"

static struct {
  CIDR *(*from_str)(const char *);
  void (*free_)(CIDR *);
  int (*get_pflen)(const CIDR *);
  int (*get_proto)(const CIDR *);
  struct in_addr *(*to_inaddr)(const CIDR *, struct in_addr *);
  struct in6_addr *(*to_in6addr)(const CIDR *, struct in6_addr *);
  CIDR *(*addr_network)(const CIDR *);
  char *(*to_str)(const CIDR *, int);
} fn;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded;

#define PL_SYM(h, dst, name)                                                 \
  do {                                                                       \
    void *s_ = dlsym(h, name);                                               \
    ok &= s_ != NULL;                                                        \
    memcpy(&(dst), &s_, sizeof(dst));                                        \
  } while(0)

static void load(void)
{
  /* Never closed: policies outlive any one parse. */
  void *h = dlopen(PL_LIBCIDR, RTLD_NOW | RTLD_LOCAL);
  int ok = h != NULL;

  if(!h)
    return;
  PL_SYM(h, fn.from_str, "cidr_from_str");
  PL_SYM(h, fn.free_, "cidr_free");
  PL_SYM(h, fn.get_pflen, "cidr_get_pflen");
  PL_SYM(h, fn.get_proto, "cidr_get_proto");
  PL_SYM(h, fn.to_inaddr, "cidr_to_inaddr");
  PL_SYM(h, fn.to_in6addr, "cidr_to_in6addr");
  PL_SYM(h, fn.addr_network, "cidr_addr_network");
  PL_SYM(h, fn.to_str, "cidr_to_str");
  loaded = ok;
}

/* cidr_from_str() is the parser's first call for every address, so only it
 * loads; the others are reached only with a CIDR it returned. */
CIDR *cidr_from_str(const char *s)
{
  pthread_once(&once, load);
  return loaded ? fn.from_str(s) : NULL;
}

void cidr_free(CIDR *c)
{
  fn.free_(c);
}

int cidr_get_pflen(const CIDR *c)
{
  return fn.get_pflen(c);
}

int cidr_get_proto(const CIDR *c)
{
  return fn.get_proto(c);
}

struct in_addr *cidr_to_inaddr(const CIDR *c, struct in_addr *a)
{
  return fn.to_inaddr(c, a);
}

struct in6_addr *cidr_to_in6addr(const CIDR *c, struct in6_addr *a)
{
  return fn.to_in6addr(c, a);
}

CIDR *cidr_addr_network(const CIDR *c)
{
  return fn.addr_network(c);
}

char *cidr_to_str(const CIDR *c, int flags)
{
  return fn.to_str(c, flags);
}
