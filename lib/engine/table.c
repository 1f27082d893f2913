/* SPDX-License-Identifier: MIT */
/*
 * table.c - the compiled lookup table: same answers as cf_match_linear(),
 * in a handful of memory accesses.  This file has the layout, its costs
 * and the lookups; table_build.c and table_trie.c build tables,
 * table_view.c checks the arrays of a mapped image before a table is
 * made over them, and the review code's spans (lib/review/spans.c) come
 * from the build's sweep.
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
 * index a direct array of 2^S entries (S is chosen per family from its
 * rule count, 8..18, so a ten-rule policy costs a few KiB here and a BGP
 * table 1 MiB for IPv4, 4 MiB for IPv6).  Below it, regions are resolved
 * 6 bits at a time by inner nodes:
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
 * 64 * 4 bytes for a plain 64-way array.  The key is shifted left 6 bits
 * per level, so IPv4 (a 64-bit key with the address on top) and IPv6 (a
 * 128-bit key) share the node walk.  Digits past the end of an address
 * read as zeros; the builder plans for that by working on 128-bit
 * left-aligned keys for both families, and their leaves compress away.
 *
 * IPv4: blocks.  A direct entry is 4 bytes, the offset (in 4-byte units)
 * of a block that resolves the next 6 bits:
 *
 *   block: uint64 runstart; uint32 run[popcount(runstart)]
 *
 * Bit i of `runstart` says digit i starts a run, and the digit's value is
 * run[popcount(runstart & bits 0..i) - 1]: a load, an and, a popcount
 * and a load, with no branch on what the entry holds.  A run value is a
 * value as above, or CF_NAT64 | n (both tag bits: no IPv4 value has them)
 * when the digit holds change points of its own and node n resolves the
 * bits below it; such a digit is a run of its own.  A region of one value
 * is a block of one run, {1, value}, shared by every region of that value
 * (a table holds far fewer distinct values than regions).  Blocks are
 * placed so that one of up to 14 runs does not cross a 64-byte line.
 *
 * IPv6: the direct entries are 16 bytes and hold one of:
 *
 *   VALUE   the whole region has one value;
 *   FLAT    a node whose 64 digits all end in values: its leaf bitmap and
 *           leaf base, inline;
 *   n       the index of the inner node that resolves the next 6 bits.
 *
 * Cost of one lookup.  IPv4 with S = 18 resolves every /24 in the block:
 * two dependent loads (the 1 MiB direct array, which a 1.25 MiB L2 holds
 * at 100k prefixes, then one line of the block), one predictable branch
 * on the run value's tag, and one node level per 6 bits past /24 for the
 * rare longer prefixes (the node, then the leaf).  DPDK's tbl24 is one
 * load, but from 64 MiB, so a miss in every cache; here the miss is the
 * block's line alone.  IPv6: one 16-byte direct load, then per level one
 * 24-byte node load (one cache line most of the time), a popcount and a
 * branch; the last level loads one uint32 from the leaf array.  /48s
 * need 5 levels with S = 18.
 *
 * Memory: IPv4 4 * 2^S, then 8 bytes per block and 4 per run, 12 per
 * distinct single value (later blocks fill the gaps that line alignment
 * leaves); IPv6 16 * 2^S; both 24 * nodes + 4 * runs of their nodes;
 * plus 12 bytes per port set and 12 per port candidate (its rule, port
 * ranges and action, so that a lookup never reads the rule record), in
 * one block (huge pages when it is 2 MiB or more).  Nothing is allocated
 * or locked on lookup.
 *
 * ------------------------------------------------------------------------
 * HOW IT IS BUILT (a radix sort, then one pass: O(n) in rules and output)
 * ------------------------------------------------------------------------
 *
 * 1. Radix-sort the rules of a family by (start, prefix length, portless
 *    first, deny first, index).  Rules with the same prefix are now
 *    adjacent and in rank order, and a prefix comes right after the
 *    prefixes that hold it.
 * 2. Sweep them with a stack of open prefixes (prefixes nest or are
 *    disjoint).  Each prefix's value is computed once from its own rules
 *    and its parent's value; entering or leaving a prefix emits a
 *    (start, value) change point, merging equal neighbours.
 * 3. Build the trie depth first from the sorted change points: a region
 *    with no change point strictly inside it becomes a value, any other
 *    becomes a node (an IPv4 direct entry: a block, its digits' nodes
 *    after it; single values go through a hash set to their shared
 *    block).  Each region is visited once, so the build is linear in the
 *    output.
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
 * decision record in any frame.  IPv6 has a leaf of its own.  Measured
 * with callgrind on the bench's keys (instructions per decision, the
 * bench loop's 12 included; make bench-misses): bgp4-100k random 74 and
 * inside 74 (the 16-byte direct entries before the blocks: 66 and 79,
 * their single values returning after one load but behind a branch),
 * bgp6-100k random 123, inside 205.  Misses per lookup in a 1.25 MiB L2
 * model: bgp4-100k 0.61 random, 0.60 inside (before: 1.10, 0.49);
 * bgp4-1M 1.50 and 1.73 (1.64, 1.91), where DPDK's tbl24 costs one.  At
 * 1M the blocks' lines (8 MiB, read at random) push the 1 MiB direct
 * array out of the L2, so about half of the direct loads miss too; a
 * smaller direct array would spread each block's runs over more lines.
 *
 * popcount: the portable x86-64 baseline has no POPCNT instruction and
 * __builtin_popcountll becomes a libgcc call there, so the walk is
 * compiled twice and cf_table_build picks the POPCNT one when the CPU has
 * it (the choice is stored in the table; there is no global state).
 */
#include "engine.h"
#include "table.h"

#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

static uint32_t walk4(const cf_fam *f, uint64_t key)
{
  CF_WALK4(f, key);
}

static uint32_t walk6(const cf_fam *f, cf_u128 key)
{
  CF_WALK(cf_u128, 128, f, key);
}

#ifdef CF_HAVE_POPCNT_CLONE
__attribute__((target("popcnt"))) static uint32_t
walk4_popcnt(const cf_fam *f, uint64_t key)
{
  CF_WALK4(f, key);
}

__attribute__((target("popcnt"))) static uint32_t
walk6_popcnt(const cf_fam *f, cf_u128 key)
{
  CF_WALK(cf_u128, 128, f, key);
}
#endif

static int port_in(const cf_ruleset *rs, const cf_cand *c, unsigned port)
{
  return port_in_ranges(rs->ports + c->port_off, c->nports & ~CF_ALLOW, port);
}

static inline uint32_t find4(const cf_table *t, uint32_t addr)
{
  uint64_t key = (uint64_t)addr << 32;
#ifdef CF_HAVE_POPCNT_CLONE
  return t->popcnt ? walk4_popcnt(&t->fam[0], key) : walk4(&t->fam[0], key);
#else
  return walk4(&t->fam[0], key);
#endif
}

uint32_t cf_table_find4(const cf_table *t, uint32_t addr)
{
  return find4(t, addr);
}

static uint32_t find6_key(const cf_table *t, cf_u128 key)
{
#ifdef CF_HAVE_POPCNT_CLONE
  return t->popcnt ? walk6_popcnt(&t->fam[1], key) : walk6(&t->fam[1], key);
#else
  return walk6(&t->fam[1], key);
#endif
}

uint32_t cf_table_find6(const cf_table *t, const uint8_t *addr)
{
  uint64_t hi = load_be64(addr), lo = load_be64(addr + 8);
  uint32_t v, a4;
  if(n64_direct(t, hi, lo, &a4))
    return find4(t, a4);
  v = find6_key(t, (cf_u128)hi << 64 | lo);
  if((v & CF_NAT64) == CF_NAT64)
    v = n64_embedded(t, v, hi, lo, &a4) ? find4(t, a4)
                                        : t->n64[v & CF_VAL_MAX].outside;
  return v;
}

CF_FIND_SA_FNS(find_sa_plain, )
#ifdef CF_HAVE_POPCNT_CLONE
CF_FIND_SA_FNS(find_sa_popcnt, __attribute__((target("popcnt"))))

__attribute__((target("popcnt"), noinline)) static uint32_t
find_sa_pc(const cf_table *t, const cf_port_range *ports,
           const struct sockaddr *sa, socklen_t salen)
{
  return find_sa_popcnt(t, ports, sa, salen);
}
#endif

__attribute__((noinline)) static uint32_t
find_sa_pl(const cf_table *t, const cf_port_range *ports,
           const struct sockaddr *sa, socklen_t salen)
{
  return find_sa_plain(t, ports, sa, salen);
}

uint32_t cf_table_find_sa(const cf_table *t, const cf_port_range *ports,
                          const struct sockaddr *sa, socklen_t salen)
{
#ifdef CF_HAVE_POPCNT_CLONE
  if(t->popcnt)
    return find_sa_pc(t, ports, sa, salen);
#endif
  return find_sa_pl(t, ports, sa, salen);
}

/* The self rules after the lookup (rank.c); out of line, so policies
 * without them pay a load and a branch. */
__attribute__((noinline)) static long
self_after(const cf_ruleset *rs, int v6, const uint8_t *addr, int in64,
           uint32_t a4v, unsigned port, long idx, int *allow)
{
  /* decided on the embedded IPv4 address inside a nat64 prefix */
  uint8_t e4[4] = {(uint8_t)(a4v >> 24), (uint8_t)(a4v >> 16),
                   (uint8_t)(a4v >> 8), (uint8_t)a4v};
  return in64 ? cf_self_decide(rs, 0, e4, port, idx, allow, NULL)
              : cf_self_decide(rs, v6, addr, port, idx, allow, NULL);
}

long cf_table_lookup_as(const cf_table *t, const cf_ruleset *rs, int v6,
                        const uint8_t *addr, unsigned port, int *allow,
                        long *nat64, uint8_t *as4)
{
  uint32_t v, a4v = 0;
  int in64 = 0;
  long idx;
  if(nat64)
    *nat64 = -1;
  if(!t || !addr)
    return -1;
  if(!v6) {
    v = cf_table_find4(t, (uint32_t)addr[0] << 24 | (uint32_t)addr[1] << 16 |
                              (uint32_t)addr[2] << 8 | addr[3]);
  }
  else {
    uint64_t hi = load_be64(addr), lo = load_be64(addr + 8);
    uint32_t a4;
    const cf_n64 *n = n64_direct(t, hi, lo, &a4);
    v = n ? CF_NAT64 | n->nat64 : find6_key(t, (cf_u128)hi << 64 | lo);
    if((v & CF_NAT64) == CF_NAT64) {
      if(!n)
        n = n64_embedded(t, v, hi, lo, &a4);
      if(n) {
        v = cf_table_find4(t, a4);
        a4v = a4;
        in64 = 1;
        if(nat64)
          *nat64 = (long)n->nat64;
        if(as4) {
          as4[0] = (uint8_t)(a4 >> 24);
          as4[1] = (uint8_t)(a4 >> 16);
          as4[2] = (uint8_t)(a4 >> 8);
          as4[3] = (uint8_t)a4;
        }
      }
      else {
        v = t->n64[v & CF_VAL_MAX].outside;
      }
    }
  }
  if(v & CF_PSET) {
    const cf_pset *ps = &t->psets[v & ~CF_PSET];
    v = ps->w;
    if(port != 0 && rs) {
      const cf_cand *c = t->cands + ps->off;
      for(uint32_t i = 0; i < ps->n; i++)
        if(port_in(rs, &c[i], port)) {
          v = (c[i].rule + 1) | (c[i].nports & CF_ALLOW);
          break;
        }
    }
  }
  *allow = (v & CF_ALLOW) != 0;
  idx = (long)(v & ~CF_ALLOW) - 1;
  if(rs && rs->nselfv)
    idx = self_after(rs, v6, addr, in64, a4v, port, idx, allow);
  return idx;
}

long cf_table_lookup_action(const cf_table *t, const cf_ruleset *rs, int v6,
                            const uint8_t *addr, unsigned port, int *allow)
{
  return cf_table_lookup_as(t, rs, v6, addr, port, allow, NULL, NULL);
}

long cf_table_lookup(const cf_table *t, const cf_ruleset *rs, int v6,
                     const uint8_t *addr, unsigned port)
{
  int allow;
  return cf_table_lookup_action(t, rs, v6, addr, port, &allow);
}

size_t cf_table_memory(const cf_table *t)
{
  size_t m;
  if(!t)
    return 0;
  if(t->arena || t->borrowed)
    return sizeof *t + t->arena_size;
  m = sizeof *t + t->npsets * sizeof *t->psets +
      t->ncands * sizeof *t->cands + t->nn64 * sizeof *t->n64;
  m += ((size_t)1 << t->fam[0].sbits) * sizeof(uint32_t) +
       t->fam[0].nblocks * sizeof(uint32_t) +
       ((size_t)1 << t->fam[1].sbits) * sizeof(cf_dent);
  for(int f = 0; f < 2; f++)
    m += t->fam[f].nnodes * sizeof(cf_node) +
         t->fam[f].nleaves * sizeof(uint32_t);
  return m;
}

void cf_table_free(cf_table *t)
{
  if(!t)
    return;
  if(t->borrowed || t->arena) {
    free(t->arena);
    free(t);
    return;
  }
  for(int f = 0; f < 2; f++) {
    free(t->fam[f].direct);
    free(t->fam[f].dir4);
    free(t->fam[f].blocks);
    free(t->fam[f].nodes);
    free(t->fam[f].leaves);
  }
  free(t->psets);
  free(t->cands);
  free(t->n64);
  free(t);
}
