/* SPDX-License-Identifier: MIT */
/*
 * diff.c - where two rule sets decide differently.
 *
 * Each rule set is reduced to the spans the table builder sweeps out (one
 * value per interval of the address space: spans.c), and the two span
 * lists are walked together: every interval where both values stay the
 * same is compared once, so the cost is linear in the number of spans of
 * both sides, not in the size of the address space.
 *
 * Inside an interval the decision can still depend on the port (a port
 * set).  The port space 1-65535 is then cut at every bound of the port
 * ranges involved, and each piece is compared; pieces where the actions
 * differ are grouped by the pair of deciding rules.  Neighbouring
 * intervals with the same groups are merged before the range is cut into
 * a minimal list of CIDR blocks, so a change is reported as written, not
 * as the rules that happen to lie under it.
 *
 * Only the action counts: a range decided by another rule with the same
 * action is not a change.  IPv4-mapped IPv6 addresses (::ffff:0:0/96)
 * are always decided as IPv4, so the IPv6 span lists treat that block as
 * taking the value in force just below it: it never appears on its own
 * in the IPv6 list, and a reported IPv6 block may cover it (its addresses
 * are in the IPv4 list).  The same holds for every nat64 prefix of either
 * side: its addresses are decided as the IPv4 addresses they embed.  That a
 * prefix is declared on one side only is not a change of this list; the
 * caller compares the declarations (tools/diff.c).
 *
 * The unspecified address (0.0.0.0, ::) is decided as cf_decide decides
 * it: as itself and as the loopback address a connection to it reaches,
 * a denial of either winning.  It is the first interval of its family,
 * compared on its own with the loopback address's values, so a change of
 * the loopback decision that changes it is reported for it too.
 *
 * Memory: the two span lists (24 bytes per span, at most two spans per
 * rule) and the current run of groups.
 */
#include "review.h"

#include <stdlib.h>
#include <string.h>

__extension__ typedef unsigned __int128 u128;

#define KEY(s) ((u128)(s).hi << 64 | (s).lo)

/* One set of ports whose decision changes the same way. */
typedef struct group {
  long old_rule, new_rule;
  uint8_t old_act, new_act;
  uint8_t old_lo, new_lo;   /* decided as loopback (the unspecified address) */
  uint32_t off, n;          /* port ranges in groups.ports */
} group;

/* Groups g[0..n), their port ranges in ports[0..nports). */
typedef struct groups {
  group *g;
  size_t n, cap;
  cf_port_range *ports;
  size_t nports, capports;
} groups;

typedef struct diff_state {
  const cf_ruleset *rs[2];
  const cf_spans *sp[2];
  cf_diff_fn fn;
  void *ud;
  int v6;
  /* the pending run: [start, end] with its groups */
  int have;
  u128 start, end;
  groups run;
  /* the groups of the interval just computed, compared with the run */
  groups cur;
  /* scratch: port cuts, and the changing pieces with their groups */
  uint32_t *cuts;
  size_t capcuts;
  cf_port_range *pieces;
  size_t cappieces;
  uint32_t *pgroup;
  size_t cappgroup;
  int stop;                 /* the callback asked to stop */
  /* the interval is the unspecified address: each side decides it as
   * itself and as the loopback address, whose values are lo[] */
  int unspec;
  uint32_t lo[2];
} diff_state;

static uint8_t default_action(const cf_ruleset *rs)
{
  return rs->dflt.set ? rs->dflt.action : CURLFENCE_DENY;
}

/* The rule a plain (portless) value names and its action. */
static long plain_rule(const cf_ruleset *rs, uint32_t v, uint8_t *act)
{
  if(!v) {
    *act = default_action(rs);
    return -1;
  }
  *act = (v & CF_ALLOW) ? CURLFENCE_ALLOW : CURLFENCE_DENY;
  return (long)(v & ~CF_ALLOW) - 1;
}

/* Decision of value v of side s for port. */
static long decide_port(const diff_state *d, int s, uint32_t v,
                        unsigned port, uint8_t *act)
{
  if(v & CF_PSET) {
    const uint32_t *c;
    uint32_t n, w = cf_spans_pset(d->sp[s], v, &c, &n);

    for(uint32_t i = 0; i < n; i++)
      if(cf_rule_port_match(d->rs[s], &d->rs[s]->rules[c[i]], port)) {
        *act = d->rs[s]->rules[c[i]].action;
        return (long)c[i];
      }
    v = w;
  }
  return plain_rule(d->rs[s], v, act);
}

/* Decision of side s for port where its value is v: as decide_port, and
 * in the unspecified address's interval a denial of the loopback address
 * overrides an allow (*as_lo set), as cf_decide decides. */
static long decide_at(const diff_state *d, int s, uint32_t v, unsigned port,
                      uint8_t *act, uint8_t *as_lo)
{
  long r = decide_port(d, s, v, port, act), lr;
  uint8_t la;

  *as_lo = 0;
  if(!d->unspec || *act != CURLFENCE_ALLOW)
    return r;
  lr = decide_port(d, s, d->lo[s], port, &la);
  if(la == CURLFENCE_ALLOW)
    return r;
  *act = la;
  *as_lo = 1;
  return lr;
}

static int cmp_u32(const void *a, const void *b)
{
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* Bounds of every port range of a port set's candidates. */
static int add_cuts(diff_state *d, int s, uint32_t v, size_t *n)
{
  const uint32_t *c;
  uint32_t nc;

  if(!(v & CF_PSET))
    return 0;
  cf_spans_pset(d->sp[s], v, &c, &nc);
  for(uint32_t i = 0; i < nc; i++) {
    const cf_rule *r = &d->rs[s]->rules[c[i]];
    const cf_port_range *pr = d->rs[s]->ports + r->port_off;

    if(cf_grow(&d->cuts, &d->capcuts, *n + 2 * r->nports, sizeof(*d->cuts)))
      return -1;
    for(uint32_t j = 0; j < r->nports; j++) {
      d->cuts[(*n)++] = pr[j].lo;
      d->cuts[(*n)++] = (uint32_t)pr[j].hi + 1;
    }
  }
  return 0;
}

/* The groups of one interval with values va (old) and vb (new), in
 * d->cur.g, each group's port ranges contiguous and ascending in
 * d->cur.ports; n == 0 means every port. */
static int interval_groups(diff_state *d, uint32_t va, uint32_t vb)
{
  uint8_t oa, na, olo, nlo;
  long orule, nrule;
  size_t n = 0, npieces = 0, off = 0;

  d->cur.n = 0;
  d->cur.nports = 0;
  if(!d->unspec && !(va & CF_PSET) && !(vb & CF_PSET)) {
    orule = plain_rule(d->rs[0], va, &oa);
    nrule = plain_rule(d->rs[1], vb, &na);
    if(oa == na)
      return 0;
    if(cf_grow(&d->cur.g, &d->cur.cap, 1, sizeof(*d->cur.g)))
      return -1;
    d->cur.g[0].old_rule = orule;
    d->cur.g[0].new_rule = nrule;
    d->cur.g[0].old_act = oa;
    d->cur.g[0].new_act = na;
    d->cur.g[0].old_lo = d->cur.g[0].new_lo = 0;
    d->cur.g[0].off = 0;
    d->cur.g[0].n = 0;
    d->cur.n = 1;
    return 0;
  }
  if(cf_grow(&d->cuts, &d->capcuts, 2, sizeof(*d->cuts)))
    return -1;
  d->cuts[n++] = 1;
  d->cuts[n++] = 65536;
  if(add_cuts(d, 0, va, &n) || add_cuts(d, 1, vb, &n) ||
     (d->unspec && (add_cuts(d, 0, d->lo[0], &n) ||
                    add_cuts(d, 1, d->lo[1], &n))))
    return -1;
  qsort(d->cuts, n, sizeof(*d->cuts), cmp_u32);
  /* Pieces that change, in port order, go to the scratch ranges with
   * their group in pgroup; then they are copied out group by group. */
  for(size_t i = 0; i + 1 < n; i++) {
    unsigned lo = d->cuts[i], hi;
    size_t g;

    if(d->cuts[i + 1] == lo || lo > 65535)
      continue;
    hi = d->cuts[i + 1] - 1;
    orule = decide_at(d, 0, va, lo, &oa, &olo);
    nrule = decide_at(d, 1, vb, lo, &na, &nlo);
    if(oa == na)
      continue;
    for(g = 0; g < d->cur.n; g++)
      if(d->cur.g[g].old_rule == orule && d->cur.g[g].new_rule == nrule &&
         d->cur.g[g].old_lo == olo && d->cur.g[g].new_lo == nlo)
        break;
    if(g == d->cur.n) {
      if(cf_grow(&d->cur.g, &d->cur.cap, d->cur.n + 1, sizeof(*d->cur.g)))
        return -1;
      d->cur.g[g].old_rule = orule;
      d->cur.g[g].new_rule = nrule;
      d->cur.g[g].old_act = oa;
      d->cur.g[g].new_act = na;
      d->cur.g[g].old_lo = olo;
      d->cur.g[g].new_lo = nlo;
      d->cur.g[g].n = 0;
      d->cur.n++;
    }
    if(npieces && d->pgroup[npieces - 1] == g &&
       d->pieces[npieces - 1].hi + 1u == lo) {
      d->pieces[npieces - 1].hi = (uint16_t)hi;
      continue;
    }
    if(cf_grow(&d->pieces, &d->cappieces, npieces + 1, sizeof(*d->pieces)) ||
       cf_grow(&d->pgroup, &d->cappgroup, npieces + 1, sizeof(*d->pgroup)))
      return -1;
    d->pieces[npieces].lo = (uint16_t)lo;
    d->pieces[npieces].hi = (uint16_t)hi;
    d->pgroup[npieces++] = (uint32_t)g;
  }
  if(cf_grow(&d->cur.ports, &d->cur.capports, npieces, sizeof(*d->cur.ports)))
    return -1;
  for(size_t g = 0; g < d->cur.n; g++) {
    size_t k = 0;

    d->cur.g[g].off = (uint32_t)off;
    for(size_t i = 0; i < npieces; i++)
      if(d->pgroup[i] == g)
        d->cur.ports[off + k++] = d->pieces[i];
    d->cur.g[g].n = (uint32_t)k;
    off += k;
    /* a change on every port reads better as "any port" */
    if(k == 1 && d->cur.ports[d->cur.g[g].off].lo == 1 &&
       d->cur.ports[d->cur.g[g].off].hi == 65535)
      d->cur.g[g].n = 0;
  }
  d->cur.nports = off;
  return 0;
}

static int same_groups(const diff_state *d)
{
  if(d->run.n != d->cur.n)
    return 0;
  for(size_t i = 0; i < d->run.n; i++) {
    const group *a = &d->run.g[i], *b = &d->cur.g[i];

    if(a->old_rule != b->old_rule || a->new_rule != b->new_rule ||
       a->old_lo != b->old_lo || a->new_lo != b->new_lo || a->n != b->n)
      return 0;
    if(a->n && memcmp(d->run.ports + a->off, d->cur.ports + b->off,
                      a->n * sizeof(*d->run.ports)))
      return 0;
  }
  return 1;
}

/* Report the pending run as CIDR blocks, each with every group. */
static int flush(diff_state *d)
{
  u128 s = d->start, e = d->end;
  unsigned bits = d->v6 ? 128 : 32, shift = d->v6 ? 0 : 96;

  if(!d->have)
    return 0;
  d->have = 0;
  for(;;) {
    unsigned k = 0;   /* block of 2^(k + shift) keys */
    cf_diff_change c;

    /* largest aligned block at s inside [s, e] */
    while(k < bits) {
      u128 size;

      if(k + 1 + shift == 128) {   /* the whole space: 1 << 128 overflows */
        if(s == 0 && e == ~(u128)0)
          k++;
        break;
      }
      size = (u128)1 << (k + 1 + shift);
      if((s & (size - 1)) || s + (size - 1) > e)
        break;
      k++;
    }
    memset(&c, 0, sizeof(c));
    c.v6 = d->v6;
    c.plen = bits - k;
    for(unsigned j = 0; j < 16; j++)
      c.addr[j] = (uint8_t)(s >> (120 - 8 * j));
    for(size_t i = 0; i < d->run.n; i++) {
      const group *g = &d->run.g[i];

      c.ports = g->n ? d->run.ports + g->off : NULL;
      c.nports = g->n;
      c.old_rule = g->old_rule;
      c.new_rule = g->new_rule;
      c.old_action = (curlfence_action)g->old_act;
      c.new_action = (curlfence_action)g->new_act;
      c.old_loopback = g->old_lo;
      c.new_loopback = g->new_lo;
      if(d->fn(&c, d->ud)) {
        d->stop = 1;
        return 0;
      }
    }
    if(k + shift == 128)
      break;
    {
      u128 last = s + (((u128)1 << (k + shift)) - 1);
      if(last >= e)
        break;
      s = last + 1;
    }
  }
  return 0;
}

/* One interval [s, e] of constant values: extend the run or start one. */
static int interval(diff_state *d, u128 s, u128 e, uint32_t va, uint32_t vb)
{
  if(interval_groups(d, va, vb))
    return -1;
  if(d->have && d->end + 1 == s && same_groups(d)) {
    d->end = e;
    return 0;
  }
  if(flush(d))
    return -1;
  if(!d->cur.n || d->stop)
    return 0;
  /* the current groups become the run; the run's buffers take the next
   * interval's */
  {
    groups t = d->run;

    d->run = d->cur;
    d->cur = t;
    d->cur.n = 0;
    d->cur.nports = 0;
  }
  d->have = 1;
  d->start = s;
  d->end = e;
  return 0;
}

/* Give [lo, hi] the value in force just below lo (no value of its own):
 * addresses there are decided elsewhere.  Rewrites sp in place; when a
 * cut has to be put back at hi + 1, a cut inside the block was dropped,
 * so there is room. */
static void mask_block(cf_spans *sp, u128 lo, u128 hi)
{
  size_t i, o = 0;
  uint32_t below = 0, at_end = 0;
  int restored;

  for(i = 0; i < sp->n; i++) {
    u128 k = KEY(sp->v[i]);

    if(k < lo)
      below = sp->v[i].val;
    if(k <= hi + 1)
      at_end = sp->v[i].val;
  }
  restored = below == at_end;   /* nothing to put back */
  for(i = 0; i < sp->n; i++) {
    u128 k = KEY(sp->v[i]);

    if(k >= lo && k <= hi + 1)
      continue;
    if(k > hi + 1 && !restored) {
      sp->v[o].hi = (uint64_t)((hi + 1) >> 64);
      sp->v[o].lo = (uint64_t)(hi + 1);
      sp->v[o++].val = at_end;
      restored = 1;
    }
    sp->v[o++] = sp->v[i];
  }
  if(!restored) {
    sp->v[o].hi = (uint64_t)((hi + 1) >> 64);
    sp->v[o].lo = (uint64_t)(hi + 1);
    sp->v[o++].val = at_end;
  }
  sp->n = o;
}

/* A nat64 prefix that ends at the top of the address space cannot be
 * masked (its end + 1 wraps): its spans take the value before them. */
static void drop_nat64(cf_spans *sp)
{
  for(size_t i = 0; i < sp->n; i++)
    if((sp->v[i].val & CF_NAT64) == CF_NAT64)
      sp->v[i].val = i ? sp->v[i - 1].val : 0;
}

/* The value of the span holding key k. */
static uint32_t span_at(const cf_spans *sp, u128 k)
{
  size_t lo = 0, hi = sp->n;

  /* the last span starting at or below k; the first starts at 0 */
  while(hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if(KEY(sp->v[mid]) <= k)
      lo = mid;
    else
      hi = mid;
  }
  return sp->n ? sp->v[lo].val : 0;
}

/* The first interval [0, e] of a family, values va and vb, with the
 * unspecified address (key 0 to uend) decided as cf_decide decides it. */
static int first_interval(diff_state *d, u128 e, uint32_t va, uint32_t vb)
{
  static const uint8_t zero[16];
  u128 uend = d->v6 ? 0 : ((u128)1 << 96) - 1;
  u128 lokey = d->v6 ? 1 : (u128)0x7f000001u << 96;

  /* inside a nat64 prefix :: is decided as 0.0.0.0, translated: no
   * loopback step (a prefix on one side only is for the caller) */
  if(d->v6 && (cf_nat64_find(d->rs[0], zero) >= 0 ||
               cf_nat64_find(d->rs[1], zero) >= 0))
    return interval(d, 0, e, va, vb);
  d->unspec = 1;
  d->lo[0] = span_at(d->sp[0], lokey);
  d->lo[1] = span_at(d->sp[1], lokey);
  if(interval(d, 0, uend, va, vb)) {
    d->unspec = 0;
    return -1;
  }
  d->unspec = 0;
  return e > uend && !d->stop ? interval(d, uend + 1, e, va, vb) : 0;
}

curlfence_code cf_diff(const cf_ruleset *old_rs, const cf_ruleset *new_rs,
                       cf_diff_fn fn, void *userdata)
{
  curlfence_code rc = CURLFENCE_OK;
  diff_state d;

  if(!old_rs || !new_rs || !fn)
    return CURLFENCE_E_INVAL;
  memset(&d, 0, sizeof(d));
  d.rs[0] = old_rs;
  d.rs[1] = new_rs;
  d.fn = fn;
  d.ud = userdata;
  for(int v6 = 0; v6 < 2 && !rc && !d.stop; v6++) {
    cf_spans a, b;
    size_t ia = 0, ib = 0;

    rc = cf_table_spans(&a, old_rs, v6);
    if(rc)
      break;
    rc = cf_table_spans(&b, new_rs, v6);
    if(rc) {
      cf_spans_free(&a);
      break;
    }
    if(v6) {
      u128 lo = (u128)0xffff << 32, hi = lo | 0xffffffffu;
      mask_block(&a, lo, hi);
      mask_block(&b, lo, hi);
      /* Inside a nat64 prefix the IPv4 list has the decisions; a prefix
       * declared on one side only is for the caller to report. */
      for(int s = 0; s < 2; s++)
        for(size_t i = 0; i < d.rs[s]->nnat64; i++) {
          const cf_nat64 *n = &d.rs[s]->nat64[i];
          u128 p = 0;

          for(int j = 0; j < 16; j++)
            p = p << 8 | n->prefix[j];
          if((p | (~(u128)0 >> n->plen)) == ~(u128)0)
            continue;
          mask_block(&a, p, p | (~(u128)0 >> n->plen));
          mask_block(&b, p, p | (~(u128)0 >> n->plen));
        }
      drop_nat64(&a);
      drop_nat64(&b);
    }
    d.v6 = v6;
    d.sp[0] = &a;
    d.sp[1] = &b;
    /* both lists start at key 0 */
    while(ia < a.n && ib < b.n && !d.stop) {
      u128 s = KEY(a.v[ia]) > KEY(b.v[ib]) ? KEY(a.v[ia]) : KEY(b.v[ib]);
      u128 na = ia + 1 < a.n ? KEY(a.v[ia + 1]) : 0;
      u128 nb = ib + 1 < b.n ? KEY(b.v[ib + 1]) : 0;
      int enda = ia + 1 >= a.n, endb = ib + 1 >= b.n;
      u128 e;

      if(enda && endb)
        e = ~(u128)0;
      else if(enda || (!endb && nb < na))
        e = nb - 1;
      else
        e = na - 1;
      if(s == 0 ? first_interval(&d, e, a.v[ia].val, b.v[ib].val)
                : interval(&d, s, e, a.v[ia].val, b.v[ib].val)) {
        rc = CURLFENCE_E_NOMEM;
        break;
      }
      if(enda && endb)
        break;
      if(!enda && na == e + 1)
        ia++;
      if(!endb && nb == e + 1)
        ib++;
    }
    if(!rc && flush(&d))
      rc = CURLFENCE_E_NOMEM;
    d.have = 0;
    cf_spans_free(&a);
    cf_spans_free(&b);
  }
  free(d.run.g);
  free(d.run.ports);
  free(d.cur.g);
  free(d.cur.ports);
  free(d.cuts);
  free(d.pieces);
  free(d.pgroup);
  return rc;
}
