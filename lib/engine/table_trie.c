/* SPDX-License-Identifier: MIT */
/*
 * table_trie.c - step 3 of the build ("HOW IT IS BUILT" at the top of
 * table.c): the nodes of the trie from the change points of the sweep
 * (table_build.c), and for IPv4 a block per direct entry, from the digits
 * a node there would have, placed so that a block does not cross a cache
 * line, with one block shared by every region of a single value ("IPv4:
 * blocks" at the top of table.c).
 */
#include "engine.h"
#include "table.h"

#include <stdlib.h>
#include <string.h>

static int is_n64(uint32_t v)
{
  return (v & CF_NAT64) == CF_NAT64;
}

/* A region [s, e] (cuts[p] the last change point at or before s) whose
 * change points are those of one nat64 prefix with one value around it
 * needs no node: a NAT64 record with that value outside answers it.
 * Returns 1 and the value, 0 when the region needs a node, -1 when out of
 * memory. */
static int early_stop(cf_builder *b, size_t p, cf_u128 e, uint32_t *val)
{
  cf_table *t = b->t;
  uint32_t seg[3], nv, outside;
  size_t k = 0, i;
  if(!b->nnat64)
    return 0;
  for(i = p; i < b->ncuts && (i == p || cut_start(b, i) <= e); i++) {
    if(k == 3)
      return 0;
    seg[k++] = cut_val(b, i);
  }
  if(k == 2 && is_n64(seg[0]) != is_n64(seg[1])) {
    nv = is_n64(seg[0]) ? seg[0] : seg[1];
    outside = is_n64(seg[0]) ? seg[1] : seg[0];
  }
  else if(k == 3 && is_n64(seg[1]) && !is_n64(seg[0]) &&
            seg[0] == seg[2]) {
    nv = seg[1];
    outside = seg[0];
  }
  else {
    return 0;
  }
  nv &= CF_VAL_MAX;  /* a declared prefix's own record */
  for(i = t->nn64 - 1; i >= b->nnat64 && i < t->nn64; i--)
    if(t->n64[i].nat64 == nv && t->n64[i].outside == outside)
      break;
  if(i < b->nnat64 || i >= t->nn64) {
    if(t->nn64 >= CF_VAL_MAX)
      return -1;
    if(cf_grow(&t->n64, &t->capn64, t->nn64 + 1, sizeof *t->n64))
      return -1;
    i = t->nn64++;
    t->n64[i] = t->n64[nv];
    t->n64[i].outside = outside;
  }
  *val = CF_NAT64 | (uint32_t)i;
  return 1;
}

/* The region of a digit, the size addresses from s: moves *p on to the
 * last change point at or before s and gives the region's value in *val.
 * Returns 1 when the region holds change points of its own and needs a
 * child node, 0 when one value answers it (*es set when an early stop
 * does), -1 when out of memory.  Nodes and the direct table step through
 * their digits alike. */
int cf_build_region(cf_builder *b, size_t *p, cf_u128 s, cf_u128 size,
                    uint32_t *val, int *es)
{
  cf_u128 e = s + (size - 1);
  size_t m = b->ncuts;

  *es = 0;
  while(*p + 1 < m && cut_start(b, *p + 1) <= s)
    (*p)++;
  *val = cut_val(b, *p);
  if(*p + 1 >= m || cut_start(b, *p + 1) > e)
    return 0;
  *es = early_stop(b, *p, e, val);
  return *es < 0 ? -1 : !*es;
}

/* The 64 digits of the region starting at base whose digits start at
 * bit off of the key (cuts[p] the last change point at or before base):
 * the digits that need a node in *inner (their change point in childp[]),
 * the runs of the others in *leafstart, their values appended to
 * f->leaves. */
static int node_digits(cf_builder *b, cf_fam *f, cf_u128 base,
                       unsigned off, size_t p, uint64_t *innerp,
                       uint64_t *leafstartp, size_t childp[64])
{
  size_t m = b->ncuts;
  /* Near the end of an IPv6 key a digit runs past bit 127: the lookup
   * reads the missing bits as zeros, so digit d means address
   * base + (d >> pad) and the other digits copy their value. */
  unsigned pad = off + 6 > 128 ? off + 6 - 128 : 0;
  unsigned cshift = 128 - off - 6 + pad;  /* log2 of a digit's region */
  cf_u128 csize = (cf_u128)1 << cshift;
  uint64_t inner = 0, leafstart = 0;
  uint32_t prev = 0;
  int have_prev = 0;

  for(unsigned d = 0; d < 64;) {
    cf_u128 s = base + (cf_u128)(d >> pad) * csize;
    uint32_t val;
    int es, split = cf_build_region(b, &p, s, csize, &val, &es);

    if(split < 0)
      return -1;
    if(split) {
      inner |= 1ull << d;
      childp[d] = p;
      d++;
      continue;
    }
    if(!have_prev || val != prev) {
      if(cf_grow(&f->leaves, &f->capleaves, f->nleaves + 1, sizeof *f->leaves))
        return -1;
      f->leaves[f->nleaves++] = val;
      leafstart |= 1ull << d;
      prev = val;
      have_prev = 1;
    }
    /* Every digit that ends before the next change point has this value
     * too: skip them (most nodes hold one or two change points, so this
     * is what makes building a small policy cheap).  An early stop holds
     * change points of its own: the next digit follows it. */
    if(es) {
      d++;
    }
    else if(pad == 0 && p + 1 < m) {
      cf_u128 q = (cut_start(b, p + 1) - base) >> cshift;
      d = q < 64 ? (unsigned)q : 64;
    }
    else if(pad == 0) {
      d = 64;
    }
    else {
      d++;
    }
  }
  *innerp = inner;
  *leafstartp = leafstart;
  return 0;
}

/* Room for the nchild children of a node at the end of f->nodes: the
 * index of the first.  -1 when out of memory, -2 past the limit. */
static int add_children(cf_fam *f, size_t nchild, size_t *first)
{
  if(f->nnodes + nchild > CF_VAL_MAX || f->nleaves > UINT32_MAX)
    return -2;
  if(cf_grow(&f->nodes, &f->capnodes, f->nnodes + nchild, sizeof *f->nodes))
    return -1;
  *first = f->nnodes;
  f->nnodes += nchild;
  return 0;
}

/* Step 3.  Fill node ni, which covers the region starting at base whose
 * digits start at bit off of the key; cuts[p] is the last change point at
 * or before base. */
int cf_build_node(cf_builder *b, cf_fam *f, size_t ni, cf_u128 base,
                  unsigned off, size_t p)
{
  unsigned pad = off + 6 > 128 ? off + 6 - 128 : 0;
  cf_u128 csize = (cf_u128)1 << (128 - off - 6 + pad);
  size_t childp[64];
  uint64_t inner, leafstart;
  size_t nchild, first_child, first_leaf = f->nleaves;
  int rc = node_digits(b, f, base, off, p, &inner, &leafstart, childp);

  if(rc)
    return rc;
  nchild = (size_t)__builtin_popcountll(inner);
  rc = add_children(f, nchild, &first_child);
  if(rc)
    return rc;
  f->nodes[ni].inner = inner;
  f->nodes[ni].leafstart = leafstart;
  f->nodes[ni].child = (uint32_t)first_child;
  f->nodes[ni].leaf = (uint32_t)first_leaf;
  for(unsigned d = 0, ci = 0; d < 64; d++) {
    if(!(inner & (1ull << d)))
      continue;
    rc = cf_build_node(b, f, first_child + ci++,
                       base + (cf_u128)(d >> pad) * csize, off + 6,
                       childp[d]);
    if(rc)
      return rc;
  }
  return 0;
}

/* Where IPv4 blocks go: the blocks of one value placed so far, for
 * sharing (an open-addressing set: vals, at, cap slots, cap a power of
 * two above their number; a slot's at is 0 while free, since offset 0
 * holds the first block, looked up apart), and the gaps that line
 * alignment left, by length, for later blocks that fit. */
#define CF_LINE_UNITS 16u  /* 4-byte units per 64-byte cache line */
typedef struct cf_place4 {
  cf_fam *f;
  uint32_t *vals, *at;
  size_t cap;
  int have_first;
  uint32_t first;
  uint32_t *gap[CF_LINE_UNITS];
  size_t ngap[CF_LINE_UNITS], capgap[CF_LINE_UNITS];
} cf_place4;

static int push_gap(cf_place4 *pl, size_t at, size_t len)
{
  /* the smallest block is 3 units */
  if(len < 3)
    return 0;
  if(cf_grow(&pl->gap[len], &pl->capgap[len], pl->ngap[len] + 1,
             sizeof *pl->gap[len]))
    return -1;
  pl->gap[len][pl->ngap[len]++] = (uint32_t)at;
  return 0;
}

/* A block of n run values vals and run bitmap bm, placed so that it does
 * not cross a cache line unless it is longer than one (then it starts
 * one): in the smallest gap it fits, else at the end of the blocks.  Its
 * offset in *at.  -1 when out of memory, -2 past the 4-byte offsets. */
static int put_block(cf_place4 *pl, uint64_t bm, const uint32_t *vals,
                     unsigned n, uint32_t *at)
{
  cf_fam *f = pl->f;
  size_t units = 2 + (size_t)n, o = f->nblocks;
  for(size_t len = units; len < CF_LINE_UNITS; len++)
    if(pl->ngap[len]) {
      o = pl->gap[len][--pl->ngap[len]];
      if(push_gap(pl, o + units, len - units))
        return -1;
      break;
    }
  if(o == f->nblocks) {
    if(o % CF_LINE_UNITS && o % CF_LINE_UNITS + units > CF_LINE_UNITS) {
      size_t pad = CF_LINE_UNITS - o % CF_LINE_UNITS;
      if(push_gap(pl, o, pad))
        return -1;
      o += pad;
    }
    if(o + units > UINT32_MAX)
      return -2;
    if(cf_grow(&f->blocks, &f->capblocks, o + units, sizeof *f->blocks))
      return -1;
    memset(f->blocks + f->nblocks, 0, (o - f->nblocks) * sizeof *f->blocks);
    f->nblocks = o + units;
  }
  memcpy(f->blocks + o, &bm, sizeof bm);
  memcpy(f->blocks + o + 2, vals, n * sizeof *vals);
  *at = (uint32_t)o;
  return 0;
}

/* The block of single value val, shared by every region of that value. */
static int single_block(cf_place4 *pl, uint32_t val, uint32_t *at)
{
  size_t h;
  int rc;
  if(pl->have_first && pl->first == val) {
    *at = 0;
    return 0;
  }
  h = (size_t)((val * 0x9e3779b9u) >> 7) & (pl->cap - 1);
  while(pl->at[h] && pl->vals[h] != val)
    h = (h + 1) & (pl->cap - 1);
  if(pl->at[h]) {
    *at = pl->at[h];
    return 0;
  }
  rc = put_block(pl, 1, &val, 1, at);
  if(rc)
    return rc;
  if(*at == 0) {
    pl->have_first = 1;
    pl->first = val;
  }
  else {
    pl->vals[h] = val;
    pl->at[h] = *at;
  }
  return 0;
}

/* The block of the region starting at base that holds change points
 * (cuts[p] the last at or before it), from the digits a node there would
 * have: the digits that need one get a run of their own whose value is
 * CF_NAT64 | the node, then those nodes are built. */
static int split_block(cf_builder *b, cf_place4 *pl, cf_u128 base, size_t p,
                       uint32_t *at)
{
  cf_fam *f = pl->f;
  cf_u128 csize = (cf_u128)1 << (128 - f->sbits - 6);
  size_t childp[64], first_child = 0, first_leaf = f->nleaves;
  uint64_t inner, leafstart, bm = 0;
  uint32_t vals[64];
  unsigned n = 0, li = 0;
  int rc = node_digits(b, f, base, f->sbits, p, &inner, &leafstart,
                       childp);

  if(rc)
    return rc;
  rc = add_children(f, (size_t)__builtin_popcountll(inner), &first_child);
  if(rc)
    return rc;
  for(unsigned d = 0, ci = 0; d < 64; d++) {
    if(inner & (1ull << d)) {
      vals[n++] = CF_NAT64 | (uint32_t)(first_child + ci++);
      bm |= 1ull << d;
    }
    else if((leafstart & (1ull << d)) || (d && (inner & (1ull << (d - 1))))) {
      /* a run starts, or goes on after a digit with a node */
      if(leafstart & (1ull << d))
        li++;
      vals[n++] = f->leaves[first_leaf + li - 1];
      bm |= 1ull << d;
    }
  }
  f->nleaves = first_leaf;  /* the runs live in the block */
  rc = put_block(pl, bm, vals, n, at);
  for(unsigned d = 0, ci = 0; d < 64 && !rc; d++)
    if(inner & (1ull << d))
      rc = cf_build_node(b, f, first_child + ci++, base + (cf_u128)d * csize,
                         f->sbits + 6, childp[d]);
  return rc;
}

/* The IPv4 direct array and its blocks, f->sbits wide. */
int cf_build_blocks4(cf_builder *b, cf_fam *f)
{
  size_t ndir = (size_t)1 << f->sbits, p = 0, nsingle;
  unsigned cshift = 128 - f->sbits;
  cf_place4 pl;
  int rc = 0;

  memset(&pl, 0, sizeof pl);
  pl.f = f;
  /* no more distinct single values than change points or entries */
  nsingle = b->ncuts < ndir ? b->ncuts : ndir;
  for(pl.cap = 16; pl.cap < 2 * nsingle; pl.cap *= 2)
    ;
  pl.vals = malloc(pl.cap * sizeof *pl.vals);
  pl.at = calloc(pl.cap, sizeof *pl.at);
  f->dir4 = malloc(ndir * sizeof *f->dir4);
  if(!pl.vals || !pl.at || !f->dir4)
    rc = -1;
  for(size_t d = 0; d < ndir && !rc; d++) {
    cf_u128 s = (cf_u128)d << cshift;
    uint32_t val;
    int es, split = cf_build_region(b, &p, s, (cf_u128)1 << cshift, &val, &es);

    if(split < 0)
      rc = -1;
    else if(split)
      rc = split_block(b, &pl, s, p, &f->dir4[d]);
    else
      rc = single_block(&pl, val, &f->dir4[d]);
  }
  free(pl.vals);
  free(pl.at);
  for(unsigned i = 0; i < CF_LINE_UNITS; i++)
    free(pl.gap[i]);
  return rc;
}
