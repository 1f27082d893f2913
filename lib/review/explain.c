/* SPDX-License-Identifier: MIT */
/*
 * explain.c - every rule that matches an address, in rank order, for
 * `curlfence explain`.  A scan like the reference matcher's: explaining
 * one address needs no index.
 */
#include "review.h"

#include <stdlib.h>
#include <string.h>

size_t cf_match_all(const cf_ruleset *rs, int v6, const uint8_t *addr,
                    long *out, size_t max)
{
  size_t i, n = 0;

  for(i = 0; i < rs->nrules; i++) {
    cf_rule r, o;
    size_t j;

    if(rs->rules[i].self) {
      long e;
      int in = 0;

      for(e = cf_self_next(rs, v6, addr, -1); e >= 0 && !in;
          e = cf_self_next(rs, v6, addr, e))
        in = rs->selfv[e].rule == i;
      if(!in)
        continue;
    }
    else if(rs->rules[i].v6 != (v6 != 0) ||
            !cf_prefix_equal(rs->rules[i].addr, addr, rs->rules[i].plen))
      continue;
    cf_rule_ranked(rs, (long)i, v6, addr, &r);
    if(n < max) {
      /* insertion in rank order; matches are few (one per prefix
       * length at most, but for repeated rules) */
      for(j = n; j > 0; j--) {
        cf_rule_ranked(rs, out[j - 1], v6, addr, &o);
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
