/* SPDX-License-Identifier: MIT */
/*
 * table_build.c - builds the compiled table from a rule set: the sweep
 * over nested prefixes (their keys sorted by table_sort.c) and, from its
 * change points, the trie (table_trie.c), packed into one block ("HOW IT
 * IS BUILT" at the top of table.c).
 */
#include "engine.h"
#include "table.h"
#include "table_sort.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

typedef struct cf_open {
  cf_u128 end;       /* last address of the prefix */
  uint32_t val;      /* answer inside it (below deeper prefixes) */
  uint32_t w;        /* best portless value inside it */
  uint32_t coff, cn; /* its port candidates, best first */
} cf_open;

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

/* Step 2 over the n sorted keys of the builder: the open prefixes on a
 * stack, a change point wherever one opens or closes. */
static int nest_prefixes(cf_builder *b, size_t n)
{
  size_t depth = 0;
  cf_open stack[130];
  int rc;
  const cf_u128 ones = ~(cf_u128)0;
  for(size_t i = 0; i < n;) {
    size_t j = i + 1;
    cf_open o;
    cf_key first = cf_key_at(b->rs, b->k, b->k4, i);
    cf_u128 start = KEY_START(&first);
    unsigned plen = KEY_PLEN(&first);
    /* the rules of one prefix: in place for IPv6, made into b->group
     * for IPv4 */
    if(b->k4) {
      if(cf_grow(&b->group, &b->capgroup, 1, sizeof *b->group))
        return -1;
      b->group[0] = first;
    }
    for(; j < n; j++) {
      cf_key x = cf_key_at(b->rs, b->k, b->k4, j);
      if(x.hi != first.hi || x.lo != first.lo || KEY_PLEN(&x) != plen)
        break;
      if(b->k4) {
        if(cf_grow(&b->group, &b->capgroup, j - i + 1, sizeof *b->group))
          return -1;
        b->group[j - i] = x;
      }
    }
    /* close the prefixes that end before this one */
    while(depth && stack[depth - 1].end < start) {
      depth--;
      if(emit(b, stack[depth].end + 1, depth ? stack[depth - 1].val : 0))
        return -1;
    }
    rc = open_prefix(b, b->k4 ? b->group : b->k + i, j - i,
                     depth ? &stack[depth - 1] : NULL, &o);
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
  cf_key *k = NULL;
  uint64_t *k4 = NULL;
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
  if(!n)
    return emit(b, 0, 0);
  /* The radix sort's buffer is the change points' reserved memory, not
   * written yet: the pages it touches are the ones the change points
   * then take, where a buffer of its own stayed on the heap for the rest
   * of the build (8 MB of a million rules' peak). */
  rc = cf_sort_keys(rs, v6, &n, &k, &k4, v6 ? (void *)b->cuts
                                            : (void *)b->cuts4,
                    (2 * n + 1) * (v6 ? sizeof *b->cuts
                                      : sizeof *b->cuts4));
  if(!rc && emit(b, 0, 0))
    rc = -1;
  b->k = k;
  b->k4 = k4;
  if(!rc)
    rc = nest_prefixes(b, n);
  b->k = NULL;
  b->k4 = NULL;
  free(k);
  free(k4);
  free(b->group);
  b->group = NULL;
  b->capgroup = 0;
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
  /* array a of n elements becomes the next part */
#define PART(a, n)                                                      \
  (part[np].p = (void **)&(a), part[np++].bytes = (size_t)(n) * sizeof *(a))
  for(int f = 0; f < 2; f++) {
    cf_fam *fm = &t->fam[f];
    if(f)
      PART(fm->direct, (size_t)1 << fm->sbits);
    else {
      PART(fm->dir4, (size_t)1 << fm->sbits);
      PART(fm->blocks, fm->nblocks);
    }
    PART(fm->nodes, fm->nnodes);
    PART(fm->leaves, fm->nleaves);
  }
  PART(t->psets, t->npsets);
  PART(t->cands, t->ncands);
  PART(t->n64, t->nn64);
#undef PART
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
