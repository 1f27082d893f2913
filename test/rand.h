/* SPDX-License-Identifier: MIT */
/*
 * rand.h - the pseudo-random generator of the tests and the benchmarks
 * (splitmix64): small, fast, and the same sequence for the same seed on
 * every machine, so a failing seed or a benchmark's input can be given
 * again.  Not for anything that must be unpredictable.
 */
#ifndef CURLFENCE_TEST_RAND_H
#define CURLFENCE_TEST_RAND_H

#include <stdint.h>

static inline uint64_t rnd_next(uint64_t *s)
{
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* Uniform enough below n (0 when n is 0). */
static inline unsigned rnd_below(uint64_t *s, unsigned n)
{
  return n ? (unsigned)(rnd_next(s) % n) : 0;
}

#endif
