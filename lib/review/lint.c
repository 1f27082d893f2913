/* SPDX-License-Identifier: MIT */
/*
 * lint.c - rules that do nothing, or not what they seem to, for
 * `curlfence lint`.
 *
 * Every span of the address space (spans.c, the table build's sweep: inside
 * one span the same rules match) is looked at once.  The rules matching a span
 * come from an index of the rules sorted by (family, prefix length, address,
 * rank): one binary search per prefix length in use.  The port space is cut at
 * the bounds of those rules' port lists, and for every piece the deciding
 * rule, the rule that would decide without it, and the best rule of the
 * baseline files (rules/default.rules) are found by a scan of the
 * matching list.  From that:
 *
 *   decides[r]     r decides some address and port: otherwise r is
 *                  "shadowed" (no port list) or "port-never-wins"
 *   differs[r]     somewhere r decides, the rule below it would decide
 *                  the other way: otherwise r is "redundant"
 *   opens[r]       an allow r decides where a baseline rule denies
 *
 * Duplicates (same family, prefix, action and port set as an earlier
 * rule) are found by one sort of the rules on those, the port set in a
 * canonical form.
 *
 * Cost: O(spans * (prefix lengths in use * log n + matches * pieces)),
 * about linear for hand-written files.  Memory: a few words per rule.
 */
#include "review.h"

#include <stdlib.h>
#include <string.h>

typedef struct lint_state {
  const cf_ruleset *rs;
  const unsigned char *baseline;
  uint32_t *idx;              /* rule indexes in index order */
  size_t nidx;
  /* per prefix length of the family: [first, end) in idx */
  size_t first[129], end[129];
  unsigned char *decides, *differs;
  long *below, *opened_by;    /* first rule seen under r; baseline deny */
  uint8_t *where;             /* 16 bytes per rule: an address r opens */
  long *match;                /* scratch: matching rules, rank order */
  const unsigned char *dup;   /* repeats an earlier rule */
  uint32_t *cuts;
  size_t capcuts;
} lint_state;

/* The sort key of a rule in the index: everything the order needs, so
 * the comparison reads no rule and needs no context. */
typedef struct lkey {
  uint8_t v6, plen, portless, allow;
  uint8_t addr[16];
  uint32_t idx;
} lkey;

/* -1, 0 or 1 as a is below, equal to or above b: the step of every
 * comparison of sort keys here */
static int num_cmp(uint64_t a, uint64_t b)
{
  return (a > b) - (a < b);
}

/* family, then prefix length, then address: the order both sort keys
 * start with */
static int prefix_cmp(uint8_t av6, uint8_t aplen, const uint8_t *aaddr,
                      uint8_t bv6, uint8_t bplen, const uint8_t *baddr)
{
  int c = num_cmp(av6, bv6);

  return c ? c : aplen != bplen ? num_cmp(aplen, bplen)
                                : memcmp(aaddr, baddr, 16);
}

/* family, prefix length, address, then rank on the same prefix (a rule
 * with a port list, then deny, then the earlier rule: cf_rule_beats) */
static int key_cmp(const void *x, const void *y)
{
  const lkey *a = x, *b = y;
  int c = prefix_cmp(a->v6, a->plen, a->addr, b->v6, b->plen, b->addr);

  if(!c)
    c = num_cmp(a->portless, b->portless);
  if(!c)
    c = num_cmp(a->allow, b->allow);
  return c ? c : num_cmp(a->idx, b->idx);
}

/* The rules matching addr, best first, into st->match; returns how many. */
static size_t matching(lint_state *st, int v6, const uint8_t *addr)
{
  unsigned bytes = v6 ? 16 : 4;
  size_t n = 0;

  for(int plen = v6 ? 128 : 32; plen >= 0; plen--) {
    size_t lo = st->first[plen], hi = st->end[plen];
    uint8_t key[16];

    if(lo == hi)
      continue;
    cf_prefix_mask(key, addr, (unsigned)plen, bytes);
    /* first rule whose address is >= key */
    while(lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if(memcmp(st->rs->rules[st->idx[mid]].addr, key, bytes) < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
    for(; lo < st->end[plen] &&
          !memcmp(st->rs->rules[st->idx[lo]].addr, key, bytes); lo++)
      st->match[n++] = st->idx[lo];
  }
  return n;
}

static int cmp_u32(const void *a, const void *b)
{
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static int same_prefix(const cf_ruleset *rs, long a, long b)
{
  const cf_rule *x = &rs->rules[a], *y = &rs->rules[b];

  return x->v6 == y->v6 && x->plen == y->plen &&
         !memcmp(x->addr, y->addr, x->v6 ? 16 : 4);
}

/* One span starting at addr: every port piece, its decider, the rule
 * below the decider, and the best baseline rule. */
static int look_at(lint_state *st, int v6, const uint8_t *addr)
{
  const cf_ruleset *rs = st->rs;
  size_t n = matching(st, v6, addr), nc = 0;
  uint8_t dflt = rs->dflt.set ? rs->dflt.action : CURLFENCE_DENY;

  if(!n)
    return 0;
  if(cf_grow(&st->cuts, &st->capcuts, 2, sizeof(*st->cuts)))
    return -1;
  st->cuts[nc++] = 1;
  st->cuts[nc++] = 65536;
  for(size_t i = 0; i < n; i++) {
    const cf_rule *r = &rs->rules[st->match[i]];
    const cf_port_range *pr = rs->ports + r->port_off;

    if(cf_grow(&st->cuts, &st->capcuts, nc + 2 * (size_t)r->nports,
               sizeof(*st->cuts)))
      return -1;
    for(uint32_t j = 0; j < r->nports; j++) {
      st->cuts[nc++] = pr[j].lo;
      st->cuts[nc++] = (uint32_t)pr[j].hi + 1;
    }
  }
  if(nc > 2)
    qsort(st->cuts, nc, sizeof(*st->cuts), cmp_u32);
  for(size_t c = 0; c + 1 < nc; c++) {
    unsigned port = st->cuts[c];
    long win = -1, next = -1, base = -1;
    uint8_t next_act;

    if(st->cuts[c + 1] == port || port > 65535)
      continue;
    for(size_t i = 0; i < n && (next < 0 || (st->baseline && base < 0));
        i++) {
      long r = st->match[i];

      if(!cf_rule_port_match(rs, &rs->rules[r], port))
        continue;
      if(win < 0)
        win = r;
      else if(next < 0 && !(st->dup[r] && same_prefix(rs, r, win)))
        next = r;     /* a repeat of the winner is not the rule below */
      if(st->baseline && base < 0 && st->baseline[rs->rules[r].file])
        base = r;
    }
    if(win < 0)
      continue;
    st->decides[win] = 1;
    next_act = next >= 0 ? rs->rules[next].action : dflt;
    if(st->below[win] == -2)
      st->below[win] = next;
    if(next_act != rs->rules[win].action)
      st->differs[win] = 1;
    if(rs->rules[win].action == CURLFENCE_ALLOW && base >= 0 &&
       rs->rules[base].action == CURLFENCE_DENY &&
       st->opened_by[win] < 0) {
      st->opened_by[win] = base;
      memcpy(st->where + 16 * (size_t)win, addr, v6 ? 16 : 4);
    }
  }
  return 0;
}

/* Port sets as bitmaps: a's ports within b's (subset), or the same. */
static int port_sets(const cf_ruleset *rs, const cf_rule *a,
                     const cf_rule *b, int subset)
{
  unsigned char in_a[65536 / 8], in_b[65536 / 8];

  if(!a->nports || !b->nports)
    return !b->nports && (subset || !a->nports);
  memset(in_a, 0, sizeof(in_a));
  memset(in_b, 0, sizeof(in_b));
  for(int s = 0; s < 2; s++) {
    const cf_rule *r = s ? b : a;
    unsigned char *m = s ? in_b : in_a;

    for(uint32_t j = 0; j < r->nports; j++)
      for(unsigned p = rs->ports[r->port_off + j].lo;
          p <= rs->ports[r->port_off + j].hi; p++)
        m[p / 8] |= (unsigned char)(1u << (p % 8));
  }
  if(subset) {
    for(size_t i = 0; i < sizeof(in_a); i++)
      if(in_a[i] & ~in_b[i])
        return 0;
    return 1;
  }
  return !memcmp(in_a, in_b, sizeof(in_a));
}

static int ports_within(const cf_ruleset *rs, const cf_rule *a,
                        const cf_rule *b)
{
  return port_sets(rs, a, b, 1);
}

/* A same-prefix rule that ranks above r, has no fewer ports and, unless
 * it is a duplicate, takes every port of r: the one to name when r never
 * decides.  -1 when longer prefixes are the reason. */
static long same_prefix_winner(const lint_state *st, size_t pos)
{
  const cf_ruleset *rs = st->rs;
  const cf_rule *r = &rs->rules[st->idx[pos]];

  for(size_t k = pos; k > 0; k--) {
    const cf_rule *o = &rs->rules[st->idx[k - 1]];

    if(o->v6 != r->v6 || o->plen != r->plen ||
       memcmp(o->addr, r->addr, r->v6 ? 16 : 4))
      break;
    if(!o->nports || (r->nports && ports_within(rs, r, o)))
      return (long)st->idx[k - 1];
  }
  return -1;
}

static void finding(cf_lint_fn fn, void *ud, int *stop, cf_lint_kind kind,
                    long rule, long other, const uint8_t *where)
{
  cf_lint_finding f;

  if(*stop)
    return;
  memset(&f, 0, sizeof(f));
  f.kind = kind;
  f.rule = rule;
  f.other = other;
  if(where)
    memcpy(f.where, where, 16);
  if(fn(&f, ud))
    *stop = 1;
}

/* Findings on the rules without "self" ones, told with the indexes of
 * the whole set. */
typedef struct unself {
  const uint32_t *map;
  cf_lint_fn fn;
  void *userdata;
} unself;

static int unself_fn(const cf_lint_finding *f, void *ud)
{
  const unself *u = ud;
  cf_lint_finding g = *f;

  g.rule = (long)u->map[f->rule];
  if(g.other >= 0)
    g.other = (long)u->map[f->other];
  return u->fn(&g, u->userdata);
}

static curlfence_code lint_rules(const cf_ruleset *rs,
                                 const unsigned char *baseline,
                                 cf_lint_fn fn, void *userdata);

curlfence_code cf_lint(const cf_ruleset *rs, const unsigned char *baseline,
                       cf_lint_fn fn, void *userdata)
{
  cf_ruleset part;
  unself u;
  uint32_t *map;
  size_t i, n = 0;
  curlfence_code rc;

  if(!rs || !fn || !rs->nself)
    return lint_rules(rs, baseline, fn, userdata);
  /* A self rule names the addresses of whichever host loads the rules,
   * so what it shadows or makes redundant is not a property of the
   * file: the others are linted as if it were not there. */
  part = *rs;
  part.rules = malloc(rs->nrules * sizeof(*part.rules));
  map = malloc(rs->nrules * sizeof(*map));
  if(!part.rules || !map) {
    free(part.rules);
    free(map);
    return CURLFENCE_E_NOMEM;
  }
  for(i = 0; i < rs->nrules; i++)
    if(!rs->rules[i].self) {
      map[n] = (uint32_t)i;
      part.rules[n++] = rs->rules[i];
    }
  part.nrules = n;
  part.nself = 0;
  part.selfv = NULL;
  part.nselfv = 0;
  part.nselfpfx = 0;
  memset(part.selffirst, 0, sizeof(part.selffirst));
  u.map = map;
  u.fn = fn;
  u.userdata = userdata;
  rc = lint_rules(&part, baseline, unself_fn, &u);
  free(part.rules);
  free(map);
  return rc;
}

/* st->idx: the rules in index order (key_cmp). */
static curlfence_code make_index(lint_state *st, size_t n)
{
  const cf_ruleset *rs = st->rs;
  lkey *k = malloc((n ? n : 1) * sizeof(*k));

  if(!k)
    return CURLFENCE_E_NOMEM;
  for(size_t i = 0; i < n; i++) {
    const cf_rule *r = &rs->rules[i];

    memset(&k[i], 0, sizeof(k[i]));
    k[i].v6 = r->v6;
    k[i].plen = r->plen;
    k[i].portless = r->nports == 0;
    k[i].allow = r->action == CURLFENCE_ALLOW;
    memcpy(k[i].addr, r->addr, r->v6 ? 16 : 4);
    k[i].idx = (uint32_t)i;
  }
  qsort(k, n, sizeof(*k), key_cmp);
  for(size_t i = 0; i < n; i++)
    st->idx[i] = k[i].idx;
  free(k);
  return CURLFENCE_OK;
}

/* A rule as duplicates are told apart: family, prefix, action and port
 * set, the ports in a canonical form (sorted, overlapping and adjacent
 * ranges merged), so that the same set written two ways compares
 * equal, as port_sets() compares them. */
typedef struct dkey {
  uint8_t v6, plen, allow;
  uint8_t addr[16];
  const cf_port_range *ports; /* canonical; NULL: any port */
  uint32_t nports;
  uint32_t idx;
} dkey;

static int range_cmp(const void *x, const void *y)
{
  const cf_port_range *a = x, *b = y;

  int c = num_cmp(a->lo, b->lo);

  return c ? c : num_cmp(a->hi, b->hi);
}

/* everything but the index, then the index: an earlier rule first */
static int dkey_cmp(const void *x, const void *y)
{
  const dkey *a = x, *b = y;
  int c = prefix_cmp(a->v6, a->plen, a->addr, b->v6, b->plen, b->addr);

  if(!c)
    c = num_cmp(a->allow, b->allow);
  if(!c)
    c = num_cmp(a->nports, b->nports);
  for(uint32_t i = 0; !c && i < a->nports; i++)
    c = range_cmp(&a->ports[i], &b->ports[i]);
  return c ? c : num_cmp(a->idx, b->idx);
}

/* The port ranges of r in canonical form, into out (room for r->nports):
 * how many. */
static uint32_t canonical_ports(const cf_ruleset *rs, const cf_rule *r,
                                cf_port_range *out)
{
  uint32_t n = 0;

  memcpy(out, rs->ports + r->port_off, r->nports * sizeof(*out));
  qsort(out, r->nports, sizeof(*out), range_cmp);
  for(uint32_t i = 0; i < r->nports; i++) {
    if(n && out[i].lo <= (unsigned)out[n - 1].hi + 1) {
      if(out[i].hi > out[n - 1].hi)
        out[n - 1].hi = out[i].hi;
    }
    else
      out[n++] = out[i];
  }
  return n;
}

/* dup_of[r]: the first rule r repeats (same family, prefix, action and
 * port set), or -1.  One sort: O(n log n). */
static curlfence_code find_duplicates(const cf_ruleset *rs, long *dup_of)
{
  size_t n = rs->nrules;
  dkey *k = malloc((n ? n : 1) * sizeof(*k));
  cf_port_range *ports = malloc((rs->nports ? rs->nports : 1) *
                                sizeof(*ports));
  size_t used = 0;

  if(!k || !ports) {
    free(k);
    free(ports);
    return CURLFENCE_E_NOMEM;
  }
  for(size_t i = 0; i < n; i++) {
    const cf_rule *r = &rs->rules[i];

    memset(&k[i], 0, sizeof(k[i]));
    k[i].v6 = r->v6;
    k[i].plen = r->plen;
    k[i].allow = r->action == CURLFENCE_ALLOW;
    memcpy(k[i].addr, r->addr, r->v6 ? 16 : 4);
    k[i].idx = (uint32_t)i;
    if(r->nports) {
      k[i].ports = ports + used;
      k[i].nports = canonical_ports(rs, r, ports + used);
      used += r->nports;
    }
    dup_of[i] = -1;
  }
  qsort(k, n, sizeof(*k), dkey_cmp);
  for(size_t i = 1, first = 0; i < n; i++) {
    dkey a = k[first], b = k[i];

    a.idx = b.idx = 0;
    if(dkey_cmp(&a, &b))
      first = i;
    else
      dup_of[k[i].idx] = (long)k[first].idx;
  }
  free(k);
  free(ports);
  return CURLFENCE_OK;
}

/* Every span of family v6 looked at: what each rule decides. */
static curlfence_code look_at_spans(lint_state *st, int v6)
{
  const cf_ruleset *rs = st->rs;
  size_t n = rs->nrules, a = 0;
  curlfence_code rc;
  cf_spans sp;

  for(int p = 0; p <= 128; p++)
    st->first[p] = st->end[p] = 0;
  while(a < n && rs->rules[st->idx[a]].v6 != v6)
    a++;
  while(a < n && rs->rules[st->idx[a]].v6 == v6) {
    unsigned p = rs->rules[st->idx[a]].plen;
    size_t b = a;
    while(b < n && rs->rules[st->idx[b]].v6 == v6 &&
          rs->rules[st->idx[b]].plen == p)
      b++;
    st->first[p] = a;
    st->end[p] = b;
    a = b;
  }
  rc = cf_table_spans(&sp, rs, v6);
  if(rc)
    return rc;
  for(size_t s = 0; s < sp.n && !rc; s++) {
    uint8_t addr[16];

    if(!sp.v[s].val || (sp.v[s].val & CF_NAT64) == CF_NAT64)
      continue;   /* no rule matches here, or a nat64 prefix: none can */
    for(unsigned j = 0; j < 8; j++) {
      addr[j] = (uint8_t)(sp.v[s].hi >> (56 - 8 * j));
      addr[8 + j] = (uint8_t)(sp.v[s].lo >> (56 - 8 * j));
    }
    if(look_at(st, v6, addr))
      rc = CURLFENCE_E_NOMEM;
  }
  cf_spans_free(&sp);
  return rc;
}

/* The findings, in file order.  pos[r]: r's place in st->idx. */
static void report(const lint_state *st, const long *dup_of,
                   const size_t *pos, cf_lint_fn fn, void *userdata)
{
  const cf_ruleset *rs = st->rs;
  int stop = 0;

  for(size_t i = 0; i < rs->nrules && !stop; i++) {
    const cf_rule *r = &rs->rules[i];

    /* a "self" line's rules depend on the host it runs on: that one of
     * them changes nothing here says nothing about the line */
    if(r->self)
      continue;
    if(dup_of[i] >= 0) {
      finding(fn, userdata, &stop, CF_LINT_DUPLICATE, (long)i, dup_of[i],
              NULL);
      continue;
    }
    if(!st->decides[i]) {
      finding(fn, userdata, &stop,
              r->nports ? CF_LINT_PORT_NEVER_WINS : CF_LINT_SHADOWED,
              (long)i, same_prefix_winner(st, pos[i]), NULL);
      continue;
    }
    if(!st->differs[i])
      finding(fn, userdata, &stop, CF_LINT_REDUNDANT, (long)i,
              st->below[i] >= 0 ? st->below[i] : -1, NULL);
    if(st->opened_by[i] >= 0 && !(st->baseline && st->baseline[r->file]))
      finding(fn, userdata, &stop, CF_LINT_OPENS_BASELINE, (long)i,
              st->opened_by[i], st->where + 16 * i);
  }
}

static curlfence_code lint_rules(const cf_ruleset *rs,
                                 const unsigned char *baseline,
                                 cf_lint_fn fn, void *userdata)
{
  lint_state st;
  curlfence_code rc = CURLFENCE_OK;
  size_t n, i;
  unsigned char *dup = NULL;
  long *dup_of = NULL;
  size_t *pos = NULL;

  if(!rs || !fn)
    return CURLFENCE_E_INVAL;
  n = rs->nrules;
  memset(&st, 0, sizeof(st));
  st.rs = rs;
  st.baseline = baseline;
  st.idx = malloc((n ? n : 1) * sizeof(*st.idx));
  st.decides = calloc(n ? n : 1, 1);
  st.differs = calloc(n ? n : 1, 1);
  st.below = malloc((n ? n : 1) * sizeof(*st.below));
  st.opened_by = malloc((n ? n : 1) * sizeof(*st.opened_by));
  st.where = calloc(n ? n : 1, 16);
  st.match = malloc((n ? n : 1) * sizeof(*st.match));
  dup = calloc(n ? n : 1, 1);
  dup_of = malloc((n ? n : 1) * sizeof(*dup_of));
  pos = malloc((n ? n : 1) * sizeof(*pos));
  if(!st.idx || !st.decides || !st.differs || !st.below || !st.opened_by ||
     !st.where || !st.match || !dup || !dup_of || !pos) {
    rc = CURLFENCE_E_NOMEM;
    goto out;
  }
  for(i = 0; i < n; i++) {
    st.below[i] = -2;         /* not seen deciding yet */
    st.opened_by[i] = -1;
  }
  rc = make_index(&st, n);
  if(!rc)
    rc = find_duplicates(rs, dup_of);
  if(rc)
    goto out;
  for(i = 0; i < n; i++) {
    dup[i] = dup_of[i] >= 0;
    pos[st.idx[i]] = i;
  }
  st.dup = dup;
  for(int v6 = 0; v6 < 2 && !rc; v6++)
    rc = look_at_spans(&st, v6);
  if(!rc)
    report(&st, dup_of, pos, fn, userdata);
out:
  free(st.idx);
  free(st.decides);
  free(st.differs);
  free(st.below);
  free(st.opened_by);
  free(st.where);
  free(st.match);
  free(st.cuts);
  free(dup);
  free(dup_of);
  free(pos);
  return rc;
}

const char *cf_lint_name(cf_lint_kind kind)
{
  switch(kind) {
  case CF_LINT_SHADOWED: return "shadowed";
  case CF_LINT_PORT_NEVER_WINS: return "port-never-wins";
  case CF_LINT_DUPLICATE: return "duplicate";
  case CF_LINT_REDUNDANT: return "redundant";
  case CF_LINT_OPENS_BASELINE: return "opens-default-deny";
  }
  return "unknown";
}
