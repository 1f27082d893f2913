/*
 * libcurl glue: a guard enforces a policy on easy handles.  This file makes
 * the decisions (cf_guard_check_open, cf_guard_check_prereq) and never
 * calls libcurl; attach.c installs them as a handle's callbacks.
 *
 * Three hooks do the work.  The open-socket callback sees every address
 * libcurl connects to, after name resolution and for every redirect hop,
 * and refuses the denied ones (libcurl then tries the next address of the
 * host).  The pre-request callback sees the peer of the connection that is
 * about to carry a request, which covers connections that were opened by
 * another, unguarded handle and then shared through a multi or share pool.
 * Proxies are switched off, because with a proxy the callbacks would only
 * ever see the proxy's address.
 *
 * Lifetime: the callback data is the guard itself.  libcurl copies it into
 * duplicates made with curl_easy_duphandle(), so a guard must outlive every
 * handle it was attached to and every duplicate of one.  Socket closing
 * never uses the guard: either libcurl's own close() runs or the
 * application's chained close callback is installed directly, so
 * connections closed late by curl_multi_cleanup() or curl_share_cleanup(),
 * and the unpaired open/close calls of some libcurl versions, are safe.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

CURLFENCE_API curlfence_code curlfence_guard_new(curlfence_guard **out,
                                                 curlfence_policy *policy)
{
  curlfence_guard *g;

  if(!out)
    return CURLFENCE_E_INVAL;
  *out = NULL;
  if(!policy)
    return CURLFENCE_E_INVAL;
  g = calloc(1, sizeof(*g));
  if(!g)
    return CURLFENCE_E_NOMEM;
  cf_live_init(&g->live, curlfence_policy_ref(policy));
  pthread_mutex_init(&g->watch.lock, NULL);
  pthread_cond_init(&g->watch.wake, NULL);
  pthread_mutex_init(&g->err_lock, NULL);
  *out = g;
  return CURLFENCE_OK;
}

CURLFENCE_API void curlfence_guard_free(curlfence_guard *guard)
{
  if(!guard)
    return;
  cf_watch_stop(guard);
  cf_live_destroy(&guard->live);
  pthread_mutex_destroy(&guard->watch.lock);
  pthread_cond_destroy(&guard->watch.wake);
  pthread_mutex_destroy(&guard->err_lock);
  free(guard);
}

CURLFENCE_API curlfence_code curlfence_guard_set_audit(
    curlfence_guard *guard, curlfence_audit_fn fn, void *userdata,
    unsigned flags)
{
  if(!guard || (flags & ~CURLFENCE_AUDIT_ALL))
    return CURLFENCE_E_INVAL;
  guard->audit = fn;
  guard->audit_data = userdata;
  guard->audit_flags = flags;
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

static void addr_text(const struct sockaddr *sa, socklen_t len, char *buf,
                      size_t size)
{
  uint8_t key[16];
  unsigned port;
  int v6 = 0, kind = cf_sockaddr_key(sa, len, &v6, key, &port);

  buf[0] = '\0';
  if(kind == 0) {
    inet_ntop(v6 ? AF_INET6 : AF_INET, key, buf, (socklen_t)size);
  }
  else if(kind == AF_UNIX) {
    size_t off = offsetof(struct sockaddr_un, sun_path);
    size_t n = (size_t)len - off, i;
    const char *path = (const char *)sa + off;

    if(n > size - 1)
      n = size - 1;
    /* Abstract sockets start with NUL; show them as "@name". */
    for(i = 0; i < n && (path[i] || i == 0); i++)
      buf[i] = path[i] ? path[i] : '@';
    buf[i] = '\0';
  }
}

/* Count a decision and hand it to the audit callback.  Returns the action
 * to carry out: in report-only mode a denial is let through. */
static curlfence_action conclude(curlfence_guard *g, const curlfence_policy *p,
                                 long hit, uint64_t gen, int report_only,
                                 curlfence_check check,
                                 const struct sockaddr *sa, socklen_t len,
                                 int family, int socktype, int protocol,
                                 const curlfence_verdict *v)
{
  curlfence_event ev;
  struct timespec ts;
  uint8_t key[16];
  unsigned port = 0;
  int v6, enforced = !(report_only || curlfence_policy_report_only(p));

  if(p && hit >= 0)
    atomic_fetch_add_explicit(&p->hits[hit], 1, memory_order_relaxed);
  if(v->action == CURLFENCE_ALLOW)
    atomic_fetch_add_explicit(&g->allowed, 1, memory_order_relaxed);
  else if(enforced)
    atomic_fetch_add_explicit(&g->denied, 1, memory_order_relaxed);
  else
    atomic_fetch_add_explicit(&g->reported, 1, memory_order_relaxed);
  if(!g->audit ||
     (v->action == CURLFENCE_ALLOW && !(g->audit_flags & CURLFENCE_AUDIT_ALL)))
    return enforced ? v->action : CURLFENCE_ALLOW;
  memset(&ev, 0, sizeof(ev));
  clock_gettime(CLOCK_REALTIME, &ts);
  ev.time_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
  ev.action = v->action;
  ev.check = check;
  ev.family = family;
  ev.socktype = socktype;
  ev.protocol = protocol;
  addr_text(sa, len, ev.addr, sizeof(ev.addr));
  if(cf_sockaddr_key(sa, len, &v6, key, &port) == 0)
    ev.port = port;
  ev.verdict = *v;
  ev.generation = gen;
  ev.enforced = v->action == CURLFENCE_ALLOW || enforced;
  if(g->audit(&ev, g->audit_data) != 0)
    atomic_fetch_add_explicit(&g->audit_errors, 1, memory_order_relaxed);
  return enforced ? v->action : CURLFENCE_ALLOW;
}

/* --------------------------------------------------------------- checks */

curlfence_action cf_guard_check_open(curlfence_guard *g,
                                     const struct curl_sockaddr *a,
                                     int report_only)
{
  const curlfence_policy *p;
  curlfence_verdict v;
  curlfence_action act;
  unsigned slot;
  uint64_t gen;
  long hit;
  /* Newer libcurl ORs SOCK_CLOEXEC/SOCK_NONBLOCK into socktype. */
  int type = a->socktype & ~(SOCK_CLOEXEC | SOCK_NONBLOCK);
  /* addr is declared as a 16-byte sockaddr but libcurl passes room for the
   * whole address; addrlen, not sizeof, says how much there is. */
  const struct sockaddr *sa = (const struct sockaddr *)&a->addr;
  socklen_t len = (socklen_t)a->addrlen;

  if(!g)
    return CURLFENCE_DENY;
  if(a->family != sa->sa_family) {
    /* Inconsistent input: decide on nothing rather than guess. */
    sa = NULL;
    len = 0;
  }
  p = cf_live_acquire(&g->live, &slot, &gen);
  hit = cf_decide(p, sa, len, &act, &v);
  act = conclude(g, p, hit, gen, report_only, CURLFENCE_CHECK_OPEN, sa, len,
                 a->family, type, a->protocol, &v);
  cf_live_release(&g->live, slot);
  return act;
}

/* The peer of the connection a request is about to use.  libcurl gives it
 * as text: a numeric IP address, a unix socket's path, or "" when it has
 * none.  Anything else is denied as malformed. */
int cf_guard_check_prereq(curlfence_guard *g, const char *primary_ip,
                          int primary_port, int report_only)
{
  const curlfence_policy *p;
  curlfence_action act;
  unsigned slot;
  uint64_t gen;
  long hit;
  struct sockaddr_storage ss;
  struct sockaddr_in *in = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
  struct sockaddr_un *un = (struct sockaddr_un *)&ss;
  socklen_t len = 0;
  curlfence_verdict v;
  int socktype = SOCK_STREAM, protocol = 0;

  if(!g)
    return CURL_PREREQFUNC_ABORT;
  memset(&ss, 0, sizeof(ss));
  if(primary_ip && inet_pton(AF_INET, primary_ip, &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)primary_port);
    len = sizeof(*in);
    protocol = IPPROTO_TCP;
  }
  else if(primary_ip &&
          inet_pton(AF_INET6, primary_ip, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)primary_port);
    len = sizeof(*in6);
    protocol = IPPROTO_TCP;
  }
  else if(primary_ip && primary_ip[0] == '\0') {
    /* No peer address: file:// and other transfers without a connection,
     * UDP (TFTP) and abstract unix sockets.  Any socket this transfer
     * opened was checked when it was opened; there is nothing to re-check
     * (docs/security.md names the one gap: a pooled abstract socket). */
    return CURL_PREREQFUNC_OK;
  }
  else if(primary_ip && primary_ip[0] == '/') {
    size_t n = strlen(primary_ip);

    if(n >= sizeof(un->sun_path))
      n = sizeof(un->sun_path) - 1;
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, primary_ip, n);
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
  }
  p = cf_live_acquire(&g->live, &slot, &gen);
  hit = cf_decide(p, len ? (struct sockaddr *)&ss : NULL, len, &act, &v);
  act = conclude(g, p, hit, gen, report_only, CURLFENCE_CHECK_REUSED,
                 (struct sockaddr *)&ss, len, len ? ss.ss_family : 0,
                 socktype, protocol, &v);
  cf_live_release(&g->live, slot);
  return act == CURLFENCE_ALLOW ? CURL_PREREQFUNC_OK : CURL_PREREQFUNC_ABORT;
}

/* --------------------------------------------------------------- reload */

static void note_reload_error(curlfence_guard *g, const curlfence_error *e)
{
  atomic_fetch_add(&g->reload_failures, 1);
  pthread_mutex_lock(&g->err_lock);
  g->last_error = *e;
  pthread_mutex_unlock(&g->err_lock);
}

CURLFENCE_API curlfence_code curlfence_guard_reload(curlfence_guard *guard,
                                                    curlfence_error *err)
{
  curlfence_policy *cur, *next = NULL;
  curlfence_error local;
  curlfence_code rc;

  if(!err)
    err = &local;
  if(!guard) {
    cf_error_set(err, CURLFENCE_E_INVAL, NULL, 0, 0, "NULL guard");
    return CURLFENCE_E_INVAL;
  }
  cur = curlfence_guard_policy(guard, NULL);
  if(!cur->source) {
    curlfence_policy_unref(cur);
    cf_error_set(err, CURLFENCE_E_INVAL, NULL, 0, 0,
                 "the policy was not loaded from a file");
    return CURLFENCE_E_INVAL;
  }
  rc = curlfence_policy_load_file(&next, cur->source, err);
  curlfence_policy_unref(cur);
  if(rc) {
    note_reload_error(guard, err);
    return rc;
  }
  cf_live_publish(&guard->live, next);
  atomic_fetch_add(&guard->reloads, 1);
  return CURLFENCE_OK;
}

CURLFENCE_API curlfence_code curlfence_guard_set_policy(
    curlfence_guard *guard, curlfence_policy *policy)
{
  if(!guard || !policy)
    return CURLFENCE_E_INVAL;
  cf_live_publish(&guard->live, curlfence_policy_ref(policy));
  atomic_fetch_add(&guard->reloads, 1);
  return CURLFENCE_OK;
}

CURLFENCE_API curlfence_policy *curlfence_guard_policy(
    curlfence_guard *guard, uint64_t *generation)
{
  curlfence_policy *p;
  unsigned slot;

  if(!guard)
    return NULL;
  p = curlfence_policy_ref(cf_live_acquire(&guard->live, &slot, generation));
  cf_live_release(&guard->live, slot);
  return p;
}

CURLFENCE_API curlfence_code curlfence_guard_watch(curlfence_guard *guard,
                                                   unsigned interval_ms)
{
  if(!guard)
    return CURLFENCE_E_INVAL;
  return cf_watch_start(guard, interval_ms);
}

CURLFENCE_API void curlfence_guard_unwatch(curlfence_guard *guard)
{
  if(guard)
    cf_watch_stop(guard);
}

CURLFENCE_API curlfence_code curlfence_guard_stats(curlfence_guard *guard,
                                                   curlfence_stats *out)
{
  curlfence_policy *p;

  if(!guard || !out)
    return CURLFENCE_E_INVAL;
  memset(out, 0, sizeof(*out));
  p = curlfence_guard_policy(guard, &out->generation);
  curlfence_policy_unref(p);
  out->allowed = atomic_load_explicit(&guard->allowed, memory_order_relaxed);
  out->denied = atomic_load_explicit(&guard->denied, memory_order_relaxed);
  out->reported = atomic_load_explicit(&guard->reported,
                                       memory_order_relaxed);
  out->audit_errors = atomic_load_explicit(&guard->audit_errors,
                                           memory_order_relaxed);
  out->reloads = atomic_load(&guard->reloads);
  out->reload_failures = atomic_load(&guard->reload_failures);
  pthread_mutex_lock(&guard->err_lock);
  out->last_reload_error = guard->last_error;
  pthread_mutex_unlock(&guard->err_lock);
  return CURLFENCE_OK;
}
