/*
 * Live policy switching: the guard's two-slot read-copy-update.
 *
 * Layout.  A guard holds two slots, each a policy pointer, its generation
 * and a count of readers inside it, and an index saying which slot is
 * current.  The decision path (cf_live_acquire/cf_live_release) is lock
 * free and allocation free:
 *
 *   reader:  i = cur; readers[i]++; if(cur != i) { readers[i]--; retry }
 *            use slot[i].policy ... readers[i]--
 *
 *   writer:  (one at a time, under a mutex)
 *            j = 1 - cur; slot[j] = new policy; cur = j;
 *            wait until readers[1 - j] == 0; drop the old policy
 *
 * Why it is safe: a reader only reads a slot's policy after it has
 * registered in that slot's counter and then seen the slot still current.
 * The writer fills slot j before making it current, and frees the old
 * policy only after its counter was seen at zero with the other slot
 * already current, so every reader that could still see the old policy is
 * counted, and every later reader finds the new one.  Readers that lose
 * the race touch only the counter, which lives as long as the guard.
 *
 * Costs.  A decision pays two atomic read-modify-writes on a counter
 * shared by all threads using the guard.  A switch waits for decisions in
 * progress on the old policy (including their audit callbacks), spinning
 * with short sleeps; memory holds at most the old and new policies.
 *
 * The watcher: an optional thread that stat()s the policy's files every
 * interval and reloads when their identity (device, inode), size or times
 * differ from what was read.  stat() follows symlinks, so a Kubernetes
 * ConfigMap update (the "..data" symlink swapped to a new directory) shows
 * up as a new inode, as does a rename(2) replacement; an in-place rewrite
 * changes size or mtime.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void cf_live_init(cf_live *l, curlfence_policy *p)
{
  memset(l, 0, sizeof(*l));
  pthread_mutex_init(&l->wlock, NULL);
  atomic_init(&l->cur, 0);
  atomic_init(&l->slot[0].readers, 0);
  atomic_init(&l->slot[1].readers, 0);
  atomic_init(&l->slot[0].policy, p);
  atomic_init(&l->slot[1].policy, NULL);
  atomic_init(&l->slot[0].generation, 1);
  atomic_init(&l->slot[1].generation, 0);
}

void cf_live_destroy(cf_live *l)
{
  curlfence_policy_unref(atomic_load(&l->slot[0].policy));
  curlfence_policy_unref(atomic_load(&l->slot[1].policy));
  pthread_mutex_destroy(&l->wlock);
}

curlfence_policy *cf_live_acquire(cf_live *l, unsigned *slot, uint64_t *gen)
{
  for(;;) {
    unsigned i = atomic_load(&l->cur);

    atomic_fetch_add(&l->slot[i].readers, 1);
    if(atomic_load(&l->cur) == i) {
      *slot = i;
      if(gen)
        *gen = atomic_load(&l->slot[i].generation);
      return atomic_load(&l->slot[i].policy);
    }
    atomic_fetch_sub(&l->slot[i].readers, 1);
  }
}

void cf_live_release(cf_live *l, unsigned slot)
{
  atomic_fetch_sub(&l->slot[slot].readers, 1);
}

static void pause_briefly(void)
{
  struct timespec ts = { 0, 50000 };   /* 50 us */
  nanosleep(&ts, NULL);
}

uint64_t cf_live_publish(cf_live *l, curlfence_policy *p)
{
  curlfence_policy *old;
  unsigned i, j;
  uint64_t gen;

  pthread_mutex_lock(&l->wlock);
  i = atomic_load(&l->cur);
  j = 1 - i;
  gen = atomic_load(&l->slot[i].generation) + 1;
  atomic_store(&l->slot[j].policy, p);
  atomic_store(&l->slot[j].generation, gen);
  atomic_store(&l->cur, j);
  while(atomic_load(&l->slot[i].readers) != 0)
    pause_briefly();
  old = atomic_load(&l->slot[i].policy);
  atomic_store(&l->slot[i].policy, NULL);
  pthread_mutex_unlock(&l->wlock);
  curlfence_policy_unref(old);
  return gen;
}

/* ------------------------------------------------------------ watching */

/* Nonzero when any file of p looks different from when it was read. */
static int files_changed(const curlfence_policy *p, cf_stamp *seen)
{
  size_t i;
  int changed = 0;

  for(i = 0; i < p->rs.nfiles; i++) {
    struct stat st;
    cf_stamp now;

    if(!p->rs.stamps[i].valid)
      continue;
    memset(&now, 0, sizeof(now));
    if(stat(p->rs.files[i], &st) == 0)
      cf_stamp_from_stat(&now, &st);
    if(memcmp(&now, &seen[i], sizeof(now)) != 0) {
      seen[i] = now;
      changed = 1;
    }
  }
  return changed;
}

static void *watch_main(void *arg)
{
  curlfence_guard *g = arg;
  cf_watch *w = &g->watch;
  curlfence_policy *watched = NULL;
  cf_stamp *seen = NULL;

  pthread_mutex_lock(&w->lock);
  while(!w->stop) {
    struct timespec until;
    unsigned ms = w->interval_ms;
    curlfence_policy *cur;

    pthread_mutex_unlock(&w->lock);
    cur = curlfence_guard_policy(g, NULL);
    if(cur != watched) {
      /* A new policy: compare against what it was built from. */
      free(seen);
      seen = malloc((cur->rs.nfiles ? cur->rs.nfiles : 1) * sizeof(*seen));
      if(seen)
        memcpy(seen, cur->rs.stamps, cur->rs.nfiles * sizeof(*seen));
      curlfence_policy_unref(watched);
      watched = curlfence_policy_ref(cur);
    }
    if(seen && cur->source && files_changed(cur, seen))
      curlfence_guard_reload(g, NULL);
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
  free(seen);
  curlfence_policy_unref(watched);
  return NULL;
}

curlfence_code cf_watch_start(curlfence_guard *g, unsigned interval_ms)
{
  cf_watch *w = &g->watch;
  pthread_condattr_t ca;
  int rc = 0;

  pthread_mutex_lock(&w->lock);
  w->interval_ms = interval_ms ? interval_ms : 1000;
  if(w->running) {
    /* Look now, then wait the new interval. */
    w->kick = 1;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    return CURLFENCE_OK;
  }
  w->stop = 0;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_destroy(&w->wake);
  pthread_cond_init(&w->wake, &ca);
  pthread_condattr_destroy(&ca);
  rc = pthread_create(&w->thread, NULL, watch_main, g);
  w->running = rc == 0;
  pthread_mutex_unlock(&w->lock);
  return rc ? CURLFENCE_E_NOMEM : CURLFENCE_OK;
}

void cf_watch_stop(curlfence_guard *g)
{
  cf_watch *w = &g->watch;
  int running;

  pthread_mutex_lock(&w->lock);
  running = w->running;
  w->stop = 1;
  pthread_cond_signal(&w->wake);
  pthread_mutex_unlock(&w->lock);
  if(running)
    pthread_join(w->thread, NULL);
  pthread_mutex_lock(&w->lock);
  w->running = 0;
  pthread_mutex_unlock(&w->lock);
}
