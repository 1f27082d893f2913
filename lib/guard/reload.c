/* SPDX-License-Identifier: MIT */
/*
 * Switching a guard's policy: re-reading its rules file, replacing it with
 * the application's, and handing out the one in force.  The switch itself
 * is the lock-free two-slot update of lib/live.c.
 */
#include "guard.h"

#include <string.h>

static void note_reload_error(curlfence_guard *g, const curlfence_error *e)
{
  atomic_fetch_add(&g->reload_failures, 1);
  pthread_mutex_lock(&g->err_lock);
  g->last_error = *e;
  pthread_mutex_unlock(&g->err_lock);
}

curlfence_code cf_guard_reload(curlfence_guard *guard, int watcher,
                               curlfence_error *err)
{
  curlfence_policy *cur, *next = NULL;
  curlfence_error local;
  curlfence_code rc;
  const char *moved;
  uint64_t gen;

  if(!err)
    err = &local;
  if(!guard) {
    cf_error_set(err, CURLFENCE_E_INVAL, NULL, 0, 0, "NULL guard");
    return CURLFENCE_E_INVAL;
  }
  cur = curlfence_guard_policy(guard, &gen);
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
#ifdef CF_TEST_HOOKS
  if(guard->reload_loaded_hook)
    guard->reload_loaded_hook(guard);
#endif
  /* The load read every file and checked them (cf_load_retry); this looks
   * again after the table was built, just before publishing. */
  moved = cf_rules_changed(&next->rs);
  if(moved) {
    /* What was read may be half of a rewrite: never publish it.  The
     * watcher tries again once the file has settled, uncounted. */
    cf_error_changed(err, moved);
    curlfence_policy_unref(next);
    if(!watcher)
      note_reload_error(guard, err);
    return CURLFENCE_E_IO;
  }
  /* The file's rules replace the policy they were read for, not one
   * switched to meanwhile (an application's emergency set_policy). */
  if(!cf_live_publish(&guard->live, next, gen)) {
    curlfence_policy_unref(next);
    cf_error_set(err, CURLFENCE_E_SUPERSEDED, NULL, 0, 0,
                 "the guard switched to another policy while the rules were "
                 "read; that newer policy stays");
    return CURLFENCE_E_SUPERSEDED;
  }
  atomic_fetch_add(&guard->reloads, 1);
  return CURLFENCE_OK;
}

CURLFENCE_API curlfence_code curlfence_guard_reload(curlfence_guard *guard,
                                                    curlfence_error *err)
{
  return cf_guard_reload(guard, 0, err);
}

CURLFENCE_API curlfence_code curlfence_guard_set_policy(
    curlfence_guard *guard, curlfence_policy *policy)
{
  if(!guard || !policy)
    return CURLFENCE_E_INVAL;
  cf_live_publish(&guard->live, curlfence_policy_ref(policy), 0);
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
