/* SPDX-License-Identifier: MIT */
/*
 * Names for the program's own sockets.  getaddrinfo(), gethostbyname(),
 * gethostbyname2() and their _r forms are interposed, and each successful
 * lookup of a host name remembers which name gave which IPv4 or IPv6
 * address.  A later connect() or sendto() of the program to such an
 * address is decided with that name (sockets.c), so host rules apply to
 * programs that resolve names themselves.
 *
 * The table only ever adds a name the program itself looked up to that
 * address: a name cannot be planted from outside the process, and by the
 * engine's precedence a host rule never opens an address an address rule
 * denies (only an "allow host NAME to PREFIX" exemption that names both).
 *
 * Several names for one address: the address then has no name.  Using the
 * most recent name would let a program (or a page it fetches) that
 * resolves an allowed name to the same address, after a denied one, have
 * its next connection decided as the allowed name; with no name the
 * connection is decided as an IP literal to that address, which the
 * program could always have made.  The address keeps no name until its
 * entry is forgotten.
 *
 * Bounded memory: PL_NAME_SETS sets of PL_NAME_WAYS entries, keyed by a
 * hash of the address, in static storage.  A full set forgets its least
 * recently resolved entry; that address then has no name again (decided as
 * an IP literal: host allows no longer apply).  One mutex guards the
 * table and is held for one set's compare and copy; fork() takes it first
 * and both sides release it, as handles.c does, and the child keeps the
 * parent's names.  Without the fork handlers nothing is remembered.
 *
 * Numeric lookups (an address given as text, any spelling cf_host_canon()
 * takes for an address) and names that are not canonical LDH names (IDN
 * in U-labels) give no name.  libcurl's own lookups land here too, but
 * its connections are decided by the open-socket check with the URL's name
 * and are not decided again when they connect (sockets.c).
 */
#include "preload.h"

#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#define PL_EXPORT __attribute__((visibility("default")))

#define PL_NAME_SETS 256u
#define PL_NAME_WAYS 4u

typedef struct pl_name {
  uint8_t addr[16];              /* IPv4 as ::ffff:a.b.c.d */
  uint64_t used;                 /* when last resolved; 0: empty */
  char host[CF_HOST_MAX + 1];    /* canonical; "" when several names */
} pl_name;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pl_name table[PL_NAME_SETS][PL_NAME_WAYS];
static uint64_t clock_;
/* Whether anything was remembered: most programs never resolve a name,
 * and their connections then skip the lock. */
static atomic_int any;
static int no_fork_handlers;

static void names_lock(void)
{
  pthread_mutex_lock(&lock);
}

static void names_unlock(void)
{
  pthread_mutex_unlock(&lock);
}

__attribute__((constructor)) static void names_init(void)
{
  if(pthread_atfork(names_lock, names_unlock, names_unlock))
    no_fork_handlers = 1;
}

/* The address of sa (AF_INET or AF_INET6, len bytes) as 16 bytes; 0 when
 * it is neither. */
static int key_of(int family, const void *addr, uint8_t out[16])
{
  if(family == AF_INET) {
    memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    memcpy(out + 12, addr, 4);
    return 1;
  }
  if(family == AF_INET6) {
    memcpy(out, addr, 16);
    return 1;
  }
  return 0;
}

static int key_of_sa(const struct sockaddr *sa, socklen_t len,
                     uint8_t out[16])
{
  sa_family_t fam;

  if(!sa || len < (socklen_t)sizeof(fam))
    return 0;
  memcpy(&fam, (const char *)sa + offsetof(struct sockaddr, sa_family),
         sizeof(fam));
  if(fam == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in))
    return key_of(AF_INET, (const char *)sa +
                  offsetof(struct sockaddr_in, sin_addr), out);
  if(fam == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6))
    return key_of(AF_INET6, (const char *)sa +
                  offsetof(struct sockaddr_in6, sin6_addr), out);
  return 0;
}

static unsigned set_of(const uint8_t k[16])
{
  uint32_t h = 2166136261u;
  unsigned i;

  for(i = 0; i < 16; i++)
    h = (h ^ k[i]) * 16777619u;
  return (h ^ h >> 16) % PL_NAME_SETS;
}

/* Under the lock: remember that canonical name host gave address k. */
static void remember(const uint8_t k[16], const char *host)
{
  pl_name *set = table[set_of(k)], *e = NULL;
  unsigned w;

  for(w = 0; w < PL_NAME_WAYS && !e; w++)
    if(set[w].used && !memcmp(set[w].addr, k, 16))
      e = &set[w];
  if(e) {
    if(strcmp(e->host, host))
      e->host[0] = '\0';          /* a second name: none from now on */
  }
  else {
    e = &set[0];
    for(w = 1; w < PL_NAME_WAYS; w++)
      if(set[w].used < e->used)
        e = &set[w];
    memcpy(e->addr, k, 16);
    strcpy(e->host, host);
  }
  e->used = ++clock_;
}

/* The canonical form of node in out, 0 when it has none (an address, a
 * name that is not canonical LDH). */
static int canon(const char *node, char out[CF_HOST_MAX + 1])
{
  return node && !no_fork_handlers &&
         cf_host_canon(node, strlen(node), out) == 0;
}

static void remember_ai(const char *node, const struct addrinfo *res)
{
  char host[CF_HOST_MAX + 1];
  uint8_t k[16];

  if(!canon(node, host))
    return;
  names_lock();
  for(; res; res = res->ai_next) {
    if(!res->ai_addr || !key_of_sa(res->ai_addr, res->ai_addrlen, k))
      continue;
    remember(k, host);
    atomic_store(&any, 1);
  }
  names_unlock();
}

static void remember_hostent(const char *node, const struct hostent *he)
{
  char host[CF_HOST_MAX + 1];
  uint8_t k[16];
  char **a;

  if(!he || !he->h_addr_list || !canon(node, host))
    return;
  names_lock();
  for(a = he->h_addr_list; *a; a++) {
    if((he->h_addrtype == AF_INET && he->h_length == 4) ||
       (he->h_addrtype == AF_INET6 && he->h_length == 16)) {
      key_of(he->h_addrtype, *a, k);
      remember(k, host);
      atomic_store(&any, 1);
    }
  }
  names_unlock();
}

int pl_name_of(const struct sockaddr *sa, socklen_t len,
               char out[CF_HOST_MAX + 1])
{
  pl_name *set;
  uint8_t k[16];
  unsigned w;
  int found = 0;

  if(!atomic_load_explicit(&any, memory_order_relaxed) ||
     !key_of_sa(sa, len, k))
    return 0;
  set = table[set_of(k)];
  names_lock();
  for(w = 0; w < PL_NAME_WAYS; w++) {
    if(set[w].used && !memcmp(set[w].addr, k, 16)) {
      found = set[w].host[0] != '\0';
      if(found)
        memcpy(out, set[w].host, sizeof(set[w].host));
      break;
    }
  }
  names_unlock();
  return found;
}

/* ----------------------------------------------------------- interposed */

typedef int (*pl_gai_fn)(const char *, const char *, const struct addrinfo *,
                         struct addrinfo **);
typedef struct hostent *(*pl_ghbn_fn)(const char *);
typedef struct hostent *(*pl_ghbn2_fn)(const char *, int);
typedef int (*pl_ghbn_r_fn)(const char *, struct hostent *, char *, size_t,
                            struct hostent **, int *);
typedef int (*pl_ghbn2_r_fn)(const char *, int, struct hostent *, char *,
                             size_t, struct hostent **, int *);

static _Atomic(void *) real_gai, real_ghbn, real_ghbn2, real_ghbn_r,
    real_ghbn2_r;

PL_EXPORT int getaddrinfo(const char *node, const char *service,
                          const struct addrinfo *hints,
                          struct addrinfo **res)
{
  PL_NEXT(pl_gai_fn, f, real_gai, "getaddrinfo", EAI_SYSTEM);
  int rc = f(node, service, hints, res);

  if(rc == 0 && res && !(hints && (hints->ai_flags & AI_NUMERICHOST))) {
    int saved = errno;

    remember_ai(node, *res);
    errno = saved;
  }
  return rc;
}

PL_EXPORT struct hostent *gethostbyname(const char *name)
{
  PL_NEXT(pl_ghbn_fn, f, real_ghbn, "gethostbyname", NULL);
  struct hostent *he = f(name);
  int saved = errno;

  remember_hostent(name, he);
  errno = saved;
  return he;
}

PL_EXPORT struct hostent *gethostbyname2(const char *name, int af)
{
  PL_NEXT(pl_ghbn2_fn, f, real_ghbn2, "gethostbyname2", NULL);
  struct hostent *he = f(name, af);
  int saved = errno;

  remember_hostent(name, he);
  errno = saved;
  return he;
}

PL_EXPORT int gethostbyname_r(const char *name, struct hostent *ret,
                              char *buf, size_t buflen,
                              struct hostent **result, int *h_errnop)
{
  PL_NEXT(pl_ghbn_r_fn, f, real_ghbn_r, "gethostbyname_r", ENOSYS);
  int rc = f(name, ret, buf, buflen, result, h_errnop);
  int saved = errno;

  if(rc == 0 && result)
    remember_hostent(name, *result);
  errno = saved;
  return rc;
}

PL_EXPORT int gethostbyname2_r(const char *name, int af, struct hostent *ret,
                               char *buf, size_t buflen,
                               struct hostent **result, int *h_errnop)
{
  PL_NEXT(pl_ghbn2_r_fn, f, real_ghbn2_r, "gethostbyname2_r", ENOSYS);
  int rc = f(name, af, ret, buf, buflen, result, h_errnop);
  int saved = errno;

  if(rc == 0 && result)
    remember_hostent(name, *result);
  errno = saved;
  return rc;
}
