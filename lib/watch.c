/* SPDX-License-Identifier: MIT */
/*
 * Watching a guard's rules files: an optional thread that stat()s the
 * policy's files every interval and reloads (lib/reload.c) when their
 * identity (device, inode), size or times differ from what was read.
 * stat() follows symlinks, so a Kubernetes ConfigMap update (the "..data"
 * symlink swapped to a new directory) shows up as a new inode, as does a
 * rename(2) replacement; an in-place rewrite changes size or mtime.
 *
 * A policy with "self" rules is also reloaded when the host's interface
 * addresses change (an address added by DHCP, a new interface): the
 * watcher compares their fingerprint with the one the policy was built
 * from, each interval.
 *
 * It sits above the reload functions and below the guard's lifetime
 * (curlfence_guard_new/free in lib/guard.c init and stop it).
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void cf_watch_init(cf_watch *w)
{
  pthread_mutex_init(&w->lock, NULL);
  pthread_cond_init(&w->wake, NULL);
}

void cf_watch_destroy(cf_watch *w)
{
  pthread_mutex_destroy(&w->lock);
  pthread_cond_destroy(&w->wake);
}

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

static void *watch_main(void *arg)
{
  curlfence_guard *g = arg;
  cf_watch *w = &g->watch;
  curlfence_policy *watched = NULL;
  cf_stamp *seen = NULL;
  uint64_t self_seen = 0;

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
      self_seen = cur->rs.self_print;
    }
    if(cur->source) {
      int changed = seen && files_changed(cur, seen);

      if(cur->rs.nself && self_changed(&self_seen))
        changed = 1;
      if(changed)
        curlfence_guard_reload(g, NULL);
    }
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
