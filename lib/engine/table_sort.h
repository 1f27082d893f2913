/* SPDX-License-Identifier: MIT */
/*
 * table_sort.h - the sort keys of the table build (table_build.c): each
 * rule's start, prefix length and rank, radix-sorted (table_sort.c).
 */
#ifndef CURLFENCE_TABLE_SORT_H
#define CURLFENCE_TABLE_SORT_H

#include "engine.h"
#include "table.h"

/* A rule as the sweep sees it: the left-aligned 128-bit start (IPv4 in
 * the top 32 bits) as two words, so that it radix-sorts, and the rest of
 * the sort key in tail.  IPv6 keys are sorted as these; IPv4 keys as one
 * word each (cf_sort_keys), made into these as the sweep reads them. */
typedef struct cf_key {
  uint64_t hi, lo;
  uint32_t idx;
  uint16_t tail;     /* plen << 2 | rank; rank 0 portless deny, 1 portless
                        allow, 2/3 the same with ports */
} cf_key;

/* idx of a nat64 prefix's key: KEY_NAT64 | its index in cf_ruleset.nat64 */
#define KEY_NAT64 0x80000000u
#define KEY_PLEN(k) ((unsigned)(k)->tail >> 2)
#define KEY_RANK(k) ((unsigned)(k)->tail & 3u)
#define KEY_START(k) ((cf_u128)(k)->hi << 64 | (k)->lo)

/* The sorted keys of family v6 of rs, *n of them, in (start, plen, rank,
 * idx) order: the same prefixes adjacent, best rule first, a prefix after
 * the ones that hold it.  IPv6 in *k, IPv4 in *k4 (the other NULL); the
 * caller frees both.  The radix sort's buffer is scratch when its size
 * bytes hold the keys (memory the caller has not used yet), else its
 * own.  0, -1 when out of memory, -2 for a prefix length past the
 * family's. */
int cf_sort_keys(const cf_ruleset *rs, int v6, size_t *n, cf_key **k,
                 uint64_t **k4, void *scratch, size_t size);
/* Key i of what cf_sort_keys gave. */
cf_key cf_key_at(const cf_ruleset *rs, const cf_key *k, const uint64_t *k4,
                 size_t i);

#endif
