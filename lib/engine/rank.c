/* SPDX-License-Identifier: MIT */
/*
 * How matching rules rank, and the self rules' part of a decision.
 *
 * The order of two rules (cf_rule_beats) and the port test are shared by
 * the reference matcher (match.c), the table (table.c), the host's
 * addresses (self.c) and the review code; the self rules are decided here,
 * after the table's lookup, on the entries self.c resolved at load.  This
 * file calls nothing else in lib/: every file above may use it.
 */
#include "engine.h"

#include <string.h>

int cf_rule_port_match(const cf_ruleset *rs, const cf_rule *r, unsigned port)
{
  const cf_port_range *pr;
  uint32_t i;

  /* before the array is read: a policy without port lists has none */
  if(r->nports == 0)
    return 1;
  pr = rs->ports + r->port_off;
  for(i = 0; i < r->nports; i++)
    if(port >= pr[i].lo && port <= pr[i].hi)
      return 1;
  return 0;
}

int cf_rule_beats(const cf_rule *a, long ia, const cf_rule *b, long ib)
{
  if(a->plen != b->plen)
    return a->plen > b->plen ? 1 : -1;
  if((a->nports != 0) != (b->nports != 0))
    return a->nports != 0 ? 1 : -1;
  if(a->action != b->action)
    return a->action == CURLFENCE_DENY ? 1 : -1;
  return ia < ib ? 1 : (ia > ib ? -1 : 0);
}

/* Prefix entries first (a few, scanned), then single addresses (many,
 * searched); each part by (v6, addr, rule). */
int cf_selfent_cmp(const void *pa, const void *pb)
{
  const cf_selfent *a = pa, *b = pb;
  int c;

  if(cf_selfent_is_prefix(a) != cf_selfent_is_prefix(b))
    return cf_selfent_is_prefix(a) ? -1 : 1;
  if(a->v6 != b->v6)
    return a->v6 < b->v6 ? -1 : 1;
  if((c = memcmp(a->addr, b->addr, 16)) != 0)
    return c;
  return a->rule < b->rule ? -1 : a->rule > b->rule;
}

/* Whether entry e holds addr.  Compared in place: the fast path of
 * curlfence_policy_decide() asks this for every address of a policy with
 * self rules (maybe_self in decide.c). */
static int holds(const cf_selfent *e, int v6, const uint8_t *addr)
{
  return e->v6 == (v6 != 0) && cf_prefix_equal(e->addr, addr, e->plen);
}

long cf_self_next(const cf_ruleset *rs, int v6, const uint8_t *addr, long e)
{
  size_t i = e < 0 ? 0 : (size_t)e + 1, lo, hi;
  cf_selfent key;

  /* most addresses are no entry's: their first byte says so */
  if(!(rs->selffirst[v6 != 0][addr[0] / 64u] & (1ull << (addr[0] % 64u))))
    return -1;
  for(; i < rs->nselfpfx; i++)
    if(holds(&rs->selfv[i], v6, addr))
      return (long)i;
  if(i > rs->nselfpfx)
    return i < rs->nselfv && holds(&rs->selfv[i], v6, addr) ? (long)i : -1;
  memset(&key, 0, sizeof(key));
  memcpy(key.addr, addr, v6 ? 16 : 4);
  key.v6 = (uint8_t)(v6 != 0);
  key.plen = v6 ? 128 : 32;
  /* the first single address not below (v6, addr, rule 0) */
  lo = rs->nselfpfx;
  hi = rs->nselfv;
  while(lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if(cf_selfent_cmp(&rs->selfv[mid], &key) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < rs->nselfv && holds(&rs->selfv[lo], v6, addr) ? (long)lo : -1;
}

void cf_rule_ranked(const cf_ruleset *rs, long i, int v6,
                    const uint8_t *addr, cf_rule *out)
{
  *out = rs->rules[i];
  if(out->self) {
    long e;

    out->v6 = (uint8_t)(v6 != 0);
    out->plen = 0;
    for(e = cf_self_next(rs, v6, addr, -1); e >= 0;
        e = cf_self_next(rs, v6, addr, e))
      if(rs->selfv[e].rule == (uint32_t)i && rs->selfv[e].plen > out->plen)
        out->plen = rs->selfv[e].plen;
    if(!out->plen)
      out->plen = v6 ? 128 : 32;
  }
}

long cf_self_decide(const cf_ruleset *rs, int v6, const uint8_t *addr,
                    unsigned port, long idx, int *allow, long *ent)
{
  long e = rs->nselfv ? cf_self_next(rs, v6, addr, -1) : -1;
  cf_rule best, cand;

  if(ent)
    *ent = -1;
  if(e < 0)
    return idx;
  if(idx >= 0)
    cf_rule_ranked(rs, idx, v6, addr, &best);
  for(; e >= 0; e = cf_self_next(rs, v6, addr, e)) {
    long ri = (long)rs->selfv[e].rule;

    cand = rs->rules[ri];
    cand.v6 = (uint8_t)(v6 != 0);
    cand.plen = rs->selfv[e].plen;
    if(cand.nports && (port == 0 || !cf_rule_port_match(rs, &cand, port)))
      continue;
    if(idx < 0 || cf_rule_beats(&cand, ri, &best, idx) > 0) {
      idx = ri;
      best = cand;
      *allow = cand.action == CURLFENCE_ALLOW;
      if(ent)
        *ent = e;
    }
  }
  return idx;
}
