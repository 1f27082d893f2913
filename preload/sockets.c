/* SPDX-License-Identifier: MIT */
/*
 * The program's own sockets.  connect(), sendto(), sendmsg() and
 * sendmmsg() to an IPv4 or IPv6 address go to the same guard as libcurl's
 * sockets (CURLFENCE_SOCKETS=all, the default): the same policy, live
 * reload, report-only mode and audit trail, with the call as the event's
 * "check".  git's git:// and ssh transports, PHP streams, Python's socket
 * module and Node's net all connect through these.
 *
 * What passes without a decision:
 * - every other family (AF_UNIX: syslog, nscd, D-Bus and the preload's
 *   own audit sink), and calls without an address (a connected socket was
 *   decided when it connected).  The preload opens no IP socket of its
 *   own, so deciding never recurses;
 * - libcurl's sockets, decided once by the open-socket check: preload.c
 *   remembers, per descriptor, the exact address it allowed, and the first
 *   connect() or sendto() on that descriptor to that address goes ahead
 *   undecided.  Any other address, or a second call, is decided.  A mere
 *   "decided" mark would not do: a descriptor is reused after close(),
 *   and a raw socket given the same number would inherit it;
 * - port 53 on the name servers /etc/resolv.conf lists, so the system
 *   resolver keeps working wherever they sit (127.0.0.53 is loopback).
 *   Nothing else is exempt.
 *
 * A call that is decided carries the name the program's own lookup gave
 * the address, when exactly one did (names.c), so host rules apply.
 *
 * A refusal fails with EPERM, and a refused datagram is not sent.
 *
 * Not reachable from here (docs/security.md): libc's own calls (its
 * resolver calls connect, sendto and sendmmsg inside libc, not through
 * the symbols), __sendmmsg (GLIBC_PRIVATE: only libc calls it), raw system
 * calls, io_uring, and statically linked programs.
 */
#include "preload.h"

#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>

#define PL_EXPORT __attribute__((visibility("default")))

/* A refusal's errno.  connect(2) gives EPERM or EACCES for "a local
 * firewall rule"; EPERM is what the kernel itself returns when netfilter
 * drops an outgoing packet (connect and sendto alike), so programs already
 * report it as a blocked connection ("Operation not permitted") and do
 * not take it for a file permission problem, as "Permission denied" reads. */
#define PL_REFUSED EPERM

/* ----------------------------------------------------- libc's functions */

typedef int (*pl_connect_fn)(int, const struct sockaddr *, socklen_t);
typedef ssize_t (*pl_sendto_fn)(int, const void *, size_t, int,
                                const struct sockaddr *, socklen_t);
typedef ssize_t (*pl_sendmsg_fn)(int, const struct msghdr *, int);
typedef int (*pl_sendmmsg_fn)(int, struct mmsghdr *, unsigned int, int);

static _Atomic(void *) real_connect, real_sendto, real_sendmsg,
    real_sendmmsg;

/* The function of libc that the interposed one calls, in var; when there
 * is none, the call fails with ENOSYS. */
#define PL_REAL(type, var, slot, name) \
  PL_NEXT(type, var, slot, name, (errno = ENOSYS, -1))

/* ------------------------------------------- libcurl's allowed sockets */

/* Descriptors below this are remembered: most programs' sockets are. */
#define PL_FD_MAX 1024

/* One descriptor's address.  tag is 0 when nothing is remembered, else a
 * value never used before: a writer clears it, writes the words and sets a
 * new one, so a reader that finds the same tag before and after reading
 * the words (and clears it, with a compare-and-swap) read one whole
 * address. */
typedef struct pl_fd_slot {
  _Atomic uint64_t tag;
  _Atomic uint64_t w[3];
} pl_fd_slot;

static pl_fd_slot fd_slots[PL_FD_MAX];
static _Atomic uint64_t fd_tags;

/* The address as three words (family, port and IPv6 scope; the address),
 * or 0 when it is not a whole IPv4 or IPv6 address. */
static int pack(const struct sockaddr *sa, socklen_t len, uint64_t w[3])
{
  sa_family_t fam;

  w[0] = w[1] = w[2] = 0;
  if(!sa || len < (socklen_t)sizeof(fam))
    return 0;
  memcpy(&fam, (const char *)sa + offsetof(struct sockaddr, sa_family),
         sizeof(fam));
  if(fam == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
    struct sockaddr_in in;
    uint32_t a;

    memcpy(&in, sa, sizeof(in));
    memcpy(&a, &in.sin_addr, 4);
    w[0] = (uint64_t)AF_INET << 48 | (uint64_t)ntohs(in.sin_port) << 32;
    w[1] = a;
    return 1;
  }
  if(fam == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
    struct sockaddr_in6 in6;

    memcpy(&in6, sa, sizeof(in6));
    w[0] = (uint64_t)AF_INET6 << 48 | (uint64_t)ntohs(in6.sin6_port) << 32 |
           in6.sin6_scope_id;
    memcpy(&w[1], &in6.sin6_addr, 8);
    memcpy(&w[2], (const char *)&in6.sin6_addr + 8, 8);
    return 1;
  }
  return 0;
}

void pl_socket_allowed(int fd, const struct sockaddr *a, socklen_t len)
{
  pl_fd_slot *s;
  uint64_t w[3];
  int i;

  if(fd < 0 || fd >= PL_FD_MAX)
    return;
  s = &fd_slots[fd];
  atomic_store(&s->tag, 0);
  if(!pack(a, len, w))
    return;
  for(i = 0; i < 3; i++)
    atomic_store(&s->w[i], w[i]);
  atomic_store(&s->tag, atomic_fetch_add(&fd_tags, 1) + 1);
}

/* Whether fd was remembered with exactly this address.  Either way what
 * was remembered is used up: it covers one call. */
static int allowed_before(int fd, const struct sockaddr *sa, socklen_t len)
{
  pl_fd_slot *s;
  uint64_t t, w[3];
  int same, i;

  if(fd < 0 || fd >= PL_FD_MAX)
    return 0;
  s = &fd_slots[fd];
  t = atomic_load(&s->tag);
  if(!t)
    return 0;
  same = pack(sa, len, w);
  for(i = 0; i < 3; i++)
    same &= atomic_load(&s->w[i]) == w[i];
  return atomic_compare_exchange_strong(&s->tag, &t, 0) && same;
}

/* ------------------------------------------------------ the resolver */

#define PL_RESOLV_CONF "/etc/resolv.conf"
#define PL_NS_MAX 8

/* The name servers of PL_RESOLV_CONF as IPv6 addresses (IPv4 mapped),
 * read again when the file's identity, size or times change.  Only port
 * 53 traffic looks here, so a lock is cheap enough; fork() takes it first
 * and both sides release it, as handles.c does. */
static struct {
  pthread_mutex_t lock;
  int read;                 /* st and addr describe the file */
  struct stat st;
  unsigned n;
  struct in6_addr addr[PL_NS_MAX];
} ns = { .lock = PTHREAD_MUTEX_INITIALIZER };
static int ns_no_fork_handlers;

static void ns_lock(void)
{
  pthread_mutex_lock(&ns.lock);
}

static void ns_unlock(void)
{
  pthread_mutex_unlock(&ns.lock);
}

__attribute__((constructor)) static void sockets_init(void)
{
  /* Without the handlers a fork() could leave the lock held: then no
   * traffic is exempt (fail closed). */
  if(pthread_atfork(ns_lock, ns_unlock, ns_unlock))
    ns_no_fork_handlers = 1;
  pl_next(&real_connect, "connect");
  pl_next(&real_sendto, "sendto");
}

/* IPv4 text as ::ffff:a.b.c.d, IPv6 text without its %zone. */
static int ns_addr(const char *text, struct in6_addr *out)
{
  char buf[INET6_ADDRSTRLEN + 1];
  struct in_addr a4;
  size_t n = strcspn(text, "%");

  if(n >= sizeof(buf))
    return 0;
  memcpy(buf, text, n);
  buf[n] = '\0';
  if(inet_pton(AF_INET, buf, &a4) == 1) {
    memset(out, 0, sizeof(*out));
    out->s6_addr[10] = out->s6_addr[11] = 0xff;
    memcpy(&out->s6_addr[12], &a4, 4);
    return 1;
  }
  return inet_pton(AF_INET6, buf, out) == 1;
}

static int same_file(const struct stat *a, const struct stat *b)
{
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
         a->st_size == b->st_size &&
         a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
         a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
         a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
         a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Under the lock: "nameserver ADDR" lines, as the resolver reads them. */
static void ns_refresh(void)
{
  struct stat st;
  char line[512];
  FILE *f;

  if(stat(PL_RESOLV_CONF, &st) != 0) {
    ns.read = 0;
    ns.n = 0;
    return;
  }
  if(ns.read && same_file(&st, &ns.st))
    return;
  ns.n = 0;
  ns.read = 0;
  f = fopen(PL_RESOLV_CONF, "re");
  if(!f)
    return;
  while(fgets(line, sizeof(line), f)) {
    char *p = line + strspn(line, " \t"), *end;

    if(strncmp(p, "nameserver", 10) || (p[10] != ' ' && p[10] != '\t'))
      continue;
    p += 10;
    p += strspn(p, " \t");
    end = p + strcspn(p, " \t\r\n#;");
    *end = '\0';
    if(ns.n < PL_NS_MAX && ns_addr(p, &ns.addr[ns.n]))
      ns.n++;
  }
  fclose(f);
  ns.st = st;
  ns.read = 1;
}

_Static_assert(offsetof(struct sockaddr_in, sin_port) ==
               offsetof(struct sockaddr_in6, sin6_port),
               "the port is where both families keep it");

/* Whether sa (AF_INET or AF_INET6) is port 53 on one of the name
 * servers.  Every decided call asks, so the port is looked at first. */
static int resolver(const struct sockaddr *sa, socklen_t len)
{
  uint64_t w[3];
  struct in6_addr a;
  in_port_t port;
  unsigned i;
  int found = 0;

  if(len < (socklen_t)sizeof(struct sockaddr_in))
    return 0;
  memcpy(&port, (const char *)sa + offsetof(struct sockaddr_in, sin_port),
         sizeof(port));
  if(port != htons(53) || !pack(sa, len, w) || ns_no_fork_handlers)
    return 0;
  if(w[0] >> 48 == AF_INET) {
    memset(&a, 0, sizeof(a));
    a.s6_addr[10] = a.s6_addr[11] = 0xff;
    memcpy(&a.s6_addr[12], &w[1], 4);
  }
  else {
    memcpy(&a.s6_addr[0], &w[1], 8);
    memcpy(&a.s6_addr[8], &w[2], 8);
  }
  ns_lock();
  ns_refresh();
  for(i = 0; i < ns.n && !found; i++)
    found = !memcmp(&ns.addr[i], &a, sizeof(a));
  ns_unlock();
  return found;
}

/* ----------------------------------------------------------- the check */

/* Whether the call on fd to sa may go ahead; 0 with errno set when it is
 * refused.  A call that goes ahead keeps the program's errno. */
static int permitted(int fd, const struct sockaddr *sa, socklen_t len,
                     curlfence_check check)
{
  const pl_config *c;
  cf_sockcall call;
  sa_family_t fam;
  char host[CF_HOST_MAX + 1];
  int saved = errno, ok;

  if(!sa || len < (socklen_t)sizeof(fam))
    return 1;
  memcpy(&fam, (const char *)sa + offsetof(struct sockaddr, sa_family),
         sizeof(fam));
  if(fam != AF_INET && fam != AF_INET6)
    return 1;
  c = pl_config_get();
  if(!c->sockets_all)
    return 1;
  call.sa = sa;
  call.salen = len;
  call.check = check;
  call.fd = fd;
  ok = allowed_before(fd, sa, len) || resolver(sa, len);
  if(!ok) {
    call.host = pl_name_of(sa, len, host) ? host : NULL;
    ok = cf_guard_socket(c->guard, &call, c->flags) == CURLFENCE_ALLOW;
  }
  errno = ok ? saved : PL_REFUSED;
  return ok;
}

/* ----------------------------------------------------------- interposed */

/* With _GNU_SOURCE, glibc declares the address argument of connect() and
 * sendto() as a transparent union of the sockaddr types; the definitions
 * must match. */
#define PL_SA(arg) ((arg).__sockaddr__)

static int connect_checked(int fd, const struct sockaddr *sa, socklen_t len)
{
  PL_REAL(pl_connect_fn, f, real_connect, "connect");

  if(!permitted(fd, sa, len, CURLFENCE_CHECK_CONNECT))
    return -1;
  return f(fd, sa, len);
}

PL_EXPORT int connect(int fd, __CONST_SOCKADDR_ARG sa, socklen_t len)
{
  return connect_checked(fd, PL_SA(sa), len);
}

PL_EXPORT int __connect(int fd, const struct sockaddr *sa, socklen_t len)
{
  return connect_checked(fd, sa, len);
}

PL_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags,
                         __CONST_SOCKADDR_ARG arg, socklen_t len)
{
  PL_REAL(pl_sendto_fn, f, real_sendto, "sendto");
  const struct sockaddr *sa = PL_SA(arg);

  if(!permitted(fd, sa, len, CURLFENCE_CHECK_SENDTO))
    return -1;
  return f(fd, buf, n, flags, sa, len);
}

PL_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
  PL_REAL(pl_sendmsg_fn, f, real_sendmsg, "sendmsg");

  if(msg && !permitted(fd, msg->msg_name, msg->msg_namelen,
                       CURLFENCE_CHECK_SENDMSG))
    return -1;
  return f(fd, msg, flags);
}

/* The messages up to the first refused one are sent, and their number
 * returned, as when the kernel stops part way; a refused first message
 * fails the call.  The program's retry from there then gets the error. */
PL_EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen,
                       int flags)
{
  PL_REAL(pl_sendmmsg_fn, f, real_sendmmsg, "sendmmsg");
  unsigned i;

  for(i = 0; vec && i < vlen; i++)
    if(!permitted(fd, vec[i].msg_hdr.msg_name, vec[i].msg_hdr.msg_namelen,
                  CURLFENCE_CHECK_SENDMMSG))
      break;
  if(vec && i < vlen) {
    if(i == 0)
      return -1;
    vlen = i;
  }
  return f(fd, vec, vlen, flags);
}
