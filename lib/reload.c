/*
 * Switching a guard's policy: re-reading its rules file, replacing it with
 * the application's, and handing out the one in force.  The switch itself
 * is the lock-free two-slot update of lib/live.c.
 */
#include "internal.h"

#include <string.h>

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
