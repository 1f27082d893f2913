/* SPDX-License-Identifier: MIT */
/*
 * Live policy switching: a two-slot read-copy-update of one policy pointer
 * and the audit settings that go with it.
 *
 * It knows nothing of guards: a guard embeds one (lib/reload.c switches it,
 * lib/guard.c reads it on every decision and switches the audit settings).
 *
 * The audit settings (callback, its data, flags) share the slot with the
 * policy so that a decision sees one consistent set: read as three loose
 * fields, a callback could be called with the data meant for another, and
 * nothing would say when the old data (a sink) is no longer in use.  A
 * switch of audit settings fills the other slot with the same policy and
 * generation, so it is invisible to reloads and to the events.
 *
 * Layout.  A cf_live holds two slots, each a policy pointer and its
 * generation, counts of readers inside each, and an index saying which
 * slot is current.  The decision path (cf_live_acquire/cf_live_release)
 * is lock free and allocation free:
 *
 *   reader:  i = cur; readers[i]++; if(cur != i) { readers[i]--; retry }
 *            use slot[i].policy ... readers[i]--
 *
 *   writer:  (one at a time, under a mutex)
 *            [if generation[cur] != expected: give up]
 *            j = 1 - cur; slot[j] = new policy; cur = j;
 *            wait until readers[1 - j] == 0; drop the old policy
 *
 * Why it is safe: a reader only reads a slot's policy after it has
 * registered in that slot's counter and then seen the slot still current.
 * The writer fills slot j before making it current, and frees the old
 * policy only after its counter was seen at zero with the other slot
 * already current, so every reader that could still see the old policy is
 * counted, and every later reader finds the new one.  Readers that lose
 * the race touch only the counter, which lives as long as the cf_live.
 *
 * A writer that built its policy from the one it saw current (a reload)
 * names that one's generation, and publishes only if it is still current:
 * compare and publish, so it cannot undo a switch made meanwhile.
 * Generations only grow, so the comparison cannot be fooled by a policy
 * freed and another allocated at the same address.
 *
 * The readers of a slot are counted per shard (cf_shard in shard.c): a
 * reader leaves through the shard it entered by, and the writer waits
 * until every shard's count for the old slot is zero.
 *
 * Costs.  A decision pays two atomic read-modify-writes on the shard of
 * its CPU, a cache line that threads running elsewhere do not write.  A
 * switch waits for decisions in progress on the old policy (including
 * their audit callbacks), spinning with short sleeps; memory holds at most
 * the old and new policies.
 *
 */
#include "guard.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

void cf_live_init(cf_live *l, curlfence_policy *p)
{
  memset(l, 0, sizeof(*l));
  pthread_mutex_init(&l->wlock, NULL);
  atomic_init(&l->cur, 0);
  for(unsigned k = 0; k < CF_SHARDS; k++) {
    atomic_init(&l->readers[k].n[0], 0);
    atomic_init(&l->readers[k].n[1], 0);
  }
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
  unsigned k = cf_shard();
  cf_readers *r = &l->readers[k];

  for(;;) {
    unsigned i = atomic_load(&l->cur);

    atomic_fetch_add(&r->n[i], 1);
    if(atomic_load(&l->cur) == i) {
      *slot = i | k << 1;
      if(gen)
        *gen = atomic_load(&l->slot[i].generation);
      return atomic_load(&l->slot[i].policy);
    }
    atomic_fetch_sub(&r->n[i], 1);
  }
}

void cf_live_release(cf_live *l, unsigned slot)
{
  atomic_fetch_sub(&l->readers[slot >> 1].n[slot & 1], 1);
}

/* Whether a reader is still inside slot i.  Each pass reads each shard once,
 * after the other slot was made current: a reader counted in a shard already
 * read and leaving does not matter, and one entering after its shard was read
 * sees the switch and backs out without touching the policy.  A shard's count
 * never drops below its readers inside, as each reader leaves through the
 * shard it entered by. */
static int busy(cf_live *l, unsigned i)
{
  for(unsigned k = 0; k < CF_SHARDS; k++)
    if(atomic_load(&l->readers[k].n[i]) != 0)
      return 1;
  return 0;
}

static void pause_briefly(void)
{
  struct timespec ts = { 0, 50000 };   /* 50 us */
  nanosleep(&ts, NULL);
}

/* With wlock held: make the other slot current with p, gen and a, wait
 * until the old slot has no readers, and return its policy for the caller
 * to drop after unlocking. */
static curlfence_policy *switch_slot(cf_live *l, curlfence_policy *p,
                                     uint64_t gen, const cf_audit *a)
{
  unsigned i = atomic_load(&l->cur), j = 1 - i;
  curlfence_policy *old;

  atomic_store(&l->slot[j].policy, p);
  atomic_store(&l->slot[j].generation, gen);
  l->slot[j].audit = *a;
  atomic_store(&l->cur, j);
  while(busy(l, i))
    pause_briefly();
  old = atomic_load(&l->slot[i].policy);
  atomic_store(&l->slot[i].policy, NULL);
  return old;
}

uint64_t cf_live_publish(cf_live *l, curlfence_policy *p, uint64_t expect)
{
  curlfence_policy *old;
  unsigned i;
  uint64_t gen;

  pthread_mutex_lock(&l->wlock);
  i = atomic_load(&l->cur);
  gen = atomic_load(&l->slot[i].generation);
  if(expect && gen != expect) {
    /* Someone switched since the caller looked: its policy is newer than
     * whatever the caller derived from the one it saw. */
    pthread_mutex_unlock(&l->wlock);
    return 0;
  }
  gen++;
  old = switch_slot(l, p, gen, &l->slot[i].audit);
  pthread_mutex_unlock(&l->wlock);
  curlfence_policy_unref(old);
  return gen;
}

const cf_audit *cf_live_audit(const cf_live *l, unsigned slot)
{
  return &l->slot[slot & 1].audit;
}

void cf_live_set_audit(cf_live *l, const cf_audit *a)
{
  curlfence_policy *old;
  unsigned i;

  pthread_mutex_lock(&l->wlock);
  i = atomic_load(&l->cur);
  old = switch_slot(l,
                    curlfence_policy_ref(atomic_load(&l->slot[i].policy)),
                    atomic_load(&l->slot[i].generation), a);
  pthread_mutex_unlock(&l->wlock);
  curlfence_policy_unref(old);
}
