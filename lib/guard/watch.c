/* SPDX-License-Identifier: MIT */
/*
 * Watching a guard's rules files: an optional thread that stat()s the
 * policy's files every interval and reloads (lib/reload.c) when their
 * identity (device, inode), size or times differ from what was read.
 * stat() follows symlinks, so a Kubernetes ConfigMap update (the "..data"
 * symlink swapped to a new directory) shows up as a new inode, as does a
 * rename(2) replacement; an in-place rewrite changes size or mtime.
 *
 * A change is loaded once the files have looked the same for one interval,
 * and at least CF_WATCH_SETTLE_MS: a file rewritten in place in several
 * steps is then not read between them, and what changed while it was read
 * is read again (cf_load_retry) or not published (cf_guard_reload).  Only
 * rename(2) makes a new version appear at once and whole.
 *
 * A policy with "self" rules is also reloaded when the host's interface
 * addresses change (an address added by DHCP, a new interface): the
 * watcher compares their fingerprint with the one the policy was built
 * from at each look.
 *
 * It sits above the reload functions and below the guard's lifetime
 * (curlfence_guard_new/free in lib/guard.c init and stop it).
 */
#include "guard.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void cf_watch_init(cf_watch *w)
{
  pthread_condattr_t ca;

  memset(w, 0, sizeof(*w));
  pthread_mutex_init(&w->lock, NULL);
  /* The watcher sleeps until a CLOCK_MONOTONIC time: immune to clock
   * changes. */
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&w->wake, &ca);
  pthread_condattr_destroy(&ca);
  pthread_cond_init(&w->idle, NULL);
  w->state = CF_WATCH_IDLE;
}

void cf_watch_destroy(cf_watch *w)
{
  pthread_mutex_destroy(&w->lock);
  pthread_cond_destroy(&w->wake);
  pthread_cond_destroy(&w->idle);
}

/* How each file of p looks now (stat(2) on its name; all zero when it is
 * gone), into now[]. */
static void look(const curlfence_policy *p, cf_stamp *now)
{
  size_t i;

  for(i = 0; i < p->rs.nfiles; i++) {
    struct stat st;

    memset(&now[i], 0, sizeof(now[i]));
    if(p->rs.stamps[i].valid && stat(p->rs.files[i], &st) == 0)
      cf_stamp_from_stat(&now[i], &st);
  }
}

static int same(const cf_stamp *a, const cf_stamp *b, size_t n)
{
  return memcmp(a, b, n * sizeof(*a)) == 0;
}

static uint64_t now_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* What the watcher knows of the policy it watches: the files as last acted
 * on (seen), and a change waiting to settle (pend, first looked at at
 * since). */
typedef struct watch_state {
  curlfence_policy *watched;
  cf_stamp *seen, *pend, *now;
  int pending;
  uint64_t since;
  uint64_t self_seen;   /* fingerprint of the host's addresses */
} watch_state;

static void forget(watch_state *ws)
{
  free(ws->seen);
  ws->seen = ws->pend = ws->now = NULL;
  curlfence_policy_unref(ws->watched);
  ws->watched = NULL;
  ws->pending = 0;
}

/* Nonzero when the host's addresses differ from the fingerprint *seen
 * (which then takes the new one), so one change reloads once. */
static int self_changed(uint64_t *seen)
{
  cf_selfaddr *list;
  size_t n;
  uint64_t print;

  if(cf_self_list(&list, &n, &print) != 0)
    return 0;   /* looked at again next interval */
  free(list);
  if(print == *seen)
    return 0;
  *seen = print;
  return 1;
}

/* One look at the files of cur.  A change is loaded only once the files
 * have looked the same for the settle time: a writer rewriting a file in
 * place in several steps is not read half-way (and cf_guard_reload also
 * refuses what changed while it was read). */
static void look_once(curlfence_guard *g, watch_state *ws,
                      curlfence_policy *cur, unsigned settle_ms)
{
  size_t n = cur->rs.nfiles;

  if(cur != ws->watched) {
    /* A new policy: compare against what it was built from. */
    forget(ws);
    ws->seen = malloc(3 * (n ? n : 1) * sizeof(*ws->seen));
    if(!ws->seen)
      return;          /* tried again at the next look */
    ws->pend = ws->seen + n;
    ws->now = ws->pend + n;
    memcpy(ws->seen, cur->rs.stamps, n * sizeof(*ws->seen));
    ws->watched = curlfence_policy_ref(cur);
    ws->self_seen = cur->rs.self_print;
  }
  if(!cur->source)
    return;
  /* An address comes or goes whole: nothing to let settle. */
  if(cur->rs.nself && self_changed(&ws->self_seen)) {
    cf_guard_reload(g, 1, NULL);
    return;
  }
  look(cur, ws->now);
  if(same(ws->now, ws->seen, n)) {
    ws->pending = 0;
    return;
  }
  if(!ws->pending || !same(ws->now, ws->pend, n)) {
    memcpy(ws->pend, ws->now, n * sizeof(*ws->pend));
    ws->pending = 1;
    ws->since = now_ms();
    return;
  }
  if(now_ms() - ws->since < settle_ms)
    return;
  /* Settled.  A failure is retried only once the files change again. */
  memcpy(ws->seen, ws->now, n * sizeof(*ws->seen));
  ws->pending = 0;
  cf_guard_reload(g, 1, NULL);
}

static void *watch_main(void *arg)
{
  curlfence_guard *g = arg;
  cf_watch *w = &g->watch;
  watch_state ws;

  memset(&ws, 0, sizeof(ws));
  pthread_mutex_lock(&w->lock);
  while(!w->stop) {
    struct timespec until;
    unsigned ms = w->interval_ms;
    curlfence_policy *cur;

    pthread_mutex_unlock(&w->lock);
    cur = curlfence_guard_policy(g, NULL);
    look_once(g, &ws, cur, ms > CF_WATCH_SETTLE_MS ? ms : CF_WATCH_SETTLE_MS);
    curlfence_policy_unref(cur);

    pthread_mutex_lock(&w->lock);
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000;
    if(until.tv_nsec >= 1000000000) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000;
    }
    while(!w->stop && !w->kick &&
          pthread_cond_timedwait(&w->wake, &w->lock, &until) != ETIMEDOUT)
      ;
    w->kick = 0;
  }
  pthread_mutex_unlock(&w->lock);
  forget(&ws);
  return NULL;
}

/* The thread's life: IDLE -> RUNNING (start) -> STOPPING (the one stop
 * that saw RUNNING; only it joins) -> IDLE.  Others that find it STOPPING
 * wait on w->idle: a stop returns only once the thread is gone, and a
 * start begins a new thread only after the old one was joined. */
curlfence_code cf_watch_start(curlfence_guard *g, unsigned interval_ms)
{
  cf_watch *w = &g->watch;
  int rc = 0;

  pthread_mutex_lock(&w->lock);
  while(w->state == CF_WATCH_STOPPING)
    pthread_cond_wait(&w->idle, &w->lock);
  w->interval_ms = interval_ms ? interval_ms : 1000;
  if(w->state == CF_WATCH_RUNNING) {
    /* Look now, then wait the new interval. */
    w->kick = 1;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    return CURLFENCE_OK;
  }
  w->stop = 0;
  w->kick = 0;
  rc = pthread_create(&w->thread, NULL, watch_main, g);
  if(rc == 0)
    w->state = CF_WATCH_RUNNING;
  pthread_mutex_unlock(&w->lock);
  return rc ? CURLFENCE_E_NOMEM : CURLFENCE_OK;
}

void cf_watch_stop(curlfence_guard *g)
{
  cf_watch *w = &g->watch;

  pthread_mutex_lock(&w->lock);
  if(w->state == CF_WATCH_RUNNING) {
    w->state = CF_WATCH_STOPPING;
    w->stop = 1;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_mutex_lock(&w->lock);
    w->state = CF_WATCH_IDLE;
    pthread_cond_broadcast(&w->idle);
  }
  while(w->state == CF_WATCH_STOPPING)
    pthread_cond_wait(&w->idle, &w->lock);
  pthread_mutex_unlock(&w->lock);
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
