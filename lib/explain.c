/* SPDX-License-Identifier: MIT */
/*
 * explain.c - every rule that matches an address, in rank order, for
 * `curlfence explain`.  A scan like the reference matcher's: explaining
 * one address needs no index.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static int holds(const cf_rule *r, const uint8_t *addr)
{
  unsigned full = r->plen / 8u, rest = r->plen % 8u;

  if(memcmp(r->addr, addr, full) != 0)
    return 0;
  return rest == 0 ||
         ((r->addr[full] ^ addr[full]) & (0xffu << (8u - rest)) & 0xffu) == 0;
}

size_t cf_match_all(const cf_ruleset *rs, int v6, const uint8_t *addr,
                    long *out, size_t max)
{
  size_t i, n = 0;

  for(i = 0; i < rs->nrules; i++) {
    const cf_rule *r = &rs->rules[i];
    size_t j;

    if(r->v6 != (v6 != 0) || !holds(r, addr))
      continue;
    if(n < max) {
      /* insertion in rank order; matches are few (one per prefix
       * length at most, but for repeated rules) */
      for(j = n; j > 0 && cf_rule_beats(r, (long)i, &rs->rules[out[j - 1]],
                                         out[j - 1]) > 0; j--)
        out[j] = out[j - 1];
      out[j] = (long)i;
    }
    n++;
  }
  return n;
}
