/* SPDX-License-Identifier: MIT */
/*
 * Sharded counters (see internal.h): which shard a decision updates, and
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
#include "internal.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>

/* The copies of a policy's hits take at most this many bytes together;
 * a policy whose counters need more gets one copy: a few rules get every
 * shard, 100k rules get one, whose counters random traffic spreads over
 * many lines anyway. */
#define CF_SHARD_BYTES (64 * 1024)

unsigned cf_shard(void)
{
  int cpu = sched_getcpu();

  /* unknown: any shard is correct, only slower */
  return cpu > 0 ? (unsigned)cpu % CF_SHARDS : 0;
}

_Atomic uint64_t *cf_counters_new(size_t n, size_t *stride, unsigned *shards)
{
  const size_t per_line = CF_CACHE_LINE / sizeof(uint64_t);
  size_t st = (n + per_line - 1) / per_line * per_line, k;
  _Atomic uint64_t *c;

  if(!st)
    st = per_line;
  k = CF_SHARD_BYTES / (st * sizeof(uint64_t));
  if(k > CF_SHARDS)
    k = CF_SHARDS;
  if(k <= 1) {
    /* One copy shares no line with another, and calloc() leaves a large
     * one to untouched zero pages: 1M rules cost no time and no memory
     * until they are hit. */
    c = calloc(st, sizeof(uint64_t));
    k = 1;
  }
  else {
    c = aligned_alloc(CF_CACHE_LINE, k * st * sizeof(uint64_t));
    if(c)
      memset((void *)c, 0, k * st * sizeof(uint64_t));
  }
  if(!c)
    return NULL;
  *stride = st;
  *shards = (unsigned)k;
  return c;
}

uint64_t cf_counters_sum(_Atomic uint64_t *c, size_t stride, unsigned shards,
                         size_t i)
{
  uint64_t sum = 0;
  unsigned k;

  for(k = 0; k < shards; k++)
    sum += atomic_load_explicit(&c[k * stride + i], memory_order_relaxed);
  return sum;
}
