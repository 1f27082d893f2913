/* SPDX-License-Identifier: MIT */
/*
 * Sharded counters (see internal.h): which shard a thread updates, and the
 * counter arrays of the per-rule hits.
 *
 * A thread takes the next shard, round robin, at its first decision and
 * keeps it: up to CF_SHARDS threads that decide at the same time never
 * share one, and nothing but a thread-local variable is read per
 * decision.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* The hits of a policy take at most this many bytes per shard beyond the
 * first: a policy with few rules gets every shard, one with 100k rules
 * gets one, whose counters random traffic spreads over many lines. */
#define CF_SHARD_BYTES (64 * 1024)

static atomic_uint next_shard;
static _Thread_local unsigned my_shard;   /* shard + 1; 0: none yet */

unsigned cf_shard(void)
{
  unsigned s = my_shard;

  if(!s) {
    s = atomic_fetch_add_explicit(&next_shard, 1, memory_order_relaxed) %
            CF_SHARDS + 1;
    my_shard = s;
  }
  return s - 1;
}

_Atomic uint64_t *cf_counters_new(size_t n, size_t *stride, unsigned *shards)
{
  const size_t per_line = CF_CACHE_LINE / sizeof(uint64_t);
  size_t st = (n + per_line - 1) / per_line * per_line, k;
  _Atomic uint64_t *c;

  if(!st)
    st = per_line;
  k = CF_SHARD_BYTES / (st * sizeof(uint64_t));
  if(k < 1)
    k = 1;
  if(k > CF_SHARDS)
    k = CF_SHARDS;
  if(st > SIZE_MAX / sizeof(uint64_t) / k)
    return NULL;
  c = aligned_alloc(CF_CACHE_LINE, k * st * sizeof(uint64_t));
  if(!c)
    return NULL;
  memset((void *)c, 0, k * st * sizeof(uint64_t));
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
