/* SPDX-License-Identifier: MIT */
/*
 * table_sort.c - the sort keys of the table build: made from the rules
 * and nat64 prefixes of one family, then radix-sorted (step 1 of "HOW IT
 * IS BUILT" at the top of table.c).
 */
#include "table_sort.h"

#include <stdlib.h>
#include <string.h>

/* (start, plen, rank, idx) order: the same prefixes end up adjacent, best
 * rule first, and a prefix follows the ones that hold it. */
static int key_le(const cf_key *a, const cf_key *b)
{
  if(a->hi != b->hi)
    return a->hi < b->hi;
  if(a->lo != b->lo)
    return a->lo < b->lo;
  if(a->tail != b->tail)
    return a->tail < b->tail;
  return a->idx <= b->idx;
}

#define RADIX_BITS 11
#define RADIX (1u << RADIX_BITS)
#define RADIX_PASSES 13  /* tail: 1, lo: 6, hi: 6 */

static unsigned key_digit(const cf_key *k, unsigned pass)
{
  if(pass == 0)
    return k->tail & (RADIX - 1);
  if(pass <= 6)
    return (unsigned)(k->lo >> (RADIX_BITS * (pass - 1))) & (RADIX - 1);
  return (unsigned)(k->hi >> (RADIX_BITS * (pass - 7))) & (RADIX - 1);
}

/* LSD radix sort: keys come in rule order and every pass is stable, so
 * equal keys stay in index order.  A comparison sort spent most of the
 * build time on a million rules; here passes over digits that are the same
 * in every key (the host part of most prefixes) are skipped.  Written once
 * for both key types as a macro rather than a function taking the key size
 * and a digit function: the digit is read twice per key and pass, and an
 * indirect call there would cost the build its speed.  le(rs, a, b) and
 * digit(rs, key, pass) take pointers to keys. */
#define DEFINE_RADIX_SORT(name, type, passes, le, digit)                  \
  static int name(const cf_ruleset *rs, type *k, size_t n, void *scratch) \
  {                                                                       \
    size_t i;                                                             \
    size_t(*hist)[RADIX];                                                 \
    type *tmp, *src = k, *dst;                                            \
    for(i = 1; i < n; i++)                                                \
      if(!le(rs, &k[i - 1], &k[i]))                                       \
        break;                                                            \
    if(i >= n)                                                            \
      return 0; /* already sorted, as generated or well-kept files are */ \
    if(n < 64) {                                                          \
      for(size_t a = 1; a < n; a++) {                                     \
        type x = k[a];                                                    \
        size_t b = a;                                                     \
        for(; b > 0 && !le(rs, &k[b - 1], &x); b--)                       \
          k[b] = k[b - 1];                                                \
        k[b] = x;                                                         \
      }                                                                   \
      return 0;                                                           \
    }                                                                     \
    hist = calloc(passes, sizeof *hist);                                  \
    tmp = scratch ? scratch : malloc(n * sizeof *tmp);                    \
    if(!hist || !tmp) {                                                   \
      free(hist);                                                         \
      if(tmp != scratch)                                                  \
        free(tmp);                                                        \
      return -1;                                                          \
    }                                                                     \
    for(i = 0; i < n; i++)                                                \
      for(unsigned p = 0; p < (passes); p++)                              \
        hist[p][digit(rs, &k[i], p)]++;                                   \
    dst = tmp;                                                            \
    for(unsigned p = 0; p < (passes); p++) {                              \
      size_t sum = 0, *h = hist[p];                                       \
      if(h[digit(rs, &src[0], p)] == n)                                   \
        continue;                                                         \
      for(unsigned d = 0; d < RADIX; d++) {                               \
        size_t c = h[d];                                                  \
        h[d] = sum;                                                       \
        sum += c;                                                         \
      }                                                                   \
      for(i = 0; i < n; i++)                                              \
        dst[h[digit(rs, &src[i], p)]++] = src[i];                         \
      type *sw = src;                                                     \
      src = dst;                                                          \
      dst = sw;                                                           \
    }                                                                     \
    if(src != k)                                                          \
      memcpy(k, src, n * sizeof *k);                                      \
    if(tmp != scratch)                                                    \
      free(tmp);                                                          \
    free(hist);                                                           \
    return 0;                                                             \
  }

/* The IPv6 keys carry their whole order; the rule set is not needed. */
static int key_le_rs(const cf_ruleset *rs, const cf_key *a, const cf_key *b)
{
  (void)rs;
  return key_le(a, b);
}

static unsigned key_digit_rs(const cf_ruleset *rs, const cf_key *k,
                             unsigned pass)
{
  (void)rs;
  return key_digit(k, pass);
}

DEFINE_RADIX_SORT(sort_keys, cf_key, RADIX_PASSES, key_le_rs, key_digit_rs)

/* What follows a rule's start in its sort key. */
static uint16_t rule_tail(const cf_rule *r)
{
  return (uint16_t)(r->plen << 2 | (r->nports ? 2 : 0) |
                    (r->action != CURLFENCE_DENY));
}

/* The sort key of rule i for family v6 into *k: 1, or 0 when the family's
 * table leaves the rule out, -2 for a prefix length past the family's. */
static int rule_key(const cf_ruleset *rs, size_t i, int v6, cf_key *k)
{
  const cf_rule *r = &rs->rules[i];
  cf_u128 a = 0;
  const cf_u128 ones = ~(cf_u128)0;
  /* self rules are decided after the lookup (cf_self_decide): the host's
   * addresses are not known when an image is compiled */
  if(!!r->v6 != v6 || r->self)
    return 0;
  /* A rule inside a nat64 prefix can never apply (the parser refuses one;
   * hand-built sets might): leave it out so it cannot cut the prefix's
   * region. */
  if(v6 && rs->nnat64 && cf_nat64_covering(rs, r->addr, r->plen) >= 0)
    return 0;
  if(r->plen > (v6 ? 128 : 32))
    return -2;
  for(int j = 0; j < (v6 ? 16 : 4); j++)
    a = a << 8 | r->addr[j];
  if(!v6)
    a <<= 96;
  /* Host bits are cleared by the parser; clear them again so a stray one
   * cannot break the nesting the sweep relies on. */
  if(r->plen == 0)
    a = 0;
  else
    a &= ones << (128 - r->plen);
  k->hi = (uint64_t)(a >> 64);
  k->lo = (uint64_t)a;
  k->idx = (uint32_t)i;
  k->tail = rule_tail(r);
  return 1;
}

/* The sort keys of the IPv6 rules and nat64 prefixes, into k (room for
 * all of them), *np of them.  -2 for a prefix length past the family's. */
static int make_keys(const cf_ruleset *rs, cf_key *k, size_t *np)
{
  size_t n = 0;
  for(size_t i = 0; i < rs->nrules; i++) {
    int rc = rule_key(rs, i, 1, &k[n]);
    if(rc < 0)
      return rc;
    n += (size_t)rc;
  }
  for(size_t i = 0; i < rs->nnat64; i++) {
    const cf_nat64 *d = &rs->nat64[i];
    cf_u128 a = 0;
    if(d->plen > 128)
      return -2;
    for(int j = 0; j < 16; j++)
      a = a << 8 | d->prefix[j];
    a = d->plen ? a & ~(cf_u128)0 << (128 - d->plen) : 0;
    k[n].hi = (uint64_t)(a >> 64);
    k[n].lo = (uint64_t)a;
    k[n].idx = KEY_NAT64 | (uint32_t)i;
    k[n].tail = (uint16_t)(d->plen << 2);
    n++;
  }
  *np = n;
  return 0;
}

/* IPv4 sort keys are one word each, the start above the rule's index,
 * and the tail is read from the rule when sorting and sweeping: a third
 * of a cf_key, which on a million rules is 32 MB less at the build's
 * peak (keys and the radix sort's buffer). */
#define KEY4_IDX(u) ((uint32_t)(u))

static int make_keys4(const cf_ruleset *rs, uint64_t *k, size_t *np)
{
  size_t n = 0;
  for(size_t i = 0; i < rs->nrules; i++) {
    cf_key x;
    int rc = rule_key(rs, i, 0, &x);
    if(rc < 0)
      return rc;
    if(rc)
      k[n++] = (x.hi & 0xffffffff00000000u) | (uint32_t)i;
  }
  *np = n;
  return 0;
}

/* Digit pass of IPv4 key u: pass 0 its tail, then three of its start. */
static unsigned key4_digit(const cf_ruleset *rs, uint64_t u, unsigned pass)
{
  if(pass == 0)
    return rule_tail(&rs->rules[KEY4_IDX(u)]);
  return (unsigned)(u >> (32 + RADIX_BITS * (pass - 1))) & (RADIX - 1);
}

#define RADIX4_PASSES 4  /* tail: 1, start: 3 */

static unsigned key4_digit_p(const cf_ruleset *rs, const uint64_t *u,
                             unsigned pass)
{
  return key4_digit(rs, *u, pass);
}

/* key_le's order for IPv4 keys. */
static int key4_le(const cf_ruleset *rs, const uint64_t *ap,
                   const uint64_t *bp)
{
  uint64_t a = *ap, b = *bp;
  unsigned ta, tb;
  if(a >> 32 != b >> 32)
    return a >> 32 < b >> 32;
  ta = key4_digit(rs, a, 0);
  tb = key4_digit(rs, b, 0);
  if(ta != tb)
    return ta < tb;
  return KEY4_IDX(a) <= KEY4_IDX(b);
}

/* sort_keys for IPv4 keys, made in rule order as the tail pass needs. */
DEFINE_RADIX_SORT(sort_keys4, uint64_t, RADIX4_PASSES, key4_le,
                  key4_digit_p)

cf_key cf_key_at(const cf_ruleset *rs, const cf_key *k, const uint64_t *k4,
                 size_t i)
{
  cf_key x;
  if(!k4)
    return k[i];
  /* the start as make_keys4 kept it, the tail from the rule */
  x.hi = k4[i] & 0xffffffff00000000u;
  x.lo = 0;
  x.idx = KEY4_IDX(k4[i]);
  x.tail = rule_tail(&rs->rules[x.idx]);
  return x;
}

int cf_sort_keys(const cf_ruleset *rs, int v6, size_t *n, cf_key **k,
                 uint64_t **k4, void *scratch, size_t size)
{
  size_t ksize = v6 ? sizeof **k : sizeof **k4;
  void *keys = malloc(*n * ksize);
  int rc;

  *k = v6 ? keys : NULL;
  *k4 = v6 ? NULL : keys;
  if(!keys)
    return -1;
  rc = v6 ? make_keys(rs, *k, n) : make_keys4(rs, *k4, n);
  if(rc)
    return rc;
  if(size < *n * ksize)
    scratch = NULL;
  rc = v6 ? sort_keys(rs, *k, *n, scratch) : sort_keys4(rs, *k4, *n, scratch);
  return rc ? -1 : 0;
}
