/* SPDX-License-Identifier: MIT */
/*
 * table.c - the compiled lookup table: same answers as cf_match_linear(),
 * in a handful of memory accesses.
 *
 * ------------------------------------------------------------------------
 * WHAT IS STORED
 * ------------------------------------------------------------------------
 *
 * The rules of one family (IPv4 or IPv6) cut the address space into
 * intervals inside which every address is matched by the same rules.  Two
 * neighbouring intervals can still give the same answer, so the builder
 * only keeps the points where the answer changes.  An answer is a 32-bit
 * "value":
 *
 *   0                 no rule matches
 *   r + 1             rule r decides, whatever the port (the common case:
 *                     the lookup returns without touching anything else);
 *                     bit 31 is set when rule r allows, so a caller that
 *                     wants only the action never reads the rule itself
 *   PSET | i          the answer depends on the port: port set i
 *   NAT64 | i         (IPv6 only) the region is, or holds, a nat64 prefix:
 *                     NAT64 record i (below)
 *
 * A port set is {w, cands}: w is the value of the best portless rule
 * covering the interval (0 if none) and cands the port rules covering it
 * that outrank w, best first.  Ranking is longest prefix first, so a port
 * rule with a shorter prefix than w can never win and is not listed; a
 * port rule with the same or a longer prefix always outranks w.  So a
 * lookup with a port takes the first candidate whose port ranges hold the
 * port, else w.  Port rules thus cost nothing to portless intervals.
 *
 * NAT64 prefixes.  Inside a declared `nat64` prefix the IPv6 rules do not
 * apply: the answer is the IPv4 family's answer for the embedded address.
 * A NAT64 record is {prefix, mask, plen, shift, outside, nat64 index}, 48
 * bytes.  A lookup that ends in NAT64 | i compares the address with the
 * record's prefix; when it lies inside, the embedded IPv4 address (RFC
 * 6052 section 2.2, the "u" octet skipped) is looked up in the IPv4
 * family, else the answer is `outside`.  The compare lets the trie stop
 * early: a /96 would otherwise need (96 - S) / 6 node levels resolved bit
 * by bit, but a region holding one nat64 prefix and one value around it
 * ends in a NAT64 value at the level where the prefix is first alone.
 * Records: one per declared prefix (regions wholly inside it, where the
 * compare always holds), then one per early stop.
 *
 * Shortcut: a direct entry that holds a node and whose region holds a
 * declared prefix names that prefix's record in its otherwise unused
 * `leaf`.  An IPv6 lookup checks it first (the entry is the walk's first
 * load anyway), so a NAT64 decision is one direct load, a compare and an
 * IPv4 walk, with no search over the declared prefixes: the well-known
 * prefix shares its direct entry with ::1, ::/96, 64:ff9b:1::/48 and more,
 * and would otherwise walk about seven levels to its early stop.
 *
 * ------------------------------------------------------------------------
 * HOW IT IS FOUND (a Poptrie-like compressed multibit trie)
 * ------------------------------------------------------------------------
 *
 * Keys are addresses read most significant bit first.  The top S bits
 * index a direct array of 2^S 16-byte entries (S is chosen per family from
 * its rule count, 8..18, so a ten-rule policy costs 4 KiB here and a BGP
 * table 4 MiB).  An entry holds one of:
 *
 *   VALUE   the whole region has one value;
 *   FLAT    a node whose 64 digits (the next 6 bits) all end in values:
 *           its leaf bitmap and leaf base, inline (see below);
 *   n       the index of an inner node that resolves the next 6 bits:
 *
 *   struct node { uint64 inner; uint64 leafstart; uint32 child; uint32 leaf; }
 *                                                         24 bytes, no padding
 *
 * Bit i of `inner` says that 6-bit digit i leads to another node.  The
 * children of a node are contiguous, so the child for digit i is
 * nodes[child + popcount(inner & bits 0..i) - 1].  Digits that do not lead
 * to a node end in a value.  Runs of equal values are stored once (leaf
 * compression): bit i of `leafstart` is set when digit i starts a new run,
 * and the value is leaves[leaf + popcount(leafstart & bits 0..i) - 1].  A
 * node therefore costs 24 bytes plus 4 bytes per distinct run instead of
 * 64 * 4 bytes for a plain 64-way array.
 *
 * Cost of one lookup: one 16-byte load from the direct array, then per
 * level one 24-byte node load (one cache line most of the time), a
 * popcount and a branch; the last level loads one uint32 from the leaf
 * array.  IPv4 with S = 18 resolves every /24 at the first level, which is
 * nearly always FLAT: two dependent loads (direct, leaf), like DPDK's
 * tbl24 + tbl8 but without the 64 MiB.  Longer IPv4 prefixes add up to two
 * node levels; IPv6 /48s need 5 with S = 18.  Both families use the same
 * code: the key is shifted left 6 bits per level, so IPv4 (a 64-bit key
 * with the address on top) and IPv6 (a 128-bit key) differ only in the key
 * type.  Digits past the end of an address read as zeros; the builder
 * plans for that by working on 128-bit left-aligned keys for both
 * families, and their leaves compress away.
 *
 * Memory: 16 * 2^S + 24 * nodes + 4 * runs bytes per family, plus 12 bytes
 * per port set and 12 per port candidate (its rule, port ranges and
 * action, so that a lookup never reads the rule record), in one block
 * (huge pages when it is 2 MiB or more).  Nothing is allocated or locked
 * on lookup.
 *
 * ------------------------------------------------------------------------
 * HOW IT IS BUILT (a radix sort, then one pass: O(n) in rules and output)
 * ------------------------------------------------------------------------
 *
 * 1. Radix-sort the rules of a family by (start, prefix length, portless first,
 *    deny first, index).  Rules with the same prefix are now adjacent and
 *    in rank order, and a prefix comes right after the prefixes that hold
 *    it.
 * 2. Sweep them with a stack of open prefixes (prefixes nest or are
 *    disjoint).  Each prefix's value is computed once from its own rules
 *    and its parent's value; entering or leaving a prefix emits a
 *    (start, value) change point, merging equal neighbours.
 * 3. Build the trie depth first from the sorted change points: a region
 *    with no change point strictly inside it becomes a value, any other
 *    becomes a node.  Each region is visited once, so the build is linear
 *    in the output.
 *
 * ------------------------------------------------------------------------
 * THE PUBLIC DECISION'S PATH (table.h, decide.c)
 * ------------------------------------------------------------------------
 *
 * The layout and the walk are in table.h, inline, so that
 * curlfence_policy_decide() without a verdict runs as a leaf function
 * (one per popcount flavour) that reads the sockaddr in place, walks the
 * table and, for a port set, matches the port against the candidates'
 * ranges: one call from the public function, which only jumps; no
 * decision record in any frame.  IPv4 saves two registers only when its
 * direct entry is not a single value; IPv6 has a leaf of its own.
 * Measured with callgrind on the bench's keys (instructions per decision,
 * the bench loop's 12 included): bgp4 random 62 (79 before), bgp6-100k
 * random 105 (121), inside 187 (206).  At 1M IPv4 prefixes the walk
 * still costs about 1.6 misses per lookup in a 1.25 MiB L2 model (two
 * dependent loads: the 4 MiB direct array, then the leaves), where
 * DPDK's tbl24 costs one: the 4-byte direct entries with cache-line
 * blocks that would bring it to one are not done.
 *
 * popcount: the portable x86-64 baseline has no POPCNT instruction and
 * __builtin_popcountll becomes a libgcc call there, so the walk is
 * compiled twice and cf_table_build picks the POPCNT one when the CPU has
 * it (the choice is stored in the table; there is no global state).
 */
#include "engine.h"
#include "table.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/socket.h>

/* ------------------------------------------------------------ lookup */

static uint32_t walk4(const cf_fam *f, uint64_t key) {
  CF_WALK(uint64_t, 64, f, key);
}

static uint32_t walk6(const cf_fam *f, cf_u128 key) {
  CF_WALK(cf_u128, 128, f, key);
}

#ifdef CF_HAVE_POPCNT_CLONE
__attribute__((target("popcnt"))) static uint32_t walk4_popcnt(
    const cf_fam *f, uint64_t key) {
  CF_WALK(uint64_t, 64, f, key);
}

__attribute__((target("popcnt"))) static uint32_t walk6_popcnt(
    const cf_fam *f, cf_u128 key) {
  CF_WALK(cf_u128, 128, f, key);
}

/* glibc read cpuid once at start and answers from memory.  libgcc's
 * __builtin_cpu_supports instead links a constructor that runs about ten
 * cpuid instructions in every process that loads this code (the preload
 * library: every program), and under a hypervisor each one is a trap that
 * costs microseconds. */
#if defined(__has_include)
#if __has_include(<sys/platform/x86.h>)
#include <sys/platform/x86.h>
#define CF_CPU_POPCNT() (CPU_FEATURE_ACTIVE(POPCNT) != 0)
#endif
#endif
#ifndef CF_CPU_POPCNT
#define CF_CPU_POPCNT() (__builtin_cpu_init(), \
                         __builtin_cpu_supports("popcnt") != 0)
#endif
#endif

static int port_in(const cf_ruleset *rs, const cf_cand *c, unsigned port) {
  return port_in_ranges(rs->ports + c->port_off, c->nports & ~CF_ALLOW, port);
}

static inline uint32_t find4(const cf_table *t, uint32_t addr) {
  uint64_t key = (uint64_t)addr << 32;
#ifdef CF_HAVE_POPCNT_CLONE
  return t->popcnt ? walk4_popcnt(&t->fam[0], key) : walk4(&t->fam[0], key);
#else
  return walk4(&t->fam[0], key);
#endif
}

uint32_t cf_table_find4(const cf_table *t, uint32_t addr) {
  return find4(t, addr);
}

static uint32_t find6_key(const cf_table *t, cf_u128 key) {
#ifdef CF_HAVE_POPCNT_CLONE
  return t->popcnt ? walk6_popcnt(&t->fam[1], key) : walk6(&t->fam[1], key);
#else
  return walk6(&t->fam[1], key);
#endif
}

uint32_t cf_table_find6(const cf_table *t, const uint8_t *addr) {
  uint64_t hi = load_be64(addr), lo = load_be64(addr + 8);
  uint32_t v, a4;
  if (n64_direct(t, hi, lo, &a4))
    return find4(t, a4);
  v = find6_key(t, (cf_u128)hi << 64 | lo);
  if ((v & CF_NAT64) == CF_NAT64)
    v = n64_embedded(t, v, hi, lo, &a4) ? find4(t, a4)
                                        : t->n64[v & CF_VAL_MAX].outside;
  return v;
}

CF_FIND_SA_FNS(find_sa_plain, )
#ifdef CF_HAVE_POPCNT_CLONE
CF_FIND_SA_FNS(find_sa_popcnt, __attribute__((target("popcnt"))))

__attribute__((target("popcnt"), noinline)) static uint32_t find_sa_pc(
    const cf_table *t, const cf_port_range *ports, const struct sockaddr *sa,
    socklen_t salen) {
  return find_sa_popcnt(t, ports, sa, salen);
}
#endif

__attribute__((noinline)) static uint32_t find_sa_pl(
    const cf_table *t, const cf_port_range *ports, const struct sockaddr *sa,
    socklen_t salen) {
  return find_sa_plain(t, ports, sa, salen);
}

uint32_t cf_table_find_sa(const cf_table *t, const cf_port_range *ports,
                          const struct sockaddr *sa, socklen_t salen) {
#ifdef CF_HAVE_POPCNT_CLONE
  if (t->popcnt)
    return find_sa_pc(t, ports, sa, salen);
#endif
  return find_sa_pl(t, ports, sa, salen);
}

/* The self rules after the lookup (rank.c); out of line, so policies
 * without them pay a load and a branch. */
__attribute__((noinline)) static long self_after(const cf_ruleset *rs,
                                                 int v6, const uint8_t *addr,
                                                 int in64, uint32_t a4v,
                                                 unsigned port, long idx,
                                                 int *allow) {
  /* decided on the embedded IPv4 address inside a nat64 prefix */
  uint8_t e4[4] = {(uint8_t)(a4v >> 24), (uint8_t)(a4v >> 16),
                   (uint8_t)(a4v >> 8), (uint8_t)a4v};
  return in64 ? cf_self_decide(rs, 0, e4, port, idx, allow, NULL)
              : cf_self_decide(rs, v6, addr, port, idx, allow, NULL);
}

long cf_table_lookup_as(const cf_table *t, const cf_ruleset *rs, int v6,
                        const uint8_t *addr, unsigned port, int *allow,
                        long *nat64, uint8_t *as4) {
  uint32_t v, a4v = 0;
  int in64 = 0;
  long idx;
  if (nat64)
    *nat64 = -1;
  if (!t || !addr)
    return -1;
  if (!v6) {
    v = cf_table_find4(t, (uint32_t)addr[0] << 24 | (uint32_t)addr[1] << 16 |
                              (uint32_t)addr[2] << 8 | addr[3]);
  } else {
    uint64_t hi = load_be64(addr), lo = load_be64(addr + 8);
    uint32_t a4;
    const cf_n64 *n = n64_direct(t, hi, lo, &a4);
    v = n ? CF_NAT64 | n->nat64 : find6_key(t, (cf_u128)hi << 64 | lo);
    if ((v & CF_NAT64) == CF_NAT64) {
      if (!n)
        n = n64_embedded(t, v, hi, lo, &a4);
      if (n) {
        v = cf_table_find4(t, a4);
        a4v = a4;
        in64 = 1;
        if (nat64)
          *nat64 = (long)n->nat64;
        if (as4) {
          as4[0] = (uint8_t)(a4 >> 24);
          as4[1] = (uint8_t)(a4 >> 16);
          as4[2] = (uint8_t)(a4 >> 8);
          as4[3] = (uint8_t)a4;
        }
      } else {
        v = t->n64[v & CF_VAL_MAX].outside;
      }
    }
  }
  if (v & CF_PSET) {
    const cf_pset *ps = &t->psets[v & ~CF_PSET];
    v = ps->w;
    if (port != 0 && rs) {
      const cf_cand *c = t->cands + ps->off;
      for (uint32_t i = 0; i < ps->n; i++)
        if (port_in(rs, &c[i], port)) {
          v = (c[i].rule + 1) | (c[i].nports & CF_ALLOW);
          break;
        }
    }
  }
  *allow = (v & CF_ALLOW) != 0;
  idx = (long)(v & ~CF_ALLOW) - 1;
  if (rs && rs->nselfv)
    idx = self_after(rs, v6, addr, in64, a4v, port, idx, allow);
  return idx;
}

long cf_table_lookup_action(const cf_table *t, const cf_ruleset *rs, int v6,
                            const uint8_t *addr, unsigned port, int *allow) {
  return cf_table_lookup_as(t, rs, v6, addr, port, allow, NULL, NULL);
}

long cf_table_lookup(const cf_table *t, const cf_ruleset *rs, int v6,
                     const uint8_t *addr, unsigned port) {
  int allow;
  return cf_table_lookup_action(t, rs, v6, addr, port, &allow);
}



size_t cf_table_memory(const cf_table *t) {
  size_t m;
  if (!t)
    return 0;
  if (t->arena || t->borrowed)
    return sizeof *t + t->arena_size;
  m = sizeof *t + t->npsets * sizeof *t->psets +
      t->ncands * sizeof *t->cands + t->nn64 * sizeof *t->n64;
  for (int f = 0; f < 2; f++)
    m += ((size_t)1 << t->fam[f].sbits) * sizeof(uint32_t) +
         t->fam[f].nnodes * sizeof(cf_node) +
         t->fam[f].nleaves * sizeof(uint32_t);
  return m;
}

void cf_table_free(cf_table *t) {
  if (!t)
    return;
  if (t->borrowed || t->arena) {
    free(t->arena);
    free(t);
    return;
  }
  for (int f = 0; f < 2; f++) {
    free(t->fam[f].direct);
    free(t->fam[f].nodes);
    free(t->fam[f].leaves);
  }
  free(t->psets);
  free(t->cands);
  free(t->n64);
  free(t);
}

/* ------------------------------------------------------------- build */

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

/* A point where the answer changes. */
typedef struct cf_cut {
  /* the start as two words: a cf_u128 would align the record to 16 bytes
   * and make it 32; there are up to two per rule, and they are the
   * largest thing a build holds */
  uint64_t hi, lo;
  uint32_t val;
} cf_cut;

/* IPv4 change points start at multiples of 2^96 (a left-aligned key ends
 * at bit 32), so the top word is all they need: 8 bytes instead of 24. */
typedef struct cf_cut4 {
  uint32_t start;    /* bits 96..127 of the key */
  uint32_t val;
} cf_cut4;

typedef struct cf_open {
  cf_u128 end;       /* last address of the prefix */
  uint32_t val;      /* answer inside it (below deeper prefixes) */
  uint32_t w;        /* best portless value inside it */
  uint32_t coff, cn; /* its port candidates, best first */
} cf_open;

typedef struct cf_builder {
  cf_table *t;
  const cf_ruleset *rs;
  int v4;            /* the family being built uses cuts4 */
  size_t nnat64;     /* records [0, nnat64) of t->n64 are the prefixes */
  cf_cut *cuts;
  cf_cut4 *cuts4;
  size_t ncuts, capcuts, capcuts4;
} cf_builder;

/* (start, plen, rank, idx) order: the same prefixes end up adjacent, best
 * rule first, and a prefix follows the ones that hold it. */
static int key_le(const cf_key *a, const cf_key *b) {
  if (a->hi != b->hi)
    return a->hi < b->hi;
  if (a->lo != b->lo)
    return a->lo < b->lo;
  if (a->tail != b->tail)
    return a->tail < b->tail;
  return a->idx <= b->idx;
}

#define RADIX_BITS 11
#define RADIX (1u << RADIX_BITS)
#define RADIX_PASSES 13  /* tail: 1, lo: 6, hi: 6 */

static unsigned key_digit(const cf_key *k, unsigned pass) {
  if (pass == 0)
    return k->tail & (RADIX - 1);
  if (pass <= 6)
    return (unsigned)(k->lo >> (RADIX_BITS * (pass - 1))) & (RADIX - 1);
  return (unsigned)(k->hi >> (RADIX_BITS * (pass - 7))) & (RADIX - 1);
}

/* LSD radix sort: keys come in rule order and every pass is stable, so
 * equal keys stay in index order.  A comparison sort spent most of the
 * build time on a million rules; here passes over digits that are the same
 * in every key (the host part of most prefixes) are skipped. */
static int sort_keys(cf_key *k, size_t n) {
  size_t i;
  size_t(*hist)[RADIX];
  cf_key *tmp, *src = k, *dst;
  for (i = 1; i < n; i++)
    if (!key_le(&k[i - 1], &k[i]))
      break;
  if (i >= n)
    return 0;  /* already sorted, as generated or well-kept files are */
  if (n < 64) {
    for (size_t a = 1; a < n; a++) {
      cf_key x = k[a];
      size_t b = a;
      for (; b > 0 && !key_le(&k[b - 1], &x); b--)
        k[b] = k[b - 1];
      k[b] = x;
    }
    return 0;
  }
  hist = calloc(RADIX_PASSES, sizeof *hist);
  tmp = malloc(n * sizeof *tmp);
  if (!hist || !tmp) {
    free(hist);
    free(tmp);
    return -1;
  }
  for (i = 0; i < n; i++)
    for (unsigned p = 0; p < RADIX_PASSES; p++)
      hist[p][key_digit(&k[i], p)]++;
  dst = tmp;
  for (unsigned p = 0; p < RADIX_PASSES; p++) {
    size_t sum = 0, *h = hist[p];
    if (h[key_digit(&src[0], p)] == n)
      continue;
    for (unsigned d = 0; d < RADIX; d++) {
      size_t c = h[d];
      h[d] = sum;
      sum += c;
    }
    for (i = 0; i < n; i++)
      dst[h[key_digit(&src[i], p)]++] = src[i];
    cf_key *sw = src;
    src = dst;
    dst = sw;
  }
  if (src != k)
    memcpy(k, src, n * sizeof *k);
  free(tmp);
  free(hist);
  return 0;
}

static cf_u128 cut_start(const cf_builder *b, size_t i) {
  if (b->v4)
    return (cf_u128)b->cuts4[i].start << 96;
  return (cf_u128)b->cuts[i].hi << 64 | b->cuts[i].lo;
}

static uint32_t cut_val(const cf_builder *b, size_t i) {
  return b->v4 ? b->cuts4[i].val : b->cuts[i].val;
}

static int emit(cf_builder *b, cf_u128 start, uint32_t val) {
  /* A later change at the same point overrides an earlier one (a prefix
   * and its parent ending together). */
  if (b->ncuts && cut_start(b, b->ncuts - 1) == start)
    b->ncuts--;
  if (b->ncuts && cut_val(b, b->ncuts - 1) == val)
    return 0;
  if (b->ncuts == (b->v4 ? b->capcuts4 : b->capcuts))
    return -1;  /* sweep reserved enough; never here */
  if (b->v4) {
    b->cuts4[b->ncuts].start = (uint32_t)(start >> 96);
    b->cuts4[b->ncuts].val = val;
  } else {
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
                       const cf_open *parent, cf_open *o) {
  cf_table *t = b->t;
  size_t nport = 0, first_port = n;
  int portless = KEY_RANK(&k[0]) < 2;
  for (size_t i = 0; i < n; i++)
    if (k[i].idx & KEY_NAT64) {
      /* no rule of the family applies inside: not even a parent's port
       * rules, so nothing is inherited */
      o->w = o->val = CF_NAT64 | (k[i].idx & ~KEY_NAT64);
      o->coff = 0;
      o->cn = 0;
      return 0;
    }
  for (size_t i = 0; i < n; i++)
    if (KEY_RANK(&k[i]) >= 2) {
      if (first_port == n)
        first_port = i;
      nport++;
    }
  o->w = portless ? (k[0].idx + 1) | (KEY_RANK(&k[0]) & 1u ? CF_ALLOW : 0)
                  : (parent ? parent->w : 0);
  o->coff = 0;
  o->cn = 0;
  if (nport || (!portless && parent && parent->cn)) {
    /* A portless rule here hides every shorter port rule; without one,
     * the parent's candidates still apply, after ours. */
    size_t inherit = (!portless && parent) ? parent->cn : 0;
    size_t need = nport + inherit;
    if (need > UINT32_MAX || t->ncands + need > UINT32_MAX ||
        t->npsets >= CF_VAL_MAX)
      return -2;
    if (cf_grow(&t->cands, &t->capcands, t->ncands + need, sizeof *t->cands) ||
        cf_grow(&t->psets, &t->cappsets, t->npsets + 1, sizeof *t->psets))
      return -1;
    o->coff = (uint32_t)t->ncands;
    for (size_t i = first_port; i < n; i++) {
      const cf_rule *r = &b->rs->rules[k[i].idx];
      cf_cand *c = &t->cands[t->ncands++];
      c->rule = k[i].idx;
      c->port_off = r->port_off;
      c->nports = r->nports | (r->action == CURLFENCE_ALLOW ? CF_ALLOW : 0);
    }
    if (inherit)
      memcpy(t->cands + t->ncands, t->cands + parent->coff,
             inherit * sizeof *t->cands);
    t->ncands += inherit;
    o->cn = (uint32_t)need;
    t->psets[t->npsets].w = o->w;
    t->psets[t->npsets].off = o->coff;
    t->psets[t->npsets].n = o->cn;
    o->val = CF_PSET | (uint32_t)t->npsets++;
  } else {
    o->val = o->w;
  }
  return 0;
}

/* Steps 1 and 2: the change points of one family, in b->cuts. */
static int sweep(cf_builder *b, const cf_ruleset *rs, int v6) {
  size_t n = 0, i, depth = 0;
  cf_key *k;
  cf_open stack[130];
  int rc = 0;
  const cf_u128 ones = ~(cf_u128)0;

  b->ncuts = 0;
  b->v4 = !v6;
  for (i = 0; i < rs->nrules; i++)
    if (!!rs->rules[i].v6 == v6 && !rs->rules[i].self)
      n++;
  if (v6)
    n += rs->nnat64;
  /* one change point to start with, at most two per prefix: reserving
   * them up front saves the copies of a growing array */
  if (n > (SIZE_MAX / sizeof *b->cuts - 1) / 2 ||
      (v6 ? cf_grow(&b->cuts, &b->capcuts, 2 * n + 1, sizeof *b->cuts)
          : cf_grow(&b->cuts4, &b->capcuts4, 2 * n + 1, sizeof *b->cuts4)))
    return -1;
  if (emit(b, 0, 0))
    return -1;
  if (!n)
    return 0;
  k = malloc(n * sizeof *k);
  if (!k)
    return -1;
  n = 0;
  for (i = 0; i < rs->nrules; i++) {
    const cf_rule *r = &rs->rules[i];
    cf_u128 a = 0;
    /* self rules are decided after the lookup (cf_self_decide): the
     * host's addresses are not known when an image is compiled */
    if (!!r->v6 != v6 || r->self)
      continue;
    /* A rule inside a nat64 prefix can never apply (the parser refuses
     * one; hand-built sets might): leave it out so it cannot cut the
     * prefix's region. */
    if (v6 && rs->nnat64 && cf_nat64_covering(rs, r->addr, r->plen) >= 0)
      continue;
    if (r->plen > (v6 ? 128 : 32)) {
      free(k);
      return -2;
    }
    for (int j = 0; j < (v6 ? 16 : 4); j++)
      a = a << 8 | r->addr[j];
    if (!v6)
      a <<= 96;
    /* Host bits are cleared by the parser; clear them again so a stray
     * one cannot break the nesting the sweep relies on. */
    if (r->plen == 0)
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
  for (i = 0; v6 && i < rs->nnat64; i++) {
    const cf_nat64 *d = &rs->nat64[i];
    cf_u128 a = 0;
    if (d->plen > 128) {
      free(k);
      return -2;
    }
    for (int j = 0; j < 16; j++)
      a = a << 8 | d->prefix[j];
    a = d->plen ? a & ~(cf_u128)0 << (128 - d->plen) : 0;
    k[n].hi = (uint64_t)(a >> 64);
    k[n].lo = (uint64_t)a;
    k[n].idx = KEY_NAT64 | (uint32_t)i;
    k[n].tail = (uint16_t)(d->plen << 2);
    n++;
  }
  if (sort_keys(k, n)) {
    free(k);
    return -1;
  }
  for (i = 0; i < n;) {
    size_t j = i + 1;
    cf_open o;
    cf_u128 start = KEY_START(&k[i]);
    unsigned plen = KEY_PLEN(&k[i]);
    while (j < n && k[j].hi == k[i].hi && k[j].lo == k[i].lo &&
           KEY_PLEN(&k[j]) == plen)
      j++;
    /* close the prefixes that end before this one */
    while (depth && stack[depth - 1].end < start) {
      depth--;
      if (emit(b, stack[depth].end + 1, depth ? stack[depth - 1].val : 0))
        goto nomem;
    }
    rc = open_prefix(b, k + i, j - i, depth ? &stack[depth - 1] : NULL, &o);
    if (rc)
      goto out;
    o.end = plen == 0 ? ones : plen == 128 ? start : start | (ones >> plen);
    stack[depth++] = o;
    if (emit(b, start, o.val))
      goto nomem;
    i = j;
  }
  while (depth) {
    depth--;
    if (stack[depth].end != ones &&
        emit(b, stack[depth].end + 1, depth ? stack[depth - 1].val : 0))
      goto nomem;
  }
out:
  free(k);
  return rc;
nomem:
  free(k);
  return -1;
}

static int is_n64(uint32_t v) {
  return (v & CF_NAT64) == CF_NAT64;
}

/* A region [s, e] (cuts[p] the last change point at or before s) whose
 * change points are those of one nat64 prefix with one value around it
 * needs no node: a NAT64 record with that value outside answers it.
 * Returns 1 and the value, 0 when the region needs a node, -1 when out of
 * memory. */
static int early_stop(cf_builder *b, size_t p, cf_u128 e, uint32_t *val) {
  cf_table *t = b->t;
  uint32_t seg[3], nv, outside;
  size_t k = 0, i;
  if (!b->nnat64)
    return 0;
  for (i = p; i < b->ncuts && (i == p || cut_start(b, i) <= e); i++) {
    if (k == 3)
      return 0;
    seg[k++] = cut_val(b, i);
  }
  if (k == 2 && is_n64(seg[0]) != is_n64(seg[1])) {
    nv = is_n64(seg[0]) ? seg[0] : seg[1];
    outside = is_n64(seg[0]) ? seg[1] : seg[0];
  } else if (k == 3 && is_n64(seg[1]) && !is_n64(seg[0]) &&
             seg[0] == seg[2]) {
    nv = seg[1];
    outside = seg[0];
  } else {
    return 0;
  }
  nv &= CF_VAL_MAX;  /* a declared prefix's own record */
  for (i = t->nn64 - 1; i >= b->nnat64 && i < t->nn64; i--)
    if (t->n64[i].nat64 == nv && t->n64[i].outside == outside)
      break;
  if (i < b->nnat64 || i >= t->nn64) {
    if (t->nn64 >= CF_VAL_MAX)
      return -1;
    if (cf_grow(&t->n64, &t->capn64, t->nn64 + 1, sizeof *t->n64))
      return -1;
    i = t->nn64++;
    t->n64[i] = t->n64[nv];
    t->n64[i].outside = outside;
  }
  *val = CF_NAT64 | (uint32_t)i;
  return 1;
}

/* Step 3.  Fill node ni, which covers the region starting at base whose
 * digits start at bit off of the key; cuts[p] is the last change point at
 * or before base. */
static int build_node(cf_builder *b, cf_fam *f, size_t ni, cf_u128 base,
                      unsigned off, size_t p) {
  size_t m = b->ncuts;
  /* Near the end of an IPv6 key a digit runs past bit 127: the lookup
   * reads the missing bits as zeros, so digit d means address
   * base + (d >> pad) and the other digits copy their value. */
  unsigned pad = off + 6 > 128 ? off + 6 - 128 : 0;
  unsigned cshift = 128 - off - 6 + pad;  /* log2 of a digit's region */
  cf_u128 csize = (cf_u128)1 << cshift;
  size_t childp[64];
  uint64_t inner = 0, leafstart = 0;
  uint32_t prev = 0;
  int have_prev = 0;
  size_t nchild, first_child, first_leaf = f->nleaves;

  for (unsigned d = 0; d < 64;) {
    cf_u128 s = base + (cf_u128)(d >> pad) * csize;
    cf_u128 e = s + (csize - 1);
    uint32_t val;
    int es = 0;
    while (p + 1 < m && cut_start(b, p + 1) <= s)
      p++;
    val = cut_val(b, p);
    if (p + 1 < m && cut_start(b, p + 1) <= e) {
      es = early_stop(b, p, e, &val);
      if (es < 0)
        return -1;
      if (!es) {
        inner |= 1ull << d;
        childp[d] = p;
        d++;
        continue;
      }
    }
    if (!have_prev || val != prev) {
      if (cf_grow(&f->leaves, &f->capleaves, f->nleaves + 1,
                  sizeof *f->leaves))
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
    if (es) {
      d++;
    }
    else if (pad == 0 && p + 1 < m) {
      cf_u128 q = (cut_start(b, p + 1) - base) >> cshift;
      d = q < 64 ? (unsigned)q : 64;
    }
    else if (pad == 0) {
      d = 64;
    }
    else {
      d++;
    }
  }
  nchild = (size_t)__builtin_popcountll(inner);
  first_child = f->nnodes;
  if (f->nnodes + nchild > CF_VAL_MAX || f->nleaves > UINT32_MAX)
    return -2;
  if (cf_grow(&f->nodes, &f->capnodes, f->nnodes + nchild, sizeof *f->nodes))
    return -1;
  f->nnodes += nchild;
  f->nodes[ni].inner = inner;
  f->nodes[ni].leafstart = leafstart;
  f->nodes[ni].child = (uint32_t)first_child;
  f->nodes[ni].leaf = (uint32_t)first_leaf;
  for (unsigned d = 0, ci = 0; d < 64; d++) {
    if (!(inner & (1ull << d)))
      continue;
    int rc = build_node(b, f, first_child + ci++,
                        base + (cf_u128)(d >> pad) * csize,
                        off + 6, childp[d]);
    if (rc)
      return rc;
  }
  return 0;
}

static unsigned ceil_log2(size_t n) {
  unsigned l = 0;
  while (l < 63 && ((size_t)1 << l) < n)
    l++;
  return l;
}

/* The NAT64 record of declared prefix i (d); -1 for a length RFC 6052
 * does not define. */
static int n64_record(const cf_nat64 *d, size_t i, cf_n64 *r) {
  unsigned plen = d->plen;
  cf_u128 a = 0, m;
  if (plen < 32 || plen > 96 || plen % 8 || plen == 72 || plen == 80 ||
      plen == 88)
    return -1;
  for (int j = 0; j < 16; j++)
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

static int build_family(cf_builder *b, const cf_ruleset *rs, int v6) {
  cf_fam *f = &b->t->fam[v6];
  size_t n = 0, p = 0;
  int rc;
  for (size_t i = 0; i < rs->nrules; i++)
    if (!!rs->rules[i].v6 == v6 && !rs->rules[i].self)
      n++;
  /* The direct array grows with the table (about 16 entries per rule) so a
   * small policy stays small and a BGP table gets Poptrie's 18 bits. */
  f->sbits = ceil_log2(n) + 4;
  if (f->sbits < 8)
    f->sbits = 8;
  if (f->sbits > 18)
    f->sbits = 18;
  rc = sweep(b, rs, v6);
  if (rc)
    return rc;
  f->direct = malloc(((size_t)1 << f->sbits) * sizeof *f->direct);
  if (!f->direct)
    return -1;
  {
    unsigned cshift = 128 - f->sbits;
    cf_u128 csize = (cf_u128)1 << cshift;
    size_t m = b->ncuts;
    for (size_t d = 0; d < ((size_t)1 << f->sbits); d++) {
      cf_u128 s = (cf_u128)d << cshift;
      cf_u128 e = s + (csize - 1);
      uint32_t val;
      int es = 0;
      while (p + 1 < m && cut_start(b, p + 1) <= s)
        p++;
      val = cut_val(b, p);
      if (p + 1 < m && cut_start(b, p + 1) <= e &&
          (es = early_stop(b, p, e, &val)) < 0)
        return -1;
      if (p + 1 < m && cut_start(b, p + 1) <= e && !es) {
        size_t ni = f->nnodes;
        if (ni >= CF_VAL_MAX)
          return -2;
        if (cf_grow(&f->nodes, &f->capnodes, ni + 1, sizeof *f->nodes))
          return -1;
        f->nnodes++;
        rc = build_node(b, f, ni, s, f->sbits, p);
        if (rc)
          return rc;
        if (f->nodes[ni].inner == 0) {
          /* no children were appended, so ni is still the last node */
          f->direct[d].leafstart = f->nodes[ni].leafstart;
          f->direct[d].leaf = f->nodes[ni].leaf;
          f->direct[d].tag = CF_D_FLAT;
          f->nnodes--;
        } else {
          f->direct[d].leafstart = 0;
          f->direct[d].leaf = 0;
          f->direct[d].tag = (uint32_t)ni;
        }
      } else {
        f->direct[d].leafstart = 0;
        f->direct[d].leaf = val;
        f->direct[d].tag = CF_D_VALUE;
      }
    }
  }
  /* A node entry whose region holds a declared prefix names it, so a
   * lookup inside the prefix skips the walk; only a prefix no other one
   * overlaps (the parser allows no overlap; hand-built sets might). */
  for (size_t j = 0; v6 && j < b->nnat64; j++) {
    const cf_n64 *r = &b->t->n64[j];
    cf_dent *d = &f->direct[(size_t)(r->hi >> (64 - f->sbits))];
    int alone = 1;
    for (size_t o = 0; o < b->nnat64 && alone; o++) {
      const cf_n64 *q = &b->t->n64[o];
      unsigned pl = q->plen < r->plen ? q->plen : r->plen;
      cf_u128 x = ((cf_u128)q->hi << 64 | q->lo) ^
                  ((cf_u128)r->hi << 64 | r->lo);
      alone = o == j || (x >> (128 - pl)) != 0;
    }
    if (alone && d->tag < CF_D_FLAT && !d->leaf)
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

static size_t round_up(size_t n, size_t a) {
  return (n + a - 1) / a * a;
}

static int pack(cf_table *t) {
  struct {
    void **p;
    size_t bytes;
  } part[9];
  size_t np = 0, total = 0, off = 0;
  char *arena;
  for (int f = 0; f < 2; f++) {
    cf_fam *fm = &t->fam[f];
    part[np].p = (void **)&fm->direct;
    part[np++].bytes = ((size_t)1 << fm->sbits) * sizeof *fm->direct;
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
  for (size_t i = 0; i < np; i++)
    total += round_up(part[i].bytes, CF_ALIGN);
#if defined(MADV_HUGEPAGE)
  if (total >= CF_HUGE) {
    void *q = NULL;
    if (posix_memalign(&q, CF_HUGE, total))
      return -1;
    /* only the whole 2 MiB pages inside the block get huge pages; the
     * tail stays in small pages, so nothing is rounded up */
    (void)madvise(q, total / CF_HUGE * CF_HUGE, MADV_HUGEPAGE);
    arena = q;
  } else
#endif
  {
    void *q = NULL;
    if (posix_memalign(&q, CF_ALIGN, total ? total : CF_ALIGN))
      return -1;
    arena = q;
  }
  for (size_t i = 0; i < np; i++) {
    if (part[i].bytes)
      memcpy(arena + off, *part[i].p, part[i].bytes);
    free(*part[i].p);
    *part[i].p = arena + off;
    off += round_up(part[i].bytes, CF_ALIGN);
  }
  t->arena = arena;
  t->arena_size = total;
  return 0;
}

curlfence_code cf_table_build(cf_table **out, const cf_ruleset *rs) {
  cf_builder b;
  cf_table *t;
  int rc = 0;
  if (!out)
    return CURLFENCE_E_INVAL;
  *out = NULL;
  if (!rs || (rs->nrules && !rs->rules))
    return CURLFENCE_E_INVAL;
  if (rs->nrules >= CF_VAL_MAX)
    return CURLFENCE_E_LIMIT;
  t = calloc(1, sizeof *t);
  if (!t)
    return CURLFENCE_E_NOMEM;
  memset(&b, 0, sizeof b);
  b.t = t;
  b.rs = rs;
  if (rs->nnat64 && (rs->nnat64 >= CF_VAL_MAX || !rs->nat64)) {
    free(t);
    return rs->nat64 ? CURLFENCE_E_LIMIT : CURLFENCE_E_INVAL;
  }
  if (cf_grow(&t->n64, &t->capn64, rs->nnat64, sizeof *t->n64)) {
    free(t);
    return CURLFENCE_E_NOMEM;
  }
  for (size_t i = 0; i < rs->nnat64; i++)
    if (n64_record(&rs->nat64[i], i, &t->n64[i])) {
      cf_table_free(t);
      return CURLFENCE_E_INVAL;
    }
  t->nn64 = b.nnat64 = rs->nnat64;
  for (int v6 = 0; v6 < 2 && !rc; v6++)
    rc = build_family(&b, rs, v6);
  free(b.cuts);
  free(b.cuts4);
  if (rc) {
    cf_table_free(t);
    return rc == -1 ? CURLFENCE_E_NOMEM : CURLFENCE_E_LIMIT;
  }
  if (pack(t)) {
    cf_table_free(t);
    return CURLFENCE_E_NOMEM;
  }
#ifdef CF_HAVE_POPCNT_CLONE
  t->popcnt = CF_CPU_POPCNT();
#endif
  *out = t;
  return CURLFENCE_OK;
}

/* ------------------------------------------------------------ images */

/* The image format (image.c) stores each array of a table as a section
 * and maps it back in place; these sizes are part of that format. */
_Static_assert(sizeof(cf_dent) == 16, "cf_dent is 16 bytes in images");
_Static_assert(sizeof(cf_node) == 24, "cf_node is 24 bytes in images");
_Static_assert(sizeof(cf_pset) == 12, "cf_pset is 12 bytes in images");
_Static_assert(sizeof(cf_cand) == 12, "cf_cand is 12 bytes in images");
_Static_assert(sizeof(cf_n64) == 48, "cf_n64 is 48 bytes in images");

size_t cf_table_part_size(unsigned part) {
  static const size_t size[CF_PART_N] = {
      sizeof(cf_dent), sizeof(cf_node), sizeof(uint32_t),
      sizeof(cf_dent), sizeof(cf_node), sizeof(uint32_t),
      sizeof(cf_pset), sizeof(cf_cand), sizeof(cf_n64)};
  return part < CF_PART_N ? size[part] : 0;
}

void cf_table_get_parts(const cf_table *t, cf_table_parts *out) {
  for (int f = 0; f < 2; f++) {
    const cf_fam *fm = &t->fam[f];
    out->p[3 * f] = fm->direct;
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
}

static curlfence_code bad(cf_table_fault *f, unsigned part, size_t elem,
                          const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static curlfence_code bad(cf_table_fault *f, unsigned part, size_t elem,
                          const char *fmt, ...) {
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
                               size_t npsets, size_t nn64) {
  if (v == 0)
    return NULL;
  if ((v & CF_NAT64) == CF_NAT64) {
    if (!fam)
      return "a NAT64 record in the IPv4 family";
    return (v & CF_VAL_MAX) < nn64 ? NULL
                                   : "a NAT64 record past the records";
  }
  if (v & CF_PSET) {
    if ((v & ~CF_PSET) >= npsets)
      return "a port set index past the port sets";
    if (pfam[v & ~CF_PSET] != fam)
      return "a port set of the other address family";
    return NULL;
  }
  size_t r = (size_t)(v & ~CF_ALLOW) - 1;
  if (r >= nrules)
    return "a rule index past the rules";
  if (!!(kind[r] & CF_KIND_V6) != fam)
    return "a rule of the other address family";
  if (kind[r] & CF_KIND_PORTS)
    return "a rule with ports where only portless rules may decide";
  if (kind[r] & CF_KIND_SELF)
    return "a \"self\" rule, which the table never holds";
  if (!!(kind[r] & CF_KIND_ALLOW) != !!(v & CF_ALLOW))
    return "an action that is not the rule's";
  return NULL;
}

/* The value nearly every leaf holds, checked with one compare: a
 * portless rule of family fam that is not "self", with its action (0 and
 * everything else go to value_fault, which also says what is wrong). */
static inline int value_plain(uint32_t v, int fam, const uint8_t *kind,
                              size_t nrules) {
  size_t r = (size_t)(v & ~CF_ALLOW) - 1;
  return !(v & CF_PSET) && r < nrules &&
         kind[r] == ((v & CF_ALLOW ? CF_KIND_ALLOW : 0u) |
                     (fam ? CF_KIND_V6 : 0u));
}

/* The digits of a node that end in a value must each find the run they
 * belong to: the first such digit starts a run, no digit is both, and
 * the runs lie inside the leaves. */
static const char *runs_fault(uint64_t inner, uint64_t leafstart,
                              uint32_t leaf, size_t nleaves) {
  if (inner & leafstart)
    return "a digit both leads to a node and starts a run of leaves";
  if (~inner && !(leafstart & (~inner & (0 - ~inner))))
    return "the first digit without a child starts no run of leaves";
  if ((uint64_t)leaf + (uint64_t)__builtin_popcountll(leafstart) > nleaves)
    return "leaf runs past the end of the leaves";
  return NULL;
}

curlfence_code cf_table_view(cf_table **out, const cf_table_parts *tp,
                             const cf_ruleset *rs, const uint8_t *kind,
                             cf_table_fault *flt) {
  size_t nrules = rs->nrules;
  cf_table *t;
  uint8_t *pfam = NULL, *depth = NULL;
  const cf_pset *ps = tp->p[CF_PART_PSETS];
  const cf_cand *cands = tp->p[CF_PART_CANDS];
  size_t npsets = tp->n[CF_PART_PSETS], ncands = tp->n[CF_PART_CANDS];
  const cf_n64 *n64s = tp->p[CF_PART_N64];
  size_t nn64 = tp->n[CF_PART_N64];
  curlfence_code rc = CURLFENCE_OK;
  const char *why;

  *out = NULL;
  if (npsets >= CF_VAL_MAX)
    return bad(flt, CF_PART_PSETS, 0, "%zu port sets, at most %u", npsets,
               CF_VAL_MAX - 1);
  /* Port sets first: leaf values name them, and their family is that of
   * their candidates. */
  pfam = malloc(npsets ? npsets : 1);
  if (!pfam)
    return CURLFENCE_E_NOMEM;
  for (size_t i = 0; i < ncands; i++) {
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
    if (why) {
      rc = bad(flt, CF_PART_CANDS, i, "candidate %zu (rule %u): %s", i,
               c->rule, why);
      goto out;
    }
  }
  for (size_t i = 0; i < npsets; i++) {
    if (ps[i].n == 0 || ps[i].off > ncands || ps[i].n > ncands - ps[i].off) {
      rc = bad(flt, CF_PART_PSETS, i,
               "port set %zu: candidates %u..%u outside the %zu candidates",
               i, ps[i].off, ps[i].off + ps[i].n, ncands);
      goto out;
    }
    pfam[i] = !!(kind[cands[ps[i].off].rule] & CF_KIND_V6);
    for (uint32_t c = 1; c < ps[i].n; c++)
      if (!!(kind[cands[ps[i].off + c].rule] & CF_KIND_V6) != pfam[i]) {
        rc = bad(flt, CF_PART_PSETS, i,
                 "port set %zu mixes address families", i);
        goto out;
      }
    if ((ps[i].w & CF_PSET) ||
        (why = value_fault(ps[i].w, pfam[i], kind, nrules, pfam, npsets, 0))) {
      rc = bad(flt, CF_PART_PSETS, i, "port set %zu: fallback is %s", i,
               (ps[i].w & CF_PSET) ? "a port set" : why);
      goto out;
    }
  }
  /* NAT64 records: first the declared prefixes, exactly as the build
   * makes them, then early stops, each a copy of one of those with the
   * value around it. */
  if (nn64 >= CF_VAL_MAX || nn64 < rs->nnat64 || (nn64 && !rs->nnat64)) {
    rc = bad(flt, CF_PART_N64, 0, "%zu NAT64 records for %zu declared "
             "prefixes", nn64, rs->nnat64);
    goto out;
  }
  for (size_t i = 0; i < nn64; i++) {
    cf_n64 want;
    size_t d = i < rs->nnat64 ? i : n64s[i].nat64;
    why = NULL;
    if (d >= rs->nnat64)
      why = "names a prefix past the declared ones";
    else if (n64_record(&rs->nat64[d], d, &want))
      why = "its declared prefix has a length RFC 6052 does not define";
    else if (i >= rs->nnat64) {
      want.outside = n64s[i].outside;
      if ((want.outside & CF_NAT64) == CF_NAT64)
        why = "the value around it is a NAT64 record";
      else
        why = value_fault(want.outside, 1, kind, nrules, pfam, npsets, 0);
    }
    if (!why && memcmp(&want, &n64s[i], sizeof want) != 0)
      why = "not the record of its declared prefix";
    if (why) {
      rc = bad(flt, CF_PART_N64, i, "NAT64 record %zu: %s", i, why);
      goto out;
    }
  }
  for (int f = 0; f < 2; f++) {
    unsigned pd = 3 * (unsigned)f, pn = pd + 1, pl = pd + 2;
    const cf_dent *dir = tp->p[pd];
    const cf_node *nodes = tp->p[pn];
    const uint32_t *leaves = tp->p[pl];
    size_t ndir = tp->n[pd], nnodes = tp->n[pn], nleaves = tp->n[pl];
    unsigned sbits = 0, keybits = f ? 128 : 32;

    while (sbits < 18 && ((size_t)1 << sbits) < ndir)
      sbits++;
    if (sbits < 8 || ((size_t)1 << sbits) != ndir) {
      rc = bad(flt, pd, 0, "%zu direct entries: not a power of two from "
               "2^8 to 2^18", ndir);
      goto out;
    }
    if (nnodes >= CF_VAL_MAX) {
      rc = bad(flt, pn, 0, "%zu nodes, at most %u", nnodes, CF_VAL_MAX - 1);
      goto out;
    }
    free(depth);
    depth = calloc(nnodes ? nnodes : 1, 1);
    if (!depth) {
      rc = CURLFENCE_E_NOMEM;
      goto out;
    }
    for (size_t d = 0; d < ndir; d++) {
      const cf_dent *e = &dir[d];
      if (e->tag == CF_D_VALUE) {
        why = e->leafstart ? "a single-value entry with a run bitmap"
              : value_plain(e->leaf, f, kind, nrules)
                  ? NULL
                  : value_fault(e->leaf, f, kind, nrules, pfam, npsets, nn64);
      } else if (e->tag == CF_D_FLAT) {
        why = runs_fault(0, e->leafstart, e->leaf, nleaves);
      } else if (e->tag >= nnodes) {
        why = "a node index past the nodes";
      } else if (e->leafstart ||
                 (e->leaf && (!f || (e->leaf & CF_NAT64) != CF_NAT64 ||
                              (e->leaf & CF_VAL_MAX) >= rs->nnat64))) {
        why = "a node entry with a run bitmap or a value other than a "
              "declared nat64 prefix";
      } else if (depth[e->tag]) {
        why = "a node that has another parent";
      } else {
        depth[e->tag] = 1;
        why = NULL;
      }
      if (why) {
        rc = bad(flt, pd, d, "direct entry %zu: %s", d, why);
        goto out;
      }
    }
    for (size_t i = 0; i < nnodes; i++) {
      const cf_node *n = &nodes[i];
      size_t nchild = (size_t)__builtin_popcountll(n->inner);
      why = runs_fault(n->inner, n->leafstart, n->leaf, nleaves);
      if (!why && !depth[i])
        why = "not reachable from the direct array";
      else if (!why && nchild) {
        /* Children lie after their parent, so the walk only moves
         * forward and ends; and no level may start past the address. */
        if (n->child <= i || (size_t)n->child + nchild > nnodes)
          why = "children outside the nodes after it";
        else if (sbits + 6u * depth[i] >= keybits)
          why = "children below the last bit of the address";
        else
          for (size_t c = n->child; c < n->child + nchild && !why; c++) {
            if (depth[c])
              why = "a child that has another parent";
            depth[c] = (uint8_t)(depth[i] + 1);
          }
      }
      if (why) {
        rc = bad(flt, pn, i, "node %zu: %s", i, why);
        goto out;
      }
    }
    /* Neighbouring leaves often hold the same value: checked once. */
    for (size_t i = 0; i < nleaves; i++) {
      uint32_t v = leaves[i];
      if ((i && v == leaves[i - 1]) || value_plain(v, f, kind, nrules))
        continue;
      if ((why = value_fault(v, f, kind, nrules, pfam, npsets, nn64))) {
        rc = bad(flt, pl, i, "leaf %zu: %s", i, why);
        goto out;
      }
    }
  }
  t = calloc(1, sizeof *t);
  if (!t) {
    rc = CURLFENCE_E_NOMEM;
    goto out;
  }
  for (int f = 0; f < 2; f++) {
    cf_fam *fm = &t->fam[f];
    size_t ndir = tp->n[3 * f];
    while (((size_t)1 << fm->sbits) < ndir)
      fm->sbits++;
    fm->direct = (cf_dent *)tp->p[3 * f];
    fm->nodes = (cf_node *)tp->p[3 * f + 1];
    fm->nnodes = fm->capnodes = tp->n[3 * f + 1];
    fm->leaves = (uint32_t *)tp->p[3 * f + 2];
    fm->nleaves = fm->capleaves = tp->n[3 * f + 2];
  }
  t->psets = (cf_pset *)ps;
  t->npsets = t->cappsets = npsets;
  t->cands = (cf_cand *)cands;
  t->ncands = t->capcands = ncands;
  t->n64 = (cf_n64 *)n64s;
  t->nn64 = t->capn64 = nn64;
  for (unsigned p = 0; p < CF_PART_N; p++)
    t->arena_size += tp->n[p] * cf_table_part_size(p);
  t->borrowed = 1;
#ifdef CF_HAVE_POPCNT_CLONE
  t->popcnt = CF_CPU_POPCNT();
#endif
  *out = t;
out:
  free(depth);
  free(pfam);
  return rc;
}

/* ------------------------------------------------------------- spans */

_Static_assert(sizeof(cf_span) == sizeof(cf_cut) &&
                   offsetof(cf_span, hi) == offsetof(cf_cut, hi) &&
                   offsetof(cf_span, lo) == offsetof(cf_cut, lo) &&
                   offsetof(cf_span, val) == offsetof(cf_cut, val),
               "IPv6 change points are handed out as spans");

/* The change points of one family as the sweep computes them, for the
 * review tools; the lookup structure is not built.  The cuts array is
 * reused in place: a cf_span is no larger than a cf_cut, so writing span i
 * never overwrites cut i + 1 before it is read. */
curlfence_code cf_table_spans(cf_spans *out, const cf_ruleset *rs, int v6) {
  cf_builder b;
  cf_span *sp;
  int rc;
  if (!out)
    return CURLFENCE_E_INVAL;
  memset(out, 0, sizeof *out);
  if (!rs || (rs->nrules && !rs->rules))
    return CURLFENCE_E_INVAL;
  if (rs->nrules >= CF_VAL_MAX)
    return CURLFENCE_E_LIMIT;
  memset(&b, 0, sizeof b);
  b.t = calloc(1, sizeof *b.t);
  if (!b.t)
    return CURLFENCE_E_NOMEM;
  b.rs = rs;
  v6 = !!v6;
  rc = sweep(&b, rs, v6);
  if (rc) {
    free(b.cuts);
    free(b.cuts4);
    cf_table_free(b.t);
    return rc == -1 ? CURLFENCE_E_NOMEM : CURLFENCE_E_LIMIT;
  }
  /* IPv6 change points have a cf_span's layout (checked below); IPv4
   * ones are smaller and are widened into a new array. */
  if (v6) {
    sp = (cf_span *)(void *)b.cuts;
    b.cuts = NULL;
  } else {
    sp = malloc((b.ncuts ? b.ncuts : 1) * sizeof *sp);
    for (size_t i = 0; sp && i < b.ncuts; i++) {
      sp[i].hi = (uint64_t)b.cuts4[i].start << 32;
      sp[i].lo = 0;
      sp[i].val = b.cuts4[i].val;
    }
  }
  /* the review tools want the rules of a port set's candidates */
  out->rules = malloc((b.t->ncands ? b.t->ncands : 1) * sizeof *out->rules);
  for (size_t i = 0; out->rules && i < b.t->ncands; i++)
    out->rules[i] = b.t->cands[i].rule;
  free(b.cuts);
  free(b.cuts4);
  if (!sp || !out->rules) {
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
                       uint32_t *n) {
  const cf_pset *ps = &s->t->psets[val & ~CF_PSET];
  *cands = s->rules + ps->off;
  *n = ps->n;
  return ps->w;
}

void cf_spans_free(cf_spans *s) {
  if (!s)
    return;
  free(s->v);
  free(s->rules);
  cf_table_free(s->t);
  memset(s, 0, sizeof *s);
}
