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
  long e = cf_self_first(rs, v6, addr);

  for(i = 0; i < rs->nrules; i++) {
    cf_rule r, o;
    size_t j;

    cf_rule_ranked(rs, (long)i, v6, &r);
    if(r.self) {
      size_t k;
      int in = 0;
      /* the entries for addr follow e, rule ascending */
      for(k = e < 0 ? rs->nselfv : (size_t)e;
          k < rs->nselfv && !in && rs->selfv[k].v6 == (v6 != 0) &&
          !memcmp(rs->selfv[k].addr, addr, v6 ? 16 : 4); k++)
        in = rs->selfv[k].rule == i;
      if(!in)
        continue;
    }
    else if(r.v6 != (v6 != 0) || !holds(&r, addr))
      continue;
    if(n < max) {
      /* insertion in rank order; matches are few (one per prefix
       * length at most, but for repeated rules) */
      for(j = n; j > 0; j--) {
        cf_rule_ranked(rs, out[j - 1], v6, &o);
        if(cf_rule_beats(&r, (long)i, &o, out[j - 1]) <= 0)
          break;
        out[j] = out[j - 1];
      }
      out[j] = (long)i;
    }
    n++;
  }
  return n;
}
