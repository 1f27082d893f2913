/* SPDX-License-Identifier: MIT */
/*
 * libcurl glue: a guard enforces a policy on easy handles.  This file makes
 * the decisions (cf_guard_open, cf_guard_prereq) and never calls libcurl;
 * attach.c installs them as a handle's callbacks.
 *
 * Three hooks do the work.  The open-socket callback sees every address
 * libcurl connects to, after name resolution and for every redirect hop,
 * and refuses the denied ones (libcurl then tries the next address of the
 * host).  The pre-request callback sees the peer of the connection that is
 * about to carry a request, which covers connections that were opened by
 * another, unguarded handle and then shared through a multi or share pool.
 * Proxies are switched off, because with a proxy the callbacks would only
 * ever see the proxy's address, and so is DoH, whose internal handles
 * carry no callbacks.  Datagram sockets (TFTP) are refused unless the
 * handle opts in, because TFTP continues with whatever address answers;
 * then the socket is pinned to the checked host.
 *
 * Lifetime: the callback data is the guard itself.  libcurl copies it into
 * duplicates made with curl_easy_duphandle(), so a guard must outlive every
 * handle it was attached to and every duplicate of one.  Socket closing
 * never uses the guard: either libcurl's own close() runs or the
 * application's chained close callback is installed directly, so
 * connections closed late by curl_multi_cleanup() or curl_share_cleanup(),
 * and the unpaired open/close calls of some libcurl versions, are safe.
 */
#include "guard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/filter.h>

CURLFENCE_API curlfence_code curlfence_guard_new(curlfence_guard **out,
                                                 curlfence_policy *policy)
{
  curlfence_guard *g;

  if(!out)
    return CURLFENCE_E_INVAL;
  *out = NULL;
  if(!policy)
    return CURLFENCE_E_INVAL;
  /* the counters' shards sit on cache lines of their own */
  g = aligned_alloc(_Alignof(curlfence_guard), sizeof(*g));
  if(!g)
    return CURLFENCE_E_NOMEM;
  memset(g, 0, sizeof(*g));
  cf_live_init(&g->live, curlfence_policy_ref(policy));
  cf_watch_init(&g->watch);
  pthread_mutex_init(&g->err_lock, NULL);
  pthread_mutex_init(&g->named_lock, NULL);
  atomic_store(&g->magic, CF_GUARD_LIVE);
  *out = g;
  return CURLFENCE_OK;
}

CURLFENCE_API void curlfence_guard_free(curlfence_guard *guard)
{
  if(!guard)
    return;
  cf_watch_stop(guard);
  atomic_store(&guard->magic, CF_GUARD_FREED);
  cf_live_destroy(&guard->live);
  cf_watch_destroy(&guard->watch);
  pthread_mutex_destroy(&guard->err_lock);
  pthread_mutex_destroy(&guard->named_lock);
  /* Debug aid: keep the memory, so a handle still attached meets the
   * freed mark for sure (instead of whatever reuses the memory) and its
   * transfers fail closed; the tombstone counts them (dead_calls). */
  if(getenv("CURLFENCE_KEEP_FREED_GUARDS"))
    return;
  free(guard);
}

/* Whether g is a live guard.  Reading a freed guard is itself the bug; this
 * only makes its usual outcome a refusal rather than a decision on reused
 * memory, and a certain one with CURLFENCE_KEEP_FREED_GUARDS. */
static int alive(curlfence_guard *g)
{
  uint32_t m;

  if(!g)
    return 0;
  m = atomic_load_explicit(&g->magic, memory_order_relaxed);
  if(m == CF_GUARD_LIVE)
    return 1;
  if(m == CF_GUARD_FREED)
    atomic_fetch_add_explicit(&g->dead_calls, 1, memory_order_relaxed);
  return 0;
}

CURLFENCE_API curlfence_code curlfence_guard_set_audit(
    curlfence_guard *guard, curlfence_audit_fn fn, void *userdata,
    unsigned flags)
{
  cf_audit a;

  if(!guard || (flags & ~(CURLFENCE_AUDIT_ALL | CURLFENCE_AUDIT_NO_URL)))
    return CURLFENCE_E_INVAL;
  a.fn = fn;
  a.data = userdata;
  a.flags = flags;
  cf_live_set_audit(&guard->live, &a);
  return CURLFENCE_OK;
}

CURLFENCE_API curlfence_code curlfence_guard_set_chain(
    curlfence_guard *guard, curl_opensocket_callback open, void *open_data,
    curl_closesocket_callback close, void *close_data)
{
  if(!guard)
    return CURLFENCE_E_INVAL;
  guard->open_fn = open;
  guard->open_data = open_data;
  guard->close_fn = close;
  guard->close_data = close_data;
  return CURLFENCE_OK;
}

/* ---------------------------------------------------------------- audit */

static void addr_text(const cf_dest *d, char *buf, size_t size)
{
  buf[0] = '\0';
  if(d->kind == CF_DEST_IP) {
    inet_ntop(d->v6 ? AF_INET6 : AF_INET, d->key, buf, (socklen_t)size);
  }
  else if(d->kind == CF_DEST_UNIX) {
    size_t off = offsetof(struct sockaddr_un, sun_path);
    size_t n = (size_t)d->salen - off, i;
    const char *path = (const char *)d->sa + off;

    if(n > size - 1)
      n = size - 1;
    /* Abstract sockets start with NUL; show them as "@name". */
    for(i = 0; i < n && (path[i] || i == 0); i++)
      buf[i] = path[i] ? path[i] : '@';
    buf[i] = '\0';
  }
}

static void fill_event(curlfence_event *ev, const cf_decision *d,
                       curlfence_check check)
{
  struct timespec ts;

  memset(ev, 0, sizeof(*ev));
  clock_gettime(CLOCK_REALTIME, &ts);
  ev->time_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
  ev->action = d->action;
  ev->check = check;
  ev->family = d->dest.family;
  ev->socktype = d->dest.socktype;
  ev->protocol = d->dest.protocol;
  addr_text(&d->dest, ev->addr, sizeof(ev->addr));
  ev->port = d->dest.kind == CF_DEST_IP ? d->dest.port : 0;
  ev->verdict = d->verdict;
  ev->generation = d->generation;
  ev->enforced = d->action == CURLFENCE_ALLOW || d->enforced;
}

/* A datagram socket is refused whatever its address: libcurl's only UDP
 * user here, TFTP, sends everything after its first packet to the address
 * the server's first reply came from, and that address never reaches the
 * guard (docs/security.md). */
static void refuse_datagram(cf_decision *d)
{
  d->action = CURLFENCE_DENY;
  d->hit = -1;
  memset(&d->verdict, 0, sizeof(d->verdict));
  d->verdict.action = CURLFENCE_DENY;
  d->verdict.rule = "UDP refused: TFTP follows the server's reply address "
                    "(CURLFENCE_ATTACH_ALLOW_TFTP)";
  d->verdict.reason = "udp";
}

/* The type and protocol of socket fd into d, for an event: a program's
 * own socket calls do not say them, and most decisions make no event. */
static void socket_kind(cf_dest *d, int fd)
{
  int v;
  socklen_t n = sizeof(v);

  if(getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &n) == 0)
    d->socktype = v;
  n = sizeof(v);
  if(getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &v, &n) == 0)
    d->protocol = v;
}

/* Whether a decision of d against p may be remembered (cf_memo): an IP
 * destination, and no name that a host rule of p could match. */
static int memo_fits(const curlfence_policy *p, const cf_decision *d)
{
  return p && d->dest.kind == CF_DEST_IP && !(p->hosts && d->dest.host);
}

static void memo_key(const cf_decision *d, uint64_t key[2], uint64_t *what)
{
  memcpy(key, d->dest.key, 16);
  *what = (uint64_t)d->dest.port | (uint64_t)d->dest.v6 << 16 |
          (uint64_t)d->dest.as << 20 |
          (uint64_t)(uint32_t)d->dest.family << 32;
}

/* d decided from m if m holds its destination under d->generation: 1 with
 * d->action, d->hit and the reason word set as cf_decide() sets them. */
static int memo_get(cf_memo *m, cf_decision *d)
{
  uint64_t key[2], what, action, hit, reason;
  unsigned s = atomic_load_explicit(&m->seq, memory_order_acquire);
  int same;

  if(s & 1)
    return 0;
  memo_key(d, key, &what);
  /* acquire loads (plain loads on x86): a word a writer stored after
   * making seq odd brings that odd seq with it to the check below (no
   * fences: ThreadSanitizer does not model them) */
  same = atomic_load_explicit(&m->gen, memory_order_acquire) ==
             d->generation &&
         atomic_load_explicit(&m->key[0], memory_order_acquire) == key[0] &&
         atomic_load_explicit(&m->key[1], memory_order_acquire) == key[1] &&
         atomic_load_explicit(&m->what, memory_order_acquire) == what;
  action = atomic_load_explicit(&m->action, memory_order_acquire);
  hit = atomic_load_explicit(&m->hit, memory_order_acquire);
  reason = atomic_load_explicit(&m->reason, memory_order_acquire);
  if(!same || atomic_load_explicit(&m->seq, memory_order_relaxed) != s)
    return 0;
  d->action = (curlfence_action)action;
  d->hit = (long)hit;
  d->verdict.reason = (const char *)(uintptr_t)reason;
  return 1;
}

/* Remember d in m, unless another thread of the same shard is writing
 * it (a thread moved to another CPU): then m stays as it is. */
static void memo_put(cf_memo *m, const cf_decision *d)
{
  uint64_t key[2], what;
  unsigned s = atomic_load_explicit(&m->seq, memory_order_relaxed);

  if((s & 1) || !atomic_compare_exchange_strong(&m->seq, &s, s + 1))
    return;
  /* release stores: none is seen before the odd seq */
  memo_key(d, key, &what);
  atomic_store_explicit(&m->gen, d->generation, memory_order_release);
  atomic_store_explicit(&m->key[0], key[0], memory_order_release);
  atomic_store_explicit(&m->key[1], key[1], memory_order_release);
  atomic_store_explicit(&m->what, what, memory_order_release);
  atomic_store_explicit(&m->action, (uint64_t)d->action,
                        memory_order_release);
  atomic_store_explicit(&m->hit, (uint64_t)d->hit, memory_order_release);
  atomic_store_explicit(&m->reason, (uint64_t)(uintptr_t)d->verdict.reason,
                        memory_order_release);
  atomic_store_explicit(&m->seq, s + 2, memory_order_release);
}

/* Decide d against the guard's current policy, count the decision and
 * hand it to the audit callback.  flags are the attach flags that matter
 * here (REPORT_ONLY, ALLOW_TFTP).  fd (-1: none) is the program's socket
 * whose type the event reports; name (NULL: d->dest.host as the caller
 * set it) the connection's name.  Returns the action to carry out: in
 * report-only mode a denial is let through.
 *
 * Most decisions make no event (an allowed connection without
 * CURLFENCE_AUDIT_ALL), so the cheap decision comes first, without the
 * verdict or the name: the verdict is made for an event only, and the
 * name, which costs a URL parse, only when the policy has host rules to
 * match it or an event shows it.  Both are asked of the policy acquired
 * here, so a reload between two checks of one connection cannot leave a
 * name unread that the new policy's host rules need. */
static curlfence_action conclude(curlfence_guard *g, cf_decision *d,
                                 curlfence_check check, unsigned flags,
                                 int fd, cf_name *name)
{
  const curlfence_policy *p;
  const cf_audit *audit;
  curlfence_event ev;
  cf_guard_count *count;
  unsigned slot, shard;
  int rc, all, named, udp, memo;

  p = cf_live_acquire(&g->live, &slot, &d->generation);
  audit = cf_live_audit(&g->live, slot);
  all = audit->fn && (audit->flags & CURLFENCE_AUDIT_ALL);
  named = name && ((p && p->hosts) || all);
  if(named) {
    d->dest.host = cf_name_host(name);
    d->dest.prep = name->prep;
  }
  udp = check == CURLFENCE_CHECK_OPEN && d->dest.socktype == SOCK_DGRAM &&
        !(flags & CURLFENCE_ATTACH_ALLOW_TFTP);
  shard = cf_live_shard(slot);
  memo = !all && memo_fits(p, d);
  if(udp)
    refuse_datagram(d);
  else if(!memo || !memo_get(&g->memo[shard], d)) {
    cf_decide(p, d, all);
    if(memo && d->long_way)
      memo_put(&g->memo[shard], d);
  }
  d->enforced = !((flags & CURLFENCE_ATTACH_REPORT_ONLY) ||
                  curlfence_policy_report_only(p));
  count = &g->count[shard];
  if(p && d->hit >= 0 && p->hit_shards)
    atomic_fetch_add_explicit(cf_counter(p->hits, p->hit_stride,
                                         p->hit_shards, shard,
                                         (size_t)d->hit),
                              1, memory_order_relaxed);
  atomic_fetch_add_explicit(
      &count->decisions[d->action == CURLFENCE_ALLOW ? CF_OUTCOME_ALLOW
                        : d->enforced                ? CF_OUTCOME_DENY
                                                     : CF_OUTCOME_REPORT]
                       [(unsigned)check < CF_CHECK_N ? check : 0]
                       [cf_reason_index(d->verdict.reason)],
      1, memory_order_relaxed);
  if(audit->fn && (d->action != CURLFENCE_ALLOW || all)) {
    if(name && !named) {
      /* the event shows the name; without host rules in p it cannot
       * change the decision, made again here for its verdict */
      d->dest.host = cf_name_host(name);
      d->dest.prep = name->prep;
    }
    if(!udp && !all)
      cf_decide(p, d, 1);
    if(fd >= 0)
      socket_kind(&d->dest, fd);
    fill_event(&ev, d, check);
    cf_event_name_set(&ev, d->dest.host,
                      name && !(audit->flags & CURLFENCE_AUDIT_NO_URL)
                          ? cf_name_url(name) : NULL);
    rc = audit->fn(&ev, audit->data);
    cf_event_name_set(NULL, NULL, NULL);
    if(rc != 0)
      atomic_fetch_add_explicit(&count->audit_errors, 1,
                                memory_order_relaxed);
    else
      atomic_fetch_add_explicit(&count->audit_written, 1,
                                memory_order_relaxed);
  }
  cf_live_release(&g->live, slot);
  return d->enforced ? d->action : CURLFENCE_ALLOW;
}

/* --------------------------------------------------------------- checks */

/* Make a datagram socket drop every datagram that does not come from the
 * host d (any port), with a classic BPF socket filter that reads the
 * source address from the IP header.  TFTP sends the rest of a transfer
 * to wherever the first reply came from; RFC 1350 servers answer from a
 * new port, so the port cannot be pinned, but the host can.  Returns 0,
 * or -1 when the kernel refused the filter. */
static int pin_source(curl_socket_t fd, const cf_dest *d)
{
  struct sock_filter code[13];
  struct sock_fprog prog;
  uint32_t w[4];
  unsigned short n = 0;

  if(d->kind != CF_DEST_IP)
    return -1;
  memcpy(w, d->key, d->v6 ? 16 : 4);
  /* A = IP version nibble of the datagram's header */
  code[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_B | BPF_ABS,
                                           (uint32_t)SKF_NET_OFF);
  code[n++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xf0);
  if(!d->v6) {
    /* IPv4 (also what a dual-stack socket gets from ::ffff:a.b.c.d) */
    code[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                             0x40, 0, 2);
    code[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                             (uint32_t)SKF_NET_OFF + 12);
    code[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                             ntohl(w[0]), 1, 0);
  }
  else {
    unsigned i;

    code[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                             0x60, 0, 8);
    for(i = 0; i < 4; i++) {
      code[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                               (uint32_t)SKF_NET_OFF + 8 +
                                                   4 * i);
      /* equal: next word, or accept after the last; else drop */
      code[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                               ntohl(w[i]), i == 3 ? 1 : 0,
                                               (uint8_t)(6 - 2 * i));
    }
  }
  code[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
  code[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0xffffffffu);
  prog.len = n;
  prog.filter = code;
  return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
}

static void close_chained(const cf_chain *chain, curl_socket_t fd)
{
  if(chain->close_fn)
    chain->close_fn(chain->close_data, fd);
  else
    close(fd);
}

/* What libcurl will connect to, as the open callback's argument says: a
 * copy, so that a change made by a chained callback can be seen. */
typedef struct cf_target {
  int family, socktype, protocol;
  unsigned addrlen;
  unsigned char addr[sizeof(struct sockaddr_storage)];
} cf_target;

static void target_of(cf_target *t, const struct curl_sockaddr *a)
{
  size_t n = a->addrlen < sizeof(t->addr) ? a->addrlen : sizeof(t->addr);

  memset(t, 0, sizeof(*t));
  t->family = a->family;
  t->socktype = a->socktype;
  t->protocol = a->protocol;
  t->addrlen = a->addrlen;
  memcpy(t->addr, &a->addr, n);
}

/* Decide a (check OPEN), count and audit it.  d->dest points into a. */
static curlfence_action check_open(curlfence_guard *g,
                                   const struct curl_sockaddr *a,
                                   unsigned flags, cf_name *name,
                                   cf_decision *d)
{
  /* addr is declared as a 16-byte sockaddr but libcurl passes room for the
   * whole address; addrlen, not sizeof, says how much there is. */
  const struct sockaddr *sa = (const struct sockaddr *)&a->addr;

  /* Inconsistent input: decide on nothing rather than guess. */
  cf_dest_init(&d->dest, a->family == sa->sa_family ? sa : NULL,
               (socklen_t)a->addrlen);
  d->dest.family = a->family;
  /* Newer libcurl ORs SOCK_CLOEXEC/SOCK_NONBLOCK into socktype. */
  d->dest.socktype = a->socktype & ~(SOCK_CLOEXEC | SOCK_NONBLOCK);
  d->dest.protocol = a->protocol;
  return conclude(g, d, CURLFENCE_CHECK_OPEN, flags, -1, name);
}

curl_socket_t cf_guard_open(curlfence_guard *g, curlsocktype purpose,
                            struct curl_sockaddr *a, unsigned flags,
                            const cf_chain *chain, cf_name *name)
{
  cf_chain own;
  cf_decision d;
  cf_target before, after;
  curl_socket_t fd;

  if(!alive(g))
    return CURL_SOCKET_BAD;
  if(check_open(g, a, flags, name, &d) != CURLFENCE_ALLOW)
    return CURL_SOCKET_BAD;
  if(!chain) {
    own.open_fn = g->open_fn;
    own.open_data = g->open_data;
    own.close_fn = g->close_fn;
    own.close_data = g->close_data;
    chain = &own;
  }
  if(!chain->open_fn)
    fd = socket(a->family, a->socktype, a->protocol);
  else {
    target_of(&before, a);
    fd = chain->open_fn(chain->open_data, purpose, a);
    target_of(&after, a);
    /* libcurl connects to the address the callback leaves in a, so one
     * that rewrote it would send an allowed connection where nobody
     * looked: the new address is decided like the first. */
    if(fd != CURL_SOCKET_BAD && memcmp(&before, &after, sizeof(before)) &&
       (!alive(g) || check_open(g, a, flags, name, &d) != CURLFENCE_ALLOW)) {
      close_chained(chain, fd);
      return CURL_SOCKET_BAD;
    }
  }
  if(fd != CURL_SOCKET_BAD && d.dest.socktype == SOCK_DGRAM &&
     d.enforced && pin_source(fd, &d.dest) != 0) {
    /* Fail closed: without the filter the transfer could be redirected. */
    close_chained(chain, fd);
    return CURL_SOCKET_BAD;
  }
  return fd;
}

/* Dotted-quad IPv4 text into out, as inet_pton(AF_INET) reads it (four
 * decimal parts of 0-255, no leading zeros, nothing else), without the
 * call: the pre-request check reads libcurl's text on every request. */
static int ip4_text(const char *s, uint8_t out[4])
{
  unsigned part = 0, v;

  for(;;) {
    if(*s < '0' || *s > '9')
      return 0;
    v = (unsigned)(*s++ - '0');
    if(v && *s >= '0' && *s <= '9') {
      v = v * 10 + (unsigned)(*s++ - '0');
      if(*s >= '0' && *s <= '9')
        v = v * 10 + (unsigned)(*s++ - '0');
    }
    if(v > 255)
      return 0;
    out[part++] = (uint8_t)v;
    if(part == 4)
      return *s == '\0';
    if(*s++ != '.')
      return 0;
  }
}

/* The family of IP address text (AF_INET or AF_INET6) with the address in
 * buf, or 0 when it is not one.  IPv6 text fails the IPv4 reader within
 * its first few characters (a colon, or a fifth hex digit), so each text
 * is parsed once and IPv4 never reaches inet_pton(). */
static int ip_text(const char *s, uint8_t buf[16])
{
  if(ip4_text(s, buf))
    return AF_INET;
  return inet_pton(AF_INET6, s, buf) == 1 ? AF_INET6 : 0;
}

/* The peer of the connection a request is about to use, from libcurl's
 * text: a numeric IP address or a unix socket's path.  The text alone
 * cannot tell a unix socket bound to the relative name "8.8.8.8" from the
 * IP address, so the local side decides: an IP connection has a local IP
 * address of the same family and a local port, a unix socket has neither
 * (a client socket has no name, so local is ""; libcurl 7.88 reports the
 * URL's port as peer_port).  Returns the length of the address put in ss,
 * 0 when it is neither (denied as not covered). */
static socklen_t peer_address(struct sockaddr_storage *ss, const char *peer,
                              int peer_port, const char *local,
                              int local_port)
{
  struct sockaddr_in *in = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
  struct sockaddr_un *un = (struct sockaddr_un *)ss;
  uint8_t buf[16];
  int family;
  size_t n;

  memset(ss, 0, sizeof(*ss));
  if(!peer || !local)
    return 0;
  family = ip_text(local, buf);
  if(family && ip_text(peer, buf) == family) {
    if(family == AF_INET) {
      in->sin_family = AF_INET;
      in->sin_port = htons((uint16_t)peer_port);
      memcpy(&in->sin_addr, buf, 4);
      return sizeof(*in);
    }
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)peer_port);
    memcpy(&in6->sin6_addr, buf, 16);
    return sizeof(*in6);
  }
  if(family || local_port != 0)
    return 0;
  n = strlen(peer);
  if(n >= sizeof(un->sun_path))
    n = sizeof(un->sun_path) - 1;
  un->sun_family = AF_UNIX;
  memcpy(un->sun_path, peer, n);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
}

int cf_guard_prereq(curlfence_guard *g, const char *primary_ip,
                    const char *local_ip, int primary_port, int local_port,
                    unsigned flags, cf_name *name)
{
  struct sockaddr_storage ss;
  socklen_t len;
  cf_decision d;

  if(!alive(g))
    return CURL_PREREQFUNC_ABORT;
  if(primary_ip && primary_ip[0] == '\0') {
    /* No peer address: file:// and other transfers without a connection,
     * UDP (TFTP) and abstract unix sockets.  Any socket this transfer
     * opened was checked when it was opened; there is nothing to re-check
     * (docs/security.md names the one gap: a pooled abstract socket). */
    return CURL_PREREQFUNC_OK;
  }
  len = peer_address(&ss, primary_ip, primary_port, local_ip, local_port);
  cf_dest_init(&d.dest, len ? (struct sockaddr *)&ss : NULL, len);
  d.dest.socktype = SOCK_STREAM;
  d.dest.protocol = d.dest.kind == CF_DEST_IP ? IPPROTO_TCP : 0;
  return conclude(g, &d, CURLFENCE_CHECK_REUSED,
                  flags & CURLFENCE_ATTACH_REPORT_ONLY, -1,
                  name) == CURLFENCE_ALLOW
             ? CURL_PREREQFUNC_OK
             : CURL_PREREQFUNC_ABORT;
}

/* The name of handle h into buf, or NULL for none; buf is for
 * cf_name_free() either way. */
static cf_name *handle_name(const cf_urlapi *api, CURL *h,
                            cf_name_memo *memo, cf_name *buf)
{
  buf->u = NULL;
  if(!api || !api->getinfo || cf_name_of(api, h, buf))
    return NULL;
  if(memo)
    cf_name_remember(buf, memo);
  return buf;
}

curl_socket_t cf_guard_open_named(curlfence_guard *g, curlsocktype purpose,
                                  struct curl_sockaddr *a, unsigned flags,
                                  const cf_chain *chain, const cf_urlapi *api,
                                  CURL *h, cf_name_memo *memo)
{
  cf_name buf;
  curl_socket_t fd = cf_guard_open(g, purpose, a, flags, chain,
                                   handle_name(api, h, memo, &buf));

  cf_name_free(&buf);
  return fd;
}

int cf_guard_prereq_named(curlfence_guard *g, const char *primary_ip,
                          const char *local_ip, int primary_port,
                          int local_port, unsigned flags,
                          const cf_urlapi *api, CURL *h, cf_name_memo *memo)
{
  cf_name buf;
  int rc = cf_guard_prereq(g, primary_ip, local_ip, primary_port, local_port,
                           flags, handle_name(api, h, memo, &buf));

  cf_name_free(&buf);
  return rc;
}

curlfence_action cf_guard_socket(curlfence_guard *g, const cf_sockcall *call,
                                 unsigned flags)
{
  cf_decision d;
  cf_name name;

  if(!alive(g) || !call)
    return CURLFENCE_DENY;
  /* A short or mismatched address is decided as unusable (denied). */
  cf_dest_init(&d.dest, call->sa, call->salen);
  /* A name with no URL: the event's url stays null.  One that is not
   * canonical matches no host rule, as for libcurl's connections. */
  memset(&name, 0, sizeof(name));
  name.url_done = 1;
  name.host_done = 1;
  if(!call->host ||
     cf_host_canon(call->host, strlen(call->host), name.host) != 0)
    name.host[0] = '\0';
  return conclude(g, &d, call->check, flags & CURLFENCE_ATTACH_REPORT_ONLY,
                  call->fd, &name);
}

/* ---------------------------------------------------------------- stats */

/* The reason words are the guard's: it counts by them, and metrics.c
 * writes what it counted. */
const char *const cf_reason_names[CF_REASON_N] = {
  "rule", "default", "unix", "no-policy", "family", "malformed", "udp",
  "nat64/32", "nat64/40", "nat64/48", "nat64/56", "nat64/64", "nat64/96",
  "other"
};

unsigned cf_reason_index(const char *reason)
{
  unsigned i;

  if(!reason)
    return CF_REASON_N - 1;
  /* The linker merges equal string literals, so the words the engine
   * sets are usually these very strings: every decision is counted by
   * its word, and the comparisons of text are only the fallback. */
  for(i = 0; i < CF_REASON_N - 1; i++)
    if(reason == cf_reason_names[i])
      return i;
  for(i = 0; i < CF_REASON_N - 1; i++)
    if(!strcmp(reason, cf_reason_names[i]))
      return i;
  return CF_REASON_N - 1;
}

void cf_guard_counters(curlfence_guard *g, cf_guard_counts *out)
{
  uint64_t total[CF_OUTCOME_N] = { 0, 0, 0 };
  unsigned k, o, c, r;

  memset(out, 0, sizeof(*out));
  /* every shard: a count read is exact, only spread (shard.c) */
  for(k = 0; k < CF_SHARDS; k++) {
    cf_guard_count *n = &g->count[k];

    out->audit_written += atomic_load_explicit(&n->audit_written,
                                               memory_order_relaxed);
    out->audit_errors += atomic_load_explicit(&n->audit_errors,
                                              memory_order_relaxed);
    for(o = 0; o < CF_OUTCOME_N; o++)
      for(c = 0; c < CF_CHECK_N; c++)
        for(r = 0; r < CF_REASON_N; r++)
          out->decisions[o][c][r] += atomic_load_explicit(
              &n->decisions[o][c][r], memory_order_relaxed);
  }
  /* the totals from the same reads, so that they add up */
  for(o = 0; o < CF_OUTCOME_N; o++)
    for(c = 0; c < CF_CHECK_N; c++)
      for(r = 0; r < CF_REASON_N; r++)
        total[o] += out->decisions[o][c][r];
  out->allowed = total[CF_OUTCOME_ALLOW];
  out->denied = total[CF_OUTCOME_DENY];
  out->reported = total[CF_OUTCOME_REPORT];
  out->reloads = atomic_load(&g->reloads);
  out->reload_failures = atomic_load(&g->reload_failures);
}

CURLFENCE_API curlfence_code curlfence_guard_stats(curlfence_guard *guard,
                                                   curlfence_stats *out)
{
  curlfence_policy *p;
  cf_guard_counts n;

  if(!guard || !out)
    return CURLFENCE_E_INVAL;
  memset(out, 0, sizeof(*out));
  p = curlfence_guard_policy(guard, &out->generation);
  curlfence_policy_unref(p);
  cf_guard_counters(guard, &n);
  out->allowed = n.allowed;
  out->denied = n.denied;
  out->reported = n.reported;
  out->audit_errors = n.audit_errors;
  out->reloads = n.reloads;
  out->reload_failures = n.reload_failures;
  pthread_mutex_lock(&guard->err_lock);
  out->last_reload_error = guard->last_error;
  pthread_mutex_unlock(&guard->err_lock);
  return CURLFENCE_OK;
}
