/* SPDX-License-Identifier: MIT */
/*
 * Sharded counters (see engine.h): which shard a decision updates, and
 * the counter arrays of the per-rule hits.
 *
 * The shard is the CPU the thread runs on (glibc reads it from the
 * thread's restartable-sequence area, no system call): two threads
 * deciding at the same moment run on two CPUs, so they never share one
 * while there are at most CF_SHARDS CPUs.  A thread-local index would do
 * as well, but a library with thread-local storage costs every program
 * that loads it: the preload library's start-up grew by 1.5% of curl's
 * instructions with a single thread-local variable.
 */
#include "engine.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The copies of a policy's hits: CF_SHARDS of them when they fit in
 * CF_SHARD_SMALL bytes together, else one per CPU the machine has (CPUs
 * beyond CF_SHARDS share), as long as they take at most CF_SHARD_BYTES
 * together (counting the CPUs costs a few system calls per load, which
 * small policies, the preload's at every program start, do without).
 * Two threads deciding at once then never write one line, even when they
 * connect to the same address: with one copy of a large policy's hits,
 * two threads made each decision cost twice the CPU time of one thread
 * alone (bgp4-100k).  The copies cost address space, not memory: calloc()
 * leaves a large block to pages the kernel maps on first write, so a copy
 * takes memory only for the rules its CPUs hit.  A policy too large for
 * two copies gets one, except for its last line, which holds the
 * default's counter (which every address outside the rules hits) and
 * gets a copy per shard whatever the size. */
#define CF_SHARD_SMALL (64u * 1024)
#define CF_SHARD_BYTES (32u * 1024 * 1024)

/* The CPUs whose decisions need copies of their own. */
static unsigned cpus(void)
{
  long n = sysconf(_SC_NPROCESSORS_CONF);

  return n < 1 ? 1 : n > CF_SHARDS ? CF_SHARDS : (unsigned)n;
}

unsigned cf_shard(void)
{
  int cpu = sched_getcpu();

  /* unknown: any shard is correct, only slower */
  return cpu > 0 ? (unsigned)cpu % CF_SHARDS : 0;
}

_Atomic uint64_t *cf_counters_new(size_t n, size_t *stride, unsigned *shards,
                                  void **mem)
{
  const size_t line = CF_CACHE_LINE / sizeof(uint64_t);
  size_t st = (n + line - 1) / line * line, k, total;
  uintptr_t at;
  void *m;

  if(!st)
    st = line;
  k = CF_SHARD_BYTES / (st * sizeof(uint64_t));
  if(k > CF_SHARDS)
    k = CF_SHARDS;
  if(k * st * sizeof(uint64_t) > CF_SHARD_SMALL && k > cpus())
    k = cpus();
  if(k <= 1) {
    k = 1;
    total = st + (CF_SHARDS - 1) * line;   /* the last line's copies */
  }
  else
    total = k * st;
  if(total > SIZE_MAX / sizeof(uint64_t) - 1)
    return NULL;
  /* calloc() leaves a large block to zero pages the kernel maps on first
   * write: 1M rules cost no time and no memory until they are hit.  One
   * line more, to start on a line of its own. */
  m = calloc(total + line, sizeof(uint64_t));
  if(!m)
    return NULL;
  at = ((uintptr_t)m + CF_CACHE_LINE - 1) & ~(uintptr_t)(CF_CACHE_LINE - 1);
  *mem = m;
  *stride = st;
  *shards = (unsigned)k;
  return (_Atomic uint64_t *)at;
}

uint64_t cf_counters_sum(_Atomic uint64_t *c, size_t stride, unsigned shards,
                         size_t i)
{
  uint64_t sum = 0;
  unsigned k;

  for(k = 0; k < (shards > 1 ? shards : CF_SHARDS); k++) {
    /* one copy: only the last line's shards are apart */
    if(shards <= 1 && k && i < stride - CF_CACHE_LINE / sizeof(uint64_t))
      break;
    sum += atomic_load_explicit(cf_counter(c, stride, shards, k, i),
                                memory_order_relaxed);
  }
  return sum;
}
