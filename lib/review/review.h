/* SPDX-License-Identifier: MIT */
/*
 * review.h - code that reviews rule sets for the tool: where two rule
 * sets differ (diff.c), every rule that holds an address (explain.c) and
 * rules that decide nothing (lint.c), and the spans of a rule set both
 * diff and lint read (spans.c).  It may use the engine (engine/engine.h,
 * and the table's engine/table.h for the build's sweep) and never the
 * guard; it is linked into the tool only, never into libcurlfence or the
 * preload library.
 */
#ifndef CURLFENCE_REVIEW_H
#define CURLFENCE_REVIEW_H

#include "engine/engine.h"

/* spans.c: the intervals the table is built from, for diff.c and
 * lint.c, without building the lookup structure.  Span i of family v6
 * starts at the 128-bit key hi:lo (IPv4 addresses in the top 32 bits)
 * and runs to the next span's start (the last to the end of the space);
 * its value is what cf_table_find4/find6 return there.  Neighbours have
 * different values. */
typedef struct cf_span {
  uint64_t hi, lo;
  uint32_t val;
} cf_span;
typedef struct cf_spans {
  cf_span *v;
  size_t n;
  cf_table *t;            /* holds the port sets the values refer to */
  uint32_t *rules;        /* the rule of each of t's port candidates */
} cf_spans;
/* In the IPv6 spans a nat64 prefix has the value CF_NAT64 | its index in
 * rs->nat64: no IPv6 rule decides there. */
curlfence_code cf_table_spans(cf_spans *out, const cf_ruleset *rs, int v6);
/* For a value with CF_PSET: the portless value (w) returned, and the
 * port rules that outrank it, best first. */
uint32_t cf_spans_pset(const cf_spans *s, uint32_t val,
                       const uint32_t **cands, uint32_t *n);
void cf_spans_free(cf_spans *s);

/* diff.c: where two rule sets decide differently.  fn is called once per
 * CIDR block and change, IPv4 first, in address order; it returns
 * nonzero to stop.  Everything it is given lives only during the call. */
typedef struct cf_diff_change {
  int v6;
  uint8_t addr[16];       /* network order; IPv4 in addr[0..3] */
  unsigned plen;
  const cf_port_range *ports;  /* ascending; NULL (nports 0): any port */
  size_t nports;
  long old_rule, new_rule;     /* deciding rule's index, -1: the default */
  curlfence_action old_action, new_action;
  int old_loopback, new_loopback;  /* 1: the unspecified address, decided
                                      by its loopback address's rule */
} cf_diff_change;
typedef int (*cf_diff_fn)(const cf_diff_change *c, void *userdata);
curlfence_code cf_diff(const cf_ruleset *old_rs, const cf_ruleset *new_rs,
                       cf_diff_fn fn, void *userdata);

/* explain.c: the indexes of every rule whose prefix holds addr (4 bytes
 * when v6 == 0, else 16, already unmapped), whatever its ports, best
 * first in cf_rule_beats() order.  Writes at most max; returns how many
 * there are. */
size_t cf_match_all(const cf_ruleset *rs, int v6, const uint8_t *addr,
                    long *out, size_t max);

/* lint.c: rules that never decide, or decide nothing new.  fn is called
 * per finding, in rule order; nonzero stops.  baseline (NULL: none) has
 * one flag per file of rs: the files whose denials an allow elsewhere is
 * reported for opening (rules/default.rules). */
typedef enum cf_lint_kind {
  CF_LINT_SHADOWED,       /* no port list, decides no address and port */
  CF_LINT_PORT_NEVER_WINS,/* a port rule that decides nothing */
  CF_LINT_DUPLICATE,      /* as an earlier rule: other */
  CF_LINT_REDUNDANT,      /* decides only as other (-1: the default) would */
  CF_LINT_OPENS_BASELINE  /* an allow over other, a baseline deny, e.g. at
                             where */
} cf_lint_kind;
typedef struct cf_lint_finding {
  cf_lint_kind kind;
  long rule;              /* index in rs */
  long other;             /* the rule it is about, or -1 (see kinds) */
  uint8_t where[16];      /* an address, for CF_LINT_OPENS_BASELINE */
} cf_lint_finding;
typedef int (*cf_lint_fn)(const cf_lint_finding *f, void *userdata);
curlfence_code cf_lint(const cf_ruleset *rs, const unsigned char *baseline,
                       cf_lint_fn fn, void *userdata);
/* The stable short name of a kind: "shadowed", "duplicate", ... */
const char *cf_lint_name(cf_lint_kind kind);
#endif
