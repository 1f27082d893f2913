/* SPDX-License-Identifier: MIT */
/*
 * spans.c - the intervals of the address space inside which a rule set
 * gives one answer, as the table build's sweep computes them, for the
 * review code (diff.c, lint.c): the sweep without the trie.
 */
#include "review.h"
#include "engine/table.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(cf_span) == sizeof(cf_cut) &&
                   offsetof(cf_span, hi) == offsetof(cf_cut, hi) &&
                   offsetof(cf_span, lo) == offsetof(cf_cut, lo) &&
                   offsetof(cf_span, val) == offsetof(cf_cut, val),
               "IPv6 change points are handed out as spans");

/* The change points of one family as the sweep computes them, for the
 * review tools; the lookup structure is not built.  The cuts array is
 * reused in place: a cf_span is no larger than a cf_cut, so writing span i
 * never overwrites cut i + 1 before it is read. */
curlfence_code cf_table_spans(cf_spans *out, const cf_ruleset *rs, int v6)
{
  struct {
    cf_table *t;
    cf_cut *cuts;
    cf_cut4 *cuts4;
    size_t ncuts;
  } b;
  cf_span *sp;
  int rc;
  if(!out)
    return CURLFENCE_E_INVAL;
  memset(out, 0, sizeof *out);
  if(!rs || (rs->nrules && !rs->rules))
    return CURLFENCE_E_INVAL;
  if(rs->nrules >= CF_VAL_MAX)
    return CURLFENCE_E_LIMIT;
  memset(&b, 0, sizeof b);
  b.t = calloc(1, sizeof *b.t);
  if(!b.t)
    return CURLFENCE_E_NOMEM;
  v6 = !!v6;
  rc = cf_table_sweep(b.t, rs, v6, &b.cuts, &b.cuts4, &b.ncuts);
  if(rc) {
    free(b.cuts);
    free(b.cuts4);
    cf_table_free(b.t);
    return rc == -1 ? CURLFENCE_E_NOMEM : CURLFENCE_E_LIMIT;
  }
  /* IPv6 change points have a cf_span's layout (checked below); IPv4
   * ones are smaller and are widened into a new array. */
  if(v6) {
    sp = (cf_span *)(void *)b.cuts;
    b.cuts = NULL;
  }
  else {
    sp = malloc((b.ncuts ? b.ncuts : 1) * sizeof *sp);
    for(size_t i = 0; sp && i < b.ncuts; i++) {
      sp[i].hi = (uint64_t)b.cuts4[i].start << 32;
      sp[i].lo = 0;
      sp[i].val = b.cuts4[i].val;
    }
  }
  /* the review tools want the rules of a port set's candidates */
  out->rules = malloc((b.t->ncands ? b.t->ncands : 1) * sizeof *out->rules);
  for(size_t i = 0; out->rules && i < b.t->ncands; i++)
    out->rules[i] = b.t->cands[i].rule;
  free(b.cuts);
  free(b.cuts4);
  if(!sp || !out->rules) {
    free(sp);
    free(out->rules);
    out->rules = NULL;
    cf_table_free(b.t);
    return CURLFENCE_E_NOMEM;
  }
  out->v = sp;
  out->n = b.ncuts;
  out->t = b.t;
  return CURLFENCE_OK;
}

uint32_t cf_spans_pset(const cf_spans *s, uint32_t val, const uint32_t **cands,
                       uint32_t *n)
{
  const cf_pset *ps = &s->t->psets[val & ~CF_PSET];
  *cands = s->rules + ps->off;
  *n = ps->n;
  return ps->w;
}

void cf_spans_free(cf_spans *s)
{
  if(!s)
    return;
  free(s->v);
  free(s->rules);
  cf_table_free(s->t);
  memset(s, 0, sizeof *s);
}
