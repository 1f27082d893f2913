/* SPDX-License-Identifier: MIT */
/*
 * table_view.c - a table over the arrays of a mapped image (image.c):
 * the arrays as the image stores them, and the check of every index a
 * lookup can follow and every value it can return, so that a damaged
 * image is refused rather than read out of bounds.
 */
#include "engine.h"
#include "table.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The image format (image.c) stores each array of a table as a section
 * and maps it back in place; these sizes are part of that format. */
_Static_assert(sizeof(cf_dent) == 16, "cf_dent is 16 bytes in images");
_Static_assert(sizeof(*((cf_fam *)0)->dir4) == 4 &&
               sizeof(*((cf_fam *)0)->blocks) == 4,
               "IPv4 direct entries and block units are 4 bytes in images");
_Static_assert(sizeof(cf_node) == 24, "cf_node is 24 bytes in images");
_Static_assert(sizeof(cf_pset) == 12, "cf_pset is 12 bytes in images");
_Static_assert(sizeof(cf_cand) == 12, "cf_cand is 12 bytes in images");
_Static_assert(sizeof(cf_n64) == 48, "cf_n64 is 48 bytes in images");

size_t cf_table_part_size(unsigned part)
{
  static const size_t size[CF_PART_N] = {
      sizeof(uint32_t), sizeof(cf_node), sizeof(uint32_t),
      sizeof(cf_dent), sizeof(cf_node), sizeof(uint32_t),
      sizeof(cf_pset), sizeof(cf_cand), sizeof(cf_n64), sizeof(uint32_t)};
  return part < CF_PART_N ? size[part] : 0;
}

void cf_table_get_parts(const cf_table *t, cf_table_parts *out)
{
  for(int f = 0; f < 2; f++) {
    const cf_fam *fm = &t->fam[f];
    out->p[3 * f] = f ? (const void *)fm->direct : (const void *)fm->dir4;
    out->n[3 * f] = (size_t)1 << fm->sbits;
    out->p[3 * f + 1] = fm->nodes;
    out->n[3 * f + 1] = fm->nnodes;
    out->p[3 * f + 2] = fm->leaves;
    out->n[3 * f + 2] = fm->nleaves;
  }
  out->p[CF_PART_PSETS] = t->psets;
  out->n[CF_PART_PSETS] = t->npsets;
  out->p[CF_PART_CANDS] = t->cands;
  out->n[CF_PART_CANDS] = t->ncands;
  out->p[CF_PART_N64] = t->n64;
  out->n[CF_PART_N64] = t->nn64;
  out->p[CF_PART_BLOCKS4] = t->fam[0].blocks;
  out->n[CF_PART_BLOCKS4] = t->fam[0].nblocks;
}

static curlfence_code bad(cf_table_fault *f, unsigned part, size_t elem,
                          const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static curlfence_code bad(cf_table_fault *f, unsigned part, size_t elem,
                          const char *fmt, ...)
{
  va_list ap;
  f->part = part;
  f->elem = elem;
  va_start(ap, fmt);
  vsnprintf(f->why, sizeof f->why, fmt, ap);
  va_end(ap);
  return CURLFENCE_E_IMAGE;
}

/* Whether value v may appear in family fam: it names a portless rule of
 * that family with the action its allow bit claims, or a port set of that
 * family.  kind[] has one byte per rule (CF_KIND_*); pfam[] the family of
 * each port set. */
static const char *value_fault(uint32_t v, int fam, const uint8_t *kind,
                               size_t nrules, const uint8_t *pfam,
                               size_t npsets, size_t nn64)
{
  if(v == 0)
    return NULL;
  if((v & CF_NAT64) == CF_NAT64) {
    if(!fam)
      return "a NAT64 record in the IPv4 family";
    return (v & CF_VAL_MAX) < nn64 ? NULL
                                   : "a NAT64 record past the records";
  }
  if(v & CF_PSET) {
    if((v & ~CF_PSET) >= npsets)
      return "a port set index past the port sets";
    if(pfam[v & ~CF_PSET] != fam)
      return "a port set of the other address family";
    return NULL;
  }
  size_t r = (size_t)(v & ~CF_ALLOW) - 1;
  if(r >= nrules)
    return "a rule index past the rules";
  if(!!(kind[r] & CF_KIND_V6) != fam)
    return "a rule of the other address family";
  if(kind[r] & CF_KIND_PORTS)
    return "a rule with ports where only portless rules may decide";
  if(kind[r] & CF_KIND_SELF)
    return "a \"self\" rule, which the table never holds";
  if(!!(kind[r] & CF_KIND_ALLOW) != !!(v & CF_ALLOW))
    return "an action that is not the rule's";
  return NULL;
}

/* The value nearly every leaf holds, checked with one compare: a
 * portless rule of family fam that is not "self", with its action (0 and
 * everything else go to value_fault, which also says what is wrong). */
static inline int value_plain(uint32_t v, int fam, const uint8_t *kind,
                              size_t nrules)
{
  size_t r = (size_t)(v & ~CF_ALLOW) - 1;
  return !(v & CF_PSET) && r < nrules &&
         kind[r] == ((v & CF_ALLOW ? CF_KIND_ALLOW : 0u) |
                     (fam ? CF_KIND_V6 : 0u));
}

/* The digits of a node that end in a value must each find the run they
 * belong to: the first such digit starts a run, no digit is both, and
 * the runs lie inside the leaves. */
static const char *runs_fault(uint64_t inner, uint64_t leafstart,
                              uint32_t leaf, size_t nleaves)
{
  if(inner & leafstart)
    return "a digit both leads to a node and starts a run of leaves";
  if(~inner && !(leafstart & (~inner & (0 - ~inner))))
    return "the first digit without a child starts no run of leaves";
  if((uint64_t)leaf + (uint64_t)__builtin_popcountll(leafstart) > nleaves)
    return "leaf runs past the end of the leaves";
  return NULL;
}

/* What the checks below share: the image's arrays, the rules they must
 * agree with, the family of each port set once known, and where a fault
 * is described. */
typedef struct view {
  const cf_table_parts *tp;
  const cf_ruleset *rs;
  const uint8_t *kind;
  size_t nrules, npsets, ncands, nn64;
  uint8_t *pfam;          /* the family of each port set */
  uint8_t *depth;         /* per node of the family checked: its level */
  cf_table_fault *flt;
} view;

/* Port sets first: leaf values name them, and their family is that of
 * their candidates. */
static curlfence_code check_psets(view *v)
{
  const cf_pset *ps = v->tp->p[CF_PART_PSETS];
  const cf_cand *cands = v->tp->p[CF_PART_CANDS];
  const cf_ruleset *rs = v->rs;
  const uint8_t *kind = v->kind;
  size_t nrules = v->nrules, npsets = v->npsets, ncands = v->ncands;
  const char *why;
  for(size_t i = 0; i < ncands; i++) {
    const cf_cand *c = &cands[i];
    const cf_rule *r = c->rule < nrules ? &rs->rules[c->rule] : NULL;
    why = !r ? "past the rules"
          : r->self ? "a \"self\" rule, which the table never holds"
          : !r->nports ? "a rule without ports"
          : (c->nports & ~CF_ALLOW) != r->nports || c->port_off != r->port_off
              ? "ports that are not the rule's"
          : !!(c->nports & CF_ALLOW) != (r->action == CURLFENCE_ALLOW)
              ? "an action that is not the rule's"
              : NULL;
    if(why)
      return bad(v->flt, CF_PART_CANDS, i, "candidate %zu (rule %u): %s", i,
                 c->rule, why);
  }
  for(size_t i = 0; i < npsets; i++) {
    if(ps[i].n == 0 || ps[i].off > ncands || ps[i].n > ncands - ps[i].off)
      return bad(v->flt, CF_PART_PSETS, i,
                 "port set %zu: candidates %u..%u outside the %zu candidates",
                 i, ps[i].off, ps[i].off + ps[i].n, ncands);
    v->pfam[i] = !!(kind[cands[ps[i].off].rule] & CF_KIND_V6);
    for(uint32_t c = 1; c < ps[i].n; c++)
      if(!!(kind[cands[ps[i].off + c].rule] & CF_KIND_V6) != v->pfam[i])
        return bad(v->flt, CF_PART_PSETS, i,
                   "port set %zu mixes address families", i);
    if((ps[i].w & CF_PSET) ||
       (why = value_fault(ps[i].w, v->pfam[i], kind, nrules, v->pfam, npsets,
                          0)))
      return bad(v->flt, CF_PART_PSETS, i, "port set %zu: fallback is %s", i,
                 (ps[i].w & CF_PSET) ? "a port set" : why);
  }
  return CURLFENCE_OK;
}

/* NAT64 records: first the declared prefixes, exactly as the build makes
 * them, then early stops, each a copy of one of those with the value
 * around it. */
static curlfence_code check_n64(view *v)
{
  const cf_n64 *n64s = v->tp->p[CF_PART_N64];
  const cf_ruleset *rs = v->rs;
  size_t nn64 = v->nn64;
  const char *why;
  if(nn64 >= CF_VAL_MAX || nn64 < rs->nnat64 || (nn64 && !rs->nnat64))
    return bad(v->flt, CF_PART_N64, 0, "%zu NAT64 records for %zu declared "
               "prefixes", nn64, rs->nnat64);
  for(size_t i = 0; i < nn64; i++) {
    cf_n64 want;
    size_t d = i < rs->nnat64 ? i : n64s[i].nat64;
    why = NULL;
    if(d >= rs->nnat64)
      why = "names a prefix past the declared ones";
    else if(cf_table_n64_record(&rs->nat64[d], d, &want))
      why = "its declared prefix has a length RFC 6052 does not define";
    else if(i >= rs->nnat64) {
      want.outside = n64s[i].outside;
      if((want.outside & CF_NAT64) == CF_NAT64)
        why = "the value around it is a NAT64 record";
      else
        why = value_fault(want.outside, 1, v->kind, v->nrules, v->pfam,
                          v->npsets, 0);
    }
    if(!why && memcmp(&want, &n64s[i], sizeof want) != 0)
      why = "not the record of its declared prefix";
    if(why)
      return bad(v->flt, CF_PART_N64, i, "NAT64 record %zu: %s", i, why);
  }
  return CURLFENCE_OK;
}

/* The IPv6 direct entries: each a value, a flat node or the only
 * parent of a node, whose level (1) goes into v->depth. */
static curlfence_code check_direct(view *v, int f)
{
  unsigned pd = 3 * (unsigned)f;
  const cf_dent *dir = v->tp->p[pd];
  size_t ndir = v->tp->n[pd], nnodes = v->tp->n[pd + 1];
  size_t nleaves = v->tp->n[pd + 2];
  const char *why;
  for(size_t d = 0; d < ndir; d++) {
    const cf_dent *e = &dir[d];
    if(e->tag == CF_D_VALUE) {
      why = e->leafstart ? "a single-value entry with a run bitmap"
            : value_plain(e->leaf, f, v->kind, v->nrules)
                ? NULL
                : value_fault(e->leaf, f, v->kind, v->nrules, v->pfam,
                              v->npsets, v->nn64);
    }
    else if(e->tag == CF_D_FLAT) {
      why = runs_fault(0, e->leafstart, e->leaf, nleaves);
    }
    else if(e->tag >= nnodes) {
      why = "a node index past the nodes";
    }
    else if(e->leafstart ||
              (e->leaf && (!f || (e->leaf & CF_NAT64) != CF_NAT64 ||
                           (e->leaf & CF_VAL_MAX) >= v->rs->nnat64))) {
      why = "a node entry with a run bitmap or a value other than a "
            "declared nat64 prefix";
    }
    else if(v->depth[e->tag]) {
      why = "a node that has another parent";
    }
    else {
      v->depth[e->tag] = 1;
      why = NULL;
    }
    if(why)
      return bad(v->flt, pd, d, "direct entry %zu: %s", d, why);
  }
  return CURLFENCE_OK;
}

/* The IPv4 direct entries, each the offset of a block: a run bitmap
 * whose digit 0 starts a run, then run values, inside the blocks; a run
 * value is a value of the family or, tagged CF_NAT64, the only parent of
 * a node, whose level (2) goes into v->depth.  Regions of one value share
 * a block, so each block is checked once (seen: a bit per unit); one
 * with nodes below it may not be shared, or a node would answer for two
 * regions. */
static curlfence_code check_blocks4(view *v)
{
  const uint32_t *dir = v->tp->p[CF_PART_DIRECT4];
  const uint32_t *blk = v->tp->p[CF_PART_BLOCKS4];
  size_t ndir = v->tp->n[CF_PART_DIRECT4], nnodes = v->tp->n[CF_PART_NODES4];
  size_t nblk = v->tp->n[CF_PART_BLOCKS4];
  uint8_t *seen;
  curlfence_code rc = CURLFENCE_OK;

  if(nblk > UINT32_MAX)
    return bad(v->flt, CF_PART_BLOCKS4, 0, "%zu block units, at most %u",
               nblk, UINT32_MAX);
  seen = calloc(nblk / 8 + 1, 1);
  if(!seen)
    return CURLFENCE_E_NOMEM;
  for(size_t d = 0; d < ndir && !rc; d++) {
    uint32_t at = dir[d];
    const char *why = NULL;
    size_t run = 0, nruns = 0;
    uint64_t bm = 0;
    int again;

    if(nblk < 2 || at > nblk - 2)
      why = "a block past the blocks";
    else {
      memcpy(&bm, blk + at, sizeof bm);
      nruns = (size_t)__builtin_popcountll(bm);
      if(!(bm & 1))
        why = "a block whose first digit starts no run";
      else if(nruns > nblk - 2 - at)
        why = "a block whose runs go past the end of the blocks";
    }
    if(why) {
      rc = bad(v->flt, CF_PART_DIRECT4, d, "direct entry %zu: %s", d, why);
      break;
    }
    again = (seen[at / 8] >> (at % 8)) & 1;
    seen[at / 8] |= (uint8_t)(1u << (at % 8));
    for(run = 0; run < nruns && !why; run++) {
      uint32_t val = blk[at + 2 + run];
      if((val & CF_NAT64) == CF_NAT64) {
        size_t n = val & CF_VAL_MAX;
        why = again ? "a block with nodes below it that another direct "
                      "entry names too"
              : n >= nnodes ? "a node index past the nodes"
              : v->depth[n] ? "a node that has another parent"
                            : NULL;
        if(!why)
          v->depth[n] = 2;
      }
      else if(!again && !value_plain(val, 0, v->kind, v->nrules))
        why = value_fault(val, 0, v->kind, v->nrules, v->pfam, v->npsets,
                          v->nn64);
    }
    if(why)
      rc = bad(v->flt, CF_PART_BLOCKS4, at + 2 + run - 1,
               "block at unit %u (direct entry %zu), run %zu: %s", at, d,
               run - 1, why);
  }
  free(seen);
  return rc;
}

/* The nodes of family f (direct array sbits wide), in order: each reached
 * once, its runs inside the leaves, its children after it and above the
 * last bit of the address. */
static curlfence_code check_nodes(view *v, int f, unsigned sbits)
{
  unsigned pn = 3 * (unsigned)f + 1, keybits = f ? 128 : 32;
  const cf_node *nodes = v->tp->p[pn];
  size_t nnodes = v->tp->n[pn], nleaves = v->tp->n[pn + 1];
  uint8_t *depth = v->depth;
  const char *why;
  for(size_t i = 0; i < nnodes; i++) {
    const cf_node *n = &nodes[i];
    size_t nchild = (size_t)__builtin_popcountll(n->inner);
    why = runs_fault(n->inner, n->leafstart, n->leaf, nleaves);
    if(!why && !depth[i])
      why = "not reachable from the direct array";
    else if(!why && nchild) {
      /* Children lie after their parent, so the walk only moves
       * forward and ends; and no level may start past the address. */
      if(n->child <= i || (size_t)n->child + nchild > nnodes)
        why = "children outside the nodes after it";
      else if(sbits + 6u * depth[i] >= keybits)
        why = "children below the last bit of the address";
      else
        for(size_t c = n->child; c < n->child + nchild && !why; c++) {
          if(depth[c])
            why = "a child that has another parent";
          depth[c] = (uint8_t)(depth[i] + 1);
        }
    }
    if(why)
      return bad(v->flt, pn, i, "node %zu: %s", i, why);
  }
  return CURLFENCE_OK;
}

/* The arrays of family f: the direct array's size, then its entries,
 * nodes and leaves. */
static curlfence_code check_family(view *v, int f)
{
  unsigned pd = 3 * (unsigned)f, pn = pd + 1, pl = pd + 2;
  const uint32_t *leaves = v->tp->p[pl];
  size_t ndir = v->tp->n[pd], nnodes = v->tp->n[pn], nleaves = v->tp->n[pl];
  unsigned sbits = 0;
  curlfence_code rc;
  const char *why;

  while(sbits < 18 && ((size_t)1 << sbits) < ndir)
    sbits++;
  if(sbits < 8 || ((size_t)1 << sbits) != ndir)
    return bad(v->flt, pd, 0, "%zu direct entries: not a power of two from "
               "2^8 to 2^18", ndir);
  if(nnodes >= CF_VAL_MAX)
    return bad(v->flt, pn, 0, "%zu nodes, at most %u", nnodes,
               CF_VAL_MAX - 1);
  free(v->depth);
  v->depth = calloc(nnodes ? nnodes : 1, 1);
  if(!v->depth)
    return CURLFENCE_E_NOMEM;
  rc = f ? check_direct(v, f) : check_blocks4(v);
  if(!rc)
    rc = check_nodes(v, f, sbits);
  if(rc)
    return rc;
  /* Neighbouring leaves often hold the same value: checked once. */
  for(size_t i = 0; i < nleaves; i++) {
    uint32_t val = leaves[i];
    if((i && val == leaves[i - 1]) || value_plain(val, f, v->kind, v->nrules))
      continue;
    if((why = value_fault(val, f, v->kind, v->nrules, v->pfam, v->npsets,
                          v->nn64)))
      return bad(v->flt, pl, i, "leaf %zu: %s", i, why);
  }
  return CURLFENCE_OK;
}

/* A table borrowing the checked arrays of tp. */
static cf_table *borrow(const cf_table_parts *tp)
{
  cf_table *t = calloc(1, sizeof *t);
  if(!t)
    return NULL;
  for(int f = 0; f < 2; f++) {
    cf_fam *fm = &t->fam[f];
    size_t ndir = tp->n[3 * f];
    while(((size_t)1 << fm->sbits) < ndir)
      fm->sbits++;
    if(f)
      fm->direct = (cf_dent *)tp->p[3 * f];
    else
      fm->dir4 = (uint32_t *)tp->p[3 * f];
    fm->nodes = (cf_node *)tp->p[3 * f + 1];
    fm->nnodes = fm->capnodes = tp->n[3 * f + 1];
    fm->leaves = (uint32_t *)tp->p[3 * f + 2];
    fm->nleaves = fm->capleaves = tp->n[3 * f + 2];
  }
  t->psets = (cf_pset *)tp->p[CF_PART_PSETS];
  t->npsets = t->cappsets = tp->n[CF_PART_PSETS];
  t->cands = (cf_cand *)tp->p[CF_PART_CANDS];
  t->ncands = t->capcands = tp->n[CF_PART_CANDS];
  t->fam[0].blocks = (uint32_t *)tp->p[CF_PART_BLOCKS4];
  t->fam[0].nblocks = t->fam[0].capblocks = tp->n[CF_PART_BLOCKS4];
  t->n64 = (cf_n64 *)tp->p[CF_PART_N64];
  t->nn64 = t->capn64 = tp->n[CF_PART_N64];
  for(unsigned p = 0; p < CF_PART_N; p++)
    t->arena_size += tp->n[p] * cf_table_part_size(p);
  t->borrowed = 1;
#ifdef CF_HAVE_POPCNT_CLONE
  t->popcnt = CF_CPU_POPCNT();
#endif
  return t;
}

curlfence_code cf_table_view(cf_table **out, const cf_table_parts *tp,
                             const cf_ruleset *rs, const uint8_t *kind,
                             cf_table_fault *flt)
{
  view v;
  curlfence_code rc;

  *out = NULL;
  memset(&v, 0, sizeof v);
  v.tp = tp;
  v.rs = rs;
  v.kind = kind;
  v.nrules = rs->nrules;
  v.npsets = tp->n[CF_PART_PSETS];
  v.ncands = tp->n[CF_PART_CANDS];
  v.nn64 = tp->n[CF_PART_N64];
  v.flt = flt;
  if(v.npsets >= CF_VAL_MAX)
    return bad(flt, CF_PART_PSETS, 0, "%zu port sets, at most %u", v.npsets,
               CF_VAL_MAX - 1);
  v.pfam = malloc(v.npsets ? v.npsets : 1);
  if(!v.pfam)
    return CURLFENCE_E_NOMEM;
  rc = check_psets(&v);
  if(!rc)
    rc = check_n64(&v);
  for(int f = 0; f < 2 && !rc; f++)
    rc = check_family(&v, f);
  if(!rc) {
    *out = borrow(tp);
    if(!*out)
      rc = CURLFENCE_E_NOMEM;
  }
  free(v.depth);
  free(v.pfam);
  return rc;
}
