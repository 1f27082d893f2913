/* SPDX-License-Identifier: MIT */
/*
 * table_build.c - builds the compiled table from a rule set: the radix
 * sort, the sweep over nested prefixes and, from its change points, the
 * trie (table_trie.c), packed into one block ("HOW IT IS BUILT" at the
 * top of table.c).
 */
#include "engine.h"
#include "table.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* A rule as the sweep sees it: the left-aligned 128-bit start (IPv4 in
 * the top 32 bits) as two words, so that it radix-sorts, and the rest of
 * the sort key in tail. */
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

typedef struct cf_open {
  cf_u128 end;       /* last address of the prefix */
  uint32_t val;      /* answer inside it (below deeper prefixes) */
  uint32_t w;        /* best portless value inside it */
  uint32_t coff, cn; /* its port candidates, best first */
} cf_open;

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
 * in every key (the host part of most prefixes) are skipped. */
static int sort_keys(cf_key *k, size_t n)
{
  size_t i;
  size_t(*hist)[RADIX];
  cf_key *tmp, *src = k, *dst;
  for(i = 1; i < n; i++)
    if(!key_le(&k[i - 1], &k[i]))
      break;
  if(i >= n)
    return 0;  /* already sorted, as generated or well-kept files are */
  if(n < 64) {
    for(size_t a = 1; a < n; a++) {
      cf_key x = k[a];
      size_t b = a;
      for(; b > 0 && !key_le(&k[b - 1], &x); b--)
        k[b] = k[b - 1];
      k[b] = x;
    }
    return 0;
  }
  hist = calloc(RADIX_PASSES, sizeof *hist);
  tmp = malloc(n * sizeof *tmp);
  if(!hist || !tmp) {
    free(hist);
    free(tmp);
    return -1;
  }
  for(i = 0; i < n; i++)
    for(unsigned p = 0; p < RADIX_PASSES; p++)
      hist[p][key_digit(&k[i], p)]++;
  dst = tmp;
  for(unsigned p = 0; p < RADIX_PASSES; p++) {
    size_t sum = 0, *h = hist[p];
    if(h[key_digit(&src[0], p)] == n)
      continue;
    for(unsigned d = 0; d < RADIX; d++) {
      size_t c = h[d];
      h[d] = sum;
      sum += c;
    }
    for(i = 0; i < n; i++)
      dst[h[key_digit(&src[i], p)]++] = src[i];
    cf_key *sw = src;
    src = dst;
    dst = sw;
  }
  if(src != k)
    memcpy(k, src, n * sizeof *k);
  free(tmp);
  free(hist);
  return 0;
}

static int emit(cf_builder *b, cf_u128 start, uint32_t val)
{
  /* A later change at the same point overrides an earlier one (a prefix
   * and its parent ending together). */
  if(b->ncuts && cut_start(b, b->ncuts - 1) == start)
    b->ncuts--;
  if(b->ncuts && cut_val(b, b->ncuts - 1) == val)
    return 0;
  if(b->ncuts == (b->v4 ? b->capcuts4 : b->capcuts))
    return -1;  /* sweep reserved enough; never here */
  if(b->v4) {
    b->cuts4[b->ncuts].start = (uint32_t)(start >> 96);
    b->cuts4[b->ncuts].val = val;
  }
  else {
    b->cuts[b->ncuts].hi = (uint64_t)(start >> 64);
    b->cuts[b->ncuts].lo = (uint64_t)start;
    b->cuts[b->ncuts].val = val;
  }
  b->ncuts++;
  return 0;
}

/* Value of a prefix whose rules are k[0..n) (rank order), inside parent
 * (NULL: none).  Fills o. */
static int open_prefix(cf_builder *b, const cf_key *k, size_t n,
                       const cf_open *parent, cf_open *o)
{
  cf_table *t = b->t;
  size_t nport = 0, first_port = n;
  int portless = KEY_RANK(&k[0]) < 2;
  for(size_t i = 0; i < n; i++)
    if(k[i].idx & KEY_NAT64) {
      /* no rule of the family applies inside: not even a parent's port
       * rules, so nothing is inherited */
      o->w = o->val = CF_NAT64 | (k[i].idx & ~KEY_NAT64);
      o->coff = 0;
      o->cn = 0;
      return 0;
    }
  for(size_t i = 0; i < n; i++)
    if(KEY_RANK(&k[i]) >= 2) {
      if(first_port == n)
        first_port = i;
      nport++;
    }
  o->w = portless ? (k[0].idx + 1) | (KEY_RANK(&k[0]) & 1u ? CF_ALLOW : 0)
                  : (parent ? parent->w : 0);
  o->coff = 0;
  o->cn = 0;
  if(nport || (!portless && parent && parent->cn)) {
    /* A portless rule here hides every shorter port rule; without one,
     * the parent's candidates still apply, after ours. */
    size_t inherit = (!portless && parent) ? parent->cn : 0;
    size_t need = nport + inherit;
    if(need > UINT32_MAX || t->ncands + need > UINT32_MAX ||
       t->npsets >= CF_VAL_MAX)
      return -2;
    if(cf_grow(&t->cands, &t->capcands, t->ncands + need, sizeof *t->cands) ||
       cf_grow(&t->psets, &t->cappsets, t->npsets + 1, sizeof *t->psets))
      return -1;
    o->coff = (uint32_t)t->ncands;
    for(size_t i = first_port; i < n; i++) {
      const cf_rule *r = &b->rs->rules[k[i].idx];
      cf_cand *c = &t->cands[t->ncands++];
      c->rule = k[i].idx;
      c->port_off = r->port_off;
      c->nports = r->nports | (r->action == CURLFENCE_ALLOW ? CF_ALLOW : 0);
    }
    if(inherit)
      memcpy(t->cands + t->ncands, t->cands + parent->coff,
             inherit * sizeof *t->cands);
    t->ncands += inherit;
    o->cn = (uint32_t)need;
    t->psets[t->npsets].w = o->w;
    t->psets[t->npsets].off = o->coff;
    t->psets[t->npsets].n = o->cn;
    o->val = CF_PSET | (uint32_t)t->npsets++;
  }
  else {
    o->val = o->w;
  }
  return 0;
}

/* The sort keys of family v6's rules and nat64 prefixes, into k (room
 * for all of them), *np of them.  -2 for a prefix length past the
 * family's. */
static int make_keys(const cf_ruleset *rs, int v6, cf_key *k, size_t *np)
{
  size_t n = 0;
  const cf_u128 ones = ~(cf_u128)0;
  for(size_t i = 0; i < rs->nrules; i++) {
    const cf_rule *r = &rs->rules[i];
    cf_u128 a = 0;
    /* self rules are decided after the lookup (cf_self_decide): the
     * host's addresses are not known when an image is compiled */
    if(!!r->v6 != v6 || r->self)
      continue;
    /* A rule inside a nat64 prefix can never apply (the parser refuses
     * one; hand-built sets might): leave it out so it cannot cut the
     * prefix's region. */
    if(v6 && rs->nnat64 && cf_nat64_covering(rs, r->addr, r->plen) >= 0)
      continue;
    if(r->plen > (v6 ? 128 : 32))
      return -2;
    for(int j = 0; j < (v6 ? 16 : 4); j++)
      a = a << 8 | r->addr[j];
    if(!v6)
      a <<= 96;
    /* Host bits are cleared by the parser; clear them again so a stray
     * one cannot break the nesting the sweep relies on. */
    if(r->plen == 0)
      a = 0;
    else
      a &= ones << (128 - r->plen);
    k[n].hi = (uint64_t)(a >> 64);
    k[n].lo = (uint64_t)a;
    k[n].idx = (uint32_t)i;
    k[n].tail = (uint16_t)(r->plen << 2 | (r->nports ? 2 : 0) |
                           (r->action != CURLFENCE_DENY));
    n++;
  }
  for(size_t i = 0; v6 && i < rs->nnat64; i++) {
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

/* Step 2 over the sorted keys k[0..n): the open prefixes on a stack, a
 * change point wherever one opens or closes. */
static int nest_prefixes(cf_builder *b, const cf_key *k, size_t n)
{
  size_t depth = 0;
  cf_open stack[130];
  int rc;
  const cf_u128 ones = ~(cf_u128)0;
  for(size_t i = 0; i < n;) {
    size_t j = i + 1;
    cf_open o;
    cf_u128 start = KEY_START(&k[i]);
    unsigned plen = KEY_PLEN(&k[i]);
    while(j < n && k[j].hi == k[i].hi && k[j].lo == k[i].lo &&
          KEY_PLEN(&k[j]) == plen)
      j++;
    /* close the prefixes that end before this one */
    while(depth && stack[depth - 1].end < start) {
      depth--;
      if(emit(b, stack[depth].end + 1, depth ? stack[depth - 1].val : 0))
        return -1;
    }
    rc = open_prefix(b, k + i, j - i, depth ? &stack[depth - 1] : NULL, &o);
    if(rc)
      return rc;
    o.end = plen == 0 ? ones : plen == 128 ? start : start | (ones >> plen);
    stack[depth++] = o;
    if(emit(b, start, o.val))
      return -1;
    i = j;
  }
  while(depth) {
    depth--;
    if(stack[depth].end != ones &&
       emit(b, stack[depth].end + 1, depth ? stack[depth - 1].val : 0))
      return -1;
  }
  return 0;
}

/* Steps 1 and 2: the change points of one family, in b->cuts. */
static int sweep(cf_builder *b, const cf_ruleset *rs, int v6)
{
  size_t n = 0;
  cf_key *k;
  int rc;

  b->ncuts = 0;
  b->v4 = !v6;
  for(size_t i = 0; i < rs->nrules; i++)
    if(!!rs->rules[i].v6 == v6 && !rs->rules[i].self)
      n++;
  if(v6)
    n += rs->nnat64;
  /* one change point to start with, at most two per prefix: reserving
   * them up front saves the copies of a growing array */
  if(n > (SIZE_MAX / sizeof *b->cuts - 1) / 2 ||
     (v6 ? cf_grow(&b->cuts, &b->capcuts, 2 * n + 1, sizeof *b->cuts)
         : cf_grow(&b->cuts4, &b->capcuts4, 2 * n + 1, sizeof *b->cuts4)))
    return -1;
  if(emit(b, 0, 0))
    return -1;
  if(!n)
    return 0;
  k = malloc(n * sizeof *k);
  if(!k)
    return -1;
  rc = make_keys(rs, v6, k, &n);
  if(!rc && sort_keys(k, n))
    rc = -1;
  if(!rc)
    rc = nest_prefixes(b, k, n);
  free(k);
  return rc;
}

int cf_table_sweep(cf_table *t, const cf_ruleset *rs, int v6, cf_cut **cuts,
                   cf_cut4 **cuts4, size_t *ncuts)
{
  cf_builder b;
  int rc;
  memset(&b, 0, sizeof b);
  b.t = t;
  b.rs = rs;
  rc = sweep(&b, rs, v6);
  *cuts = b.cuts;
  *cuts4 = b.cuts4;
  *ncuts = b.ncuts;
  return rc;
}

static unsigned ceil_log2(size_t n)
{
  unsigned l = 0;
  while(l < 63 && ((size_t)1 << l) < n)
    l++;
  return l;
}

int cf_table_n64_record(const cf_nat64 *d, size_t i, cf_n64 *r)
{
  unsigned plen = d->plen;
  cf_u128 a = 0, m;
  if(plen < 32 || plen > 96 || plen % 8 || plen == 72 || plen == 80 ||
     plen == 88)
    return -1;
  for(int j = 0; j < 16; j++)
    a = a << 8 | d->prefix[j];
  a &= ~(cf_u128)0 << (128 - plen);
  memset(r, 0, sizeof *r);
  r->hi = (uint64_t)(a >> 64);
  r->lo = (uint64_t)a;
  m = ~(cf_u128)0 << (128 - plen);
  r->mhi = (uint64_t)(m >> 64);
  r->mlo = (uint64_t)m;
  r->plen = (uint8_t)plen;
  /* /32 to /64: the IPv4 address ends at bit plen + 32 of the 64-bit
   * word made of address bits 32-63 and 72-103 */
  r->shift = (uint8_t)(plen <= 64 ? 64 - plen : 0);
  r->nat64 = (uint32_t)i;
  r->outside = 0;  /* never read: a region inside always matches */
  return 0;
}

static int build_family(cf_builder *b, const cf_ruleset *rs, int v6)
{
  cf_fam *f = &b->t->fam[v6];
  size_t n = 0, p = 0;
  int rc;
  for(size_t i = 0; i < rs->nrules; i++)
    if(!!rs->rules[i].v6 == v6 && !rs->rules[i].self)
      n++;
  /* The direct array grows with the table (about 16 entries per rule) so a
   * small policy stays small and a BGP table gets Poptrie's 18 bits. */
  f->sbits = ceil_log2(n) + 4;
  if(f->sbits < 8)
    f->sbits = 8;
  if(f->sbits > 18)
    f->sbits = 18;
  rc = sweep(b, rs, v6);
  if(rc)
    return rc;
  if(!v6)
    return cf_build_blocks4(b, f);
  f->direct = malloc(((size_t)1 << f->sbits) * sizeof *f->direct);
  if(!f->direct)
    return -1;
  {
    unsigned cshift = 128 - f->sbits;
    cf_u128 csize = (cf_u128)1 << cshift;
    for(size_t d = 0; d < ((size_t)1 << f->sbits); d++) {
      cf_u128 s = (cf_u128)d << cshift;
      uint32_t val;
      int es, split = cf_build_region(b, &p, s, csize, &val, &es);

      if(split < 0)
        return -1;
      if(split) {
        size_t ni = f->nnodes;
        if(ni >= CF_VAL_MAX)
          return -2;
        if(cf_grow(&f->nodes, &f->capnodes, ni + 1, sizeof *f->nodes))
          return -1;
        f->nnodes++;
        rc = cf_build_node(b, f, ni, s, f->sbits, p);
        if(rc)
          return rc;
        if(f->nodes[ni].inner == 0) {
          /* no children were appended, so ni is still the last node */
          f->direct[d].leafstart = f->nodes[ni].leafstart;
          f->direct[d].leaf = f->nodes[ni].leaf;
          f->direct[d].tag = CF_D_FLAT;
          f->nnodes--;
        }
        else {
          f->direct[d].leafstart = 0;
          f->direct[d].leaf = 0;
          f->direct[d].tag = (uint32_t)ni;
        }
      }
      else {
        f->direct[d].leafstart = 0;
        f->direct[d].leaf = val;
        f->direct[d].tag = CF_D_VALUE;
      }
    }
  }
  /* A node entry whose region holds a declared prefix names it, so a
   * lookup inside the prefix skips the walk; only a prefix no other one
   * overlaps (the parser allows no overlap; hand-built sets might). */
  for(size_t j = 0; v6 && j < b->nnat64; j++) {
    const cf_n64 *r = &b->t->n64[j];
    cf_dent *d = &f->direct[(size_t)(r->hi >> (64 - f->sbits))];
    int alone = 1;
    for(size_t o = 0; o < b->nnat64 && alone; o++) {
      const cf_n64 *q = &b->t->n64[o];
      unsigned pl = q->plen < r->plen ? q->plen : r->plen;
      cf_u128 x = ((cf_u128)q->hi << 64 | q->lo) ^
                  ((cf_u128)r->hi << 64 | r->lo);
      alone = o == j || (x >> (128 - pl)) != 0;
    }
    if(alone && d->tag < CF_D_FLAT && !d->leaf)
      d->leaf = CF_NAT64 | (uint32_t)j;
  }
  return 0;
}

/* Move every array into one block.  A built table lives as long as its
 * policy and is read at random, so it is worth packing: no slack from the
 * doubling growth, and on Linux a table of 2 MiB or more asks for
 * transparent huge pages.  A random lookup in a 10 MiB table otherwise
 * pays a TLB miss per level, which costs more than the cache miss itself
 * under virtualisation. */
#define CF_ALIGN 64
#define CF_HUGE ((size_t)2 << 20)

static size_t round_up(size_t n, size_t a)
{
  return (n + a - 1) / a * a;
}

static int pack(cf_table *t)
{
  struct {
    void **p;
    size_t bytes;
  } part[10];
  size_t np = 0, total = 0, off = 0;
  char *arena;
  for(int f = 0; f < 2; f++) {
    cf_fam *fm = &t->fam[f];
    if(f) {
      part[np].p = (void **)&fm->direct;
      part[np++].bytes = ((size_t)1 << fm->sbits) * sizeof *fm->direct;
    }
    else {
      part[np].p = (void **)&fm->dir4;
      part[np++].bytes = ((size_t)1 << fm->sbits) * sizeof *fm->dir4;
      part[np].p = (void **)&fm->blocks;
      part[np++].bytes = fm->nblocks * sizeof *fm->blocks;
    }
    part[np].p = (void **)&fm->nodes;
    part[np++].bytes = fm->nnodes * sizeof *fm->nodes;
    part[np].p = (void **)&fm->leaves;
    part[np++].bytes = fm->nleaves * sizeof *fm->leaves;
  }
  part[np].p = (void **)&t->psets;
  part[np++].bytes = t->npsets * sizeof *t->psets;
  part[np].p = (void **)&t->cands;
  part[np++].bytes = t->ncands * sizeof *t->cands;
  part[np].p = (void **)&t->n64;
  part[np++].bytes = t->nn64 * sizeof *t->n64;
  for(size_t i = 0; i < np; i++)
    total += round_up(part[i].bytes, CF_ALIGN);
#if defined(MADV_HUGEPAGE)
  if(total >= CF_HUGE) {
    void *q = NULL;
    if(posix_memalign(&q, CF_HUGE, total))
      return -1;
    /* only the whole 2 MiB pages inside the block get huge pages; the
     * tail stays in small pages, so nothing is rounded up */
    (void)madvise(q, total / CF_HUGE * CF_HUGE, MADV_HUGEPAGE);
    arena = q;
  }
  else
#endif
  {
    void *q = NULL;
    if(posix_memalign(&q, CF_ALIGN, total ? total : CF_ALIGN))
      return -1;
    arena = q;
  }
  for(size_t i = 0; i < np; i++) {
    if(part[i].bytes)
      memcpy(arena + off, *part[i].p, part[i].bytes);
    free(*part[i].p);
    *part[i].p = arena + off;
    off += round_up(part[i].bytes, CF_ALIGN);
  }
  t->arena = arena;
  t->arena_size = total;
  return 0;
}

curlfence_code cf_table_build(cf_table **out, const cf_ruleset *rs)
{
  cf_builder b;
  cf_table *t;
  int rc = 0;
  if(!out)
    return CURLFENCE_E_INVAL;
  *out = NULL;
  if(!rs || (rs->nrules && !rs->rules))
    return CURLFENCE_E_INVAL;
  if(rs->nrules >= CF_VAL_MAX)
    return CURLFENCE_E_LIMIT;
  t = calloc(1, sizeof *t);
  if(!t)
    return CURLFENCE_E_NOMEM;
  memset(&b, 0, sizeof b);
  b.t = t;
  b.rs = rs;
  if(rs->nnat64 && (rs->nnat64 >= CF_VAL_MAX || !rs->nat64)) {
    free(t);
    return rs->nat64 ? CURLFENCE_E_LIMIT : CURLFENCE_E_INVAL;
  }
  if(cf_grow(&t->n64, &t->capn64, rs->nnat64, sizeof *t->n64)) {
    free(t);
    return CURLFENCE_E_NOMEM;
  }
  for(size_t i = 0; i < rs->nnat64; i++)
    if(cf_table_n64_record(&rs->nat64[i], i, &t->n64[i])) {
      cf_table_free(t);
      return CURLFENCE_E_INVAL;
    }
  t->nn64 = b.nnat64 = rs->nnat64;
  for(int v6 = 0; v6 < 2 && !rc; v6++)
    rc = build_family(&b, rs, v6);
  free(b.cuts);
  free(b.cuts4);
  if(rc) {
    cf_table_free(t);
    return rc == -1 ? CURLFENCE_E_NOMEM : CURLFENCE_E_LIMIT;
  }
  if(pack(t)) {
    cf_table_free(t);
    return CURLFENCE_E_NOMEM;
  }
#ifdef CF_HAVE_POPCNT_CLONE
  t->popcnt = CF_CPU_POPCNT();
#endif
  *out = t;
  return CURLFENCE_OK;
}
