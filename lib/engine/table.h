/* SPDX-License-Identifier: MIT */
/*
 * table.h - the compiled table's layout and its lookup, as inline code:
 * table.c looks up, table_build.c and table_trie.c build tables,
 * table_view.c checks the arrays of a mapped image, and the public
 * decision (decide.c) inlines the walk into its fast path; the review
 * code's spans (lib/review/spans.c) use the build's sweep.  The layout is
 * described at the top of table.c.
 */
#ifndef CURLFENCE_TABLE_H
#define CURLFENCE_TABLE_H

#include "engine.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

__extension__ typedef unsigned __int128 cf_u128;

/* direct entry tags; any other tag is the index of an inner node */
#define CF_D_VALUE 0xffffffffu  /* the region has one value: .leaf */
#define CF_D_FLAT 0xfffffffeu   /* an inner node with no inner children,
                                   kept in the entry itself */
/* CF_PSET (port set index follows) and CF_ALLOW (the rule allows, never
 * with CF_PSET) are in engine.h: decide.c reads values directly. */
#define CF_VAL_MAX 0x3fffffffu

typedef struct cf_node {
  uint64_t inner;
  uint64_t leafstart;
  uint32_t child;
  uint32_t leaf;
} cf_node;

/* A direct-array entry.  BGP-like tables rarely go past /24, so with
 * S = 18 most regions that are not a single value hold a node whose
 * digits all end in values; keeping that node's leaf bitmap in the entry
 * saves one dependent load per lookup for 4 extra bytes per entry. */
typedef struct cf_dent {
  uint64_t leafstart; /* CF_D_FLAT: as in cf_node */
  uint32_t leaf;      /* CF_D_VALUE: the value; CF_D_FLAT: leaf base */
  uint32_t tag;
} cf_dent;

typedef struct cf_pset {
  uint32_t w;      /* value of the best portless rule (never a port set) */
  uint32_t off;    /* into cf_table.cands */
  uint32_t n;
} cf_pset;

/* A port candidate carries what matching it needs, so that a lookup with
 * a port reads the port ranges but never the (large, cold) rule record. */
typedef struct cf_cand {
  uint32_t rule;
  uint32_t port_off;  /* its ranges: ports[port_off .. port_off + n) */
  uint32_t nports;    /* n, with CF_ALLOW set when the rule allows */
} cf_cand;

typedef struct cf_n64 {
  uint64_t hi, lo;   /* the prefix, host bits clear */
  uint64_t mhi, mlo; /* its mask */
  uint32_t outside;  /* value of the addresses not in it (never NAT64) */
  uint32_t nat64;    /* index into cf_ruleset.nat64 */
  uint8_t plen;
  uint8_t shift;     /* see n64_embedded() */
  uint8_t pad_[6];
} cf_n64;

typedef struct cf_fam {
  unsigned sbits;
  cf_dent *direct;   /* IPv6: 2^sbits entries */
  uint32_t *dir4;    /* IPv4: 2^sbits block offsets, in blocks */
  uint32_t *blocks;  /* IPv4: run bitmaps and run values, 4-byte units */
  size_t nblocks, capblocks;
  cf_node *nodes;
  size_t nnodes, capnodes;
  uint32_t *leaves;
  size_t nleaves, capleaves;
} cf_fam;

struct cf_table {
  cf_fam fam[2];     /* [0] IPv4, [1] IPv6 */
  cf_pset *psets;
  size_t npsets, cappsets;
  cf_cand *cands;
  size_t ncands, capcands;
  cf_n64 *n64;       /* [0, nnat64): the declared prefixes, then early
                        stops */
  size_t nn64, capn64;
  int popcnt;        /* the CPU has POPCNT */
  void *arena;       /* all the arrays above, once built */
  size_t arena_size;
  int borrowed;      /* the arrays belong to an image mapping */
};


/* ------------------------------------------------------------- build */

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

/* The change points of family v6 of rs as the build's sweep computes them
 * (table_build.c), without the trie: IPv6 ones in *cuts, IPv4 ones in
 * *cuts4, *ncuts of them, in address order.  t, an empty table, receives
 * the port sets and candidates their values refer to.  0, or -1 when out
 * of memory, -2 past a limit; the caller frees *cuts and *cuts4 in any
 * case. */
int cf_table_sweep(cf_table *t, const cf_ruleset *rs, int v6, cf_cut **cuts,
                   cf_cut4 **cuts4, size_t *ncuts);

/* What table_build.c and table_trie.c share while building: the
 * table, the rules, and the change points of the family being built. */
typedef struct cf_builder {
  cf_table *t;
  const cf_ruleset *rs;
  int v4;            /* the family being built uses cuts4 */
  size_t nnat64;     /* records [0, nnat64) of t->n64 are the prefixes */
  cf_cut *cuts;
  cf_cut4 *cuts4;
  size_t ncuts, capcuts, capcuts4;
  /* the sorted keys the sweep reads: k (IPv6), or k4 (IPv4) with group,
   * room for capgroup of them made into cf_keys */
  const struct cf_key *k;
  const uint64_t *k4;
  struct cf_key *group;
  size_t capgroup;
} cf_builder;

/* The start and value of change point i. */
static inline cf_u128 cut_start(const cf_builder *b, size_t i)
{
  if(b->v4)
    return (cf_u128)b->cuts4[i].start << 96;
  return (cf_u128)b->cuts[i].hi << 64 | b->cuts[i].lo;
}

static inline uint32_t cut_val(const cf_builder *b, size_t i)
{
  return b->v4 ? b->cuts4[i].val : b->cuts[i].val;
}

/* table_trie.c, step 3 (each described there): the region of a digit,
 * a node and the nodes below it, the IPv4 direct array and blocks.  0 or
 * 1 as described, -1 when out of memory, -2 past a limit. */
int cf_build_region(cf_builder *b, size_t *p, cf_u128 s, cf_u128 size,
                    uint32_t *val, int *es);
int cf_build_node(cf_builder *b, cf_fam *f, size_t ni, cf_u128 base,
                  unsigned off, size_t p);
int cf_build_blocks4(cf_builder *b, cf_fam *f);

/* The NAT64 record of declared prefix i (d); -1 for a length RFC 6052
 * does not define.  The build makes them, and an image's are checked
 * against them. */
int cf_table_n64_record(const cf_nat64 *d, size_t i, cf_n64 *r);

/* ------------------------------------------------------------ lookup */

/* From node n_ on, the key k_ at its digit: returns the leaf value. */
#define CF_WALK_NODES(KEYBITS, f, n_, k_)                                     \
  for(;;) {                                                                   \
    unsigned i_ = (unsigned)((k_) >> ((KEYBITS) - 6));                        \
    uint64_t upto_ = (2ull << i_) - 1; /* bits 0..i_; i_ = 63 wraps */        \
    if((n_)->inner & (1ull << i_)) {                                          \
      (n_) = &(f)->nodes[(n_)->child +                                        \
                         (uint32_t)__builtin_popcountll((n_)->inner &         \
                                                        upto_) - 1];          \
      (k_) <<= 6;                                                             \
    }                                                                         \
    else {                                                                    \
      return (f)->leaves[(n_)->leaf +                                         \
                         (uint32_t)__builtin_popcountll((n_)->leafstart &     \
                                                        upto_) - 1];          \
    }                                                                         \
  }

/* The IPv6 walk, written once; the callers below only differ in the
 * target ISA the compiler may use. */
#define CF_WALK(KEYT, KEYBITS, f, key)                                        \
  do {                                                                        \
    KEYT k_ = (key);                                                          \
    const cf_dent *d_ =                                                       \
      &(f)->direct[(size_t)(k_ >> ((KEYBITS) - (f)->sbits))];                 \
    const cf_node *n_;                                                        \
    if(d_->tag == CF_D_VALUE)                                                 \
      return d_->leaf;                                                        \
    k_ <<= (f)->sbits;                                                        \
    if(d_->tag == CF_D_FLAT) {                                                \
      unsigned i_ = (unsigned)(k_ >> ((KEYBITS) - 6));                        \
      uint64_t upto_ = (2ull << i_) - 1;                                      \
      return (f)->leaves[d_->leaf +                                           \
                         (uint32_t)__builtin_popcountll(d_->leafstart &       \
                                                        upto_) - 1];          \
    }                                                                         \
    n_ = &(f)->nodes[d_->tag];                                                \
    CF_WALK_NODES(KEYBITS, f, n_, k_);                                        \
  } while(0)

/* IPv4 (key: the address in the top 32 bits): the direct entry names a
 * block, whose run bitmap (units 0-1) and run values (from unit 2)
 * resolve the next 6 bits with no branch; a run value with both tag bits
 * (CF_NAT64, which no IPv4 value has) is a node for the bits below. */
#define CF_WALK4(f, key)                                                      \
  do {                                                                        \
    uint64_t k_ = (key), bm_;                                                 \
    const uint32_t *b_ = (f)->blocks + (f)->dir4[k_ >> (64 - (f)->sbits)];    \
    const cf_node *n_;                                                        \
    uint32_t v_;                                                              \
    memcpy(&bm_, b_, sizeof bm_);                                             \
    k_ <<= (f)->sbits;                                                        \
    v_ = b_[1 + (uint32_t)__builtin_popcountll(                               \
                    bm_ & ((2ull << (unsigned)(k_ >> 58)) - 1))];             \
    if((v_ & CF_NAT64) != CF_NAT64)                                           \
      return v_;                                                              \
    k_ <<= 6;                                                                 \
    n_ = &(f)->nodes[v_ & CF_VAL_MAX];                                        \
    CF_WALK_NODES(64, f, n_, k_);                                             \
  } while(0)

/* The x86-64 baseline has no POPCNT: lookups are compiled twice, and the
 * table says which one the CPU can run (cf_table.popcnt). */
#if defined(__x86_64__) && defined(__GNUC__)
#define CF_HAVE_POPCNT_CLONE 1

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

/* Spelled out rather than a loop: gcc -O2 does not unroll the loop, so it
 * stays 8 dependent byte steps; this form becomes one load and a bswap,
 * and forced inline, since gcc otherwise calls it from find6. */
__attribute__((always_inline)) static inline uint64_t
load_be64(const uint8_t *p)
{
  return (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 | (uint64_t)p[2] << 40 |
         (uint64_t)p[3] << 32 | (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 |
         (uint64_t)p[6] << 8 | p[7];
}

__attribute__((always_inline)) static inline int
port_in_ranges(const cf_port_range *pr, uint32_t n, unsigned port)
{
  for(uint32_t i = 0; i < n; i++)
    if(port >= pr[i].lo && port <= pr[i].hi)
      return 1;
  return 0;
}

/* A NAT64 value for key: the embedded IPv4 address (host order) in *a4
 * and the record, or NULL when key lies outside its prefix.  Plain 64-bit
 * words: 128-bit shifts by a variable cost more than the rest. */
__attribute__((always_inline)) static inline const cf_n64 *
n64_embedded(const cf_table *t, uint32_t v, uint64_t hi, uint64_t lo,
             uint32_t *a4)
{
  const cf_n64 *n = &t->n64[v & CF_VAL_MAX];
  if(((hi ^ n->hi) & n->mhi) | ((lo ^ n->lo) & n->mlo))
    return NULL;
  /* /96: the last 32 bits.  /32 to /64: the address bits 32-63 and 72-103
   * (the "u" octet dropped) make one 64-bit word, and the IPv4 address
   * ends shift bits from its end. */
  if(n->plen == 96)
    *a4 = (uint32_t)lo;
  else
    *a4 = (uint32_t)((hi << 32 | (lo >> 24 & 0xffffffffu)) >> n->shift);
  return n;
}

/* The declared prefix the direct entry of key names, when key lies in
 * it (see "NAT64 prefixes" above): the answer without the walk. */
__attribute__((always_inline)) static inline const cf_n64 *
n64_direct(const cf_table *t, uint64_t hi, uint64_t lo, uint32_t *a4)
{
  const cf_fam *f = &t->fam[1];
  const cf_dent *d = &f->direct[(size_t)(hi >> (64 - f->sbits))];
  if(d->tag >= CF_D_FLAT || !d->leaf)
    return NULL;
  return n64_embedded(t, d->leaf, hi, lo, a4);
}

/* ------------------------------------------------- the public fast path */

/* The walks as inline code, for the leaf functions below: a function
 * inlined into one compiled for POPCNT gets the instruction too. */
__attribute__((always_inline)) static inline uint32_t
walk4_in(const cf_fam *f, uint64_t key)
{
  CF_WALK4(f, key);
}

__attribute__((always_inline)) static inline uint32_t
walk6_in(const cf_fam *f, cf_u128 key)
{
  CF_WALK(cf_u128, 128, f, key);
}

/* A value with CF_PSET resolved for the port in network order, as
 * cf_table_lookup_as() does, with the candidates read in place. */
__attribute__((always_inline)) static inline uint32_t
pset_port(const cf_table *t, const cf_port_range *ports, uint32_t v,
          uint16_t nport)
{
  const cf_pset *ps = &t->psets[v & ~CF_PSET];
  const cf_cand *c = t->cands + ps->off;
  unsigned port = ntohs(nport);
  v = ps->w;
  for(uint32_t i = 0; port && i < ps->n; i++)
    if(port_in_ranges(ports + c[i].port_off, c[i].nports & ~CF_ALLOW,
                      port))
      return (c[i].rule + 1) | (c[i].nports & CF_ALLOW);
  return v;
}

/* IPv6 (mapped and nat64 addresses as IPv4), for find_sa. */
__attribute__((always_inline)) static inline uint32_t
find6_sa(const cf_table *t, const cf_port_range *ports, const char *b)
{
  const uint8_t *a = (const uint8_t *)b +
                     offsetof(struct sockaddr_in6, sin6_addr);
  uint64_t hi = load_be64(a), lo = load_be64(a + 8);
  uint16_t nport;
  uint32_t v, a4;
  memcpy(&nport, b + offsetof(struct sockaddr_in6, sin6_port), sizeof nport);
  if(hi == 0 && lo >> 32 == 0xffffu)  /* IPv4-mapped */
    v = walk4_in(&t->fam[0], lo << 32);
  else if(n64_direct(t, hi, lo, &a4))
    v = walk4_in(&t->fam[0], (uint64_t)a4 << 32);
  else {
    v = walk6_in(&t->fam[1], (cf_u128)hi << 64 | lo);
    if((v & CF_NAT64) == CF_NAT64)
      v = n64_embedded(t, v, hi, lo, &a4)
              ? walk4_in(&t->fam[0], (uint64_t)a4 << 32)
              : t->n64[v & CF_VAL_MAX].outside;
  }
  return v & CF_PSET ? pset_port(t, ports, v, nport) : v;
}

/* IPv4 from a sockaddr_in at b (length checked), for the fast paths. */
__attribute__((always_inline)) static inline uint32_t
find4_sa(const cf_table *t, const cf_port_range *ports, const char *b)
{
  uint16_t nport;
  uint32_t a, v;
  memcpy(&a, b + offsetof(struct sockaddr_in, sin_addr), sizeof a);
  memcpy(&nport, b + offsetof(struct sockaddr_in, sin_port), sizeof nport);
  v = walk4_in(&t->fam[0], (uint64_t)ntohl(a) << 32);
  return v & CF_PSET ? pset_port(t, ports, v, nport) : v;
}


/* The value for an IPv4 or IPv6 sockaddr, as cf_table_find_sa() (in
 * engine.h) describes it, for one popcount flavour (ATTR: its target
 * attribute): NAME is inlined into its caller, which stays a leaf on the
 * IPv4 path; IPv6, which needs many registers, is a call to NAME##6, a
 * leaf of its own. */
#define CF_FIND_SA_FNS(NAME, ATTR)                                            \
  ATTR __attribute__((noinline)) static uint32_t NAME##6(                     \
      const cf_table *t, const cf_port_range *ports, const char *b) {         \
    return find6_sa(t, ports, b);                                             \
  }                                                                           \
  ATTR __attribute__((always_inline)) static inline uint32_t NAME(            \
      const cf_table *t, const cf_port_range *ports,                          \
      const struct sockaddr *sa, socklen_t salen) {                           \
    const char *b = (const char *)sa;                                         \
    sa_family_t fam;                                                          \
    if(salen < (socklen_t)sizeof(struct sockaddr_in))                         \
      return CF_FIND_SLOW;                                                    \
    memcpy(&fam, b + offsetof(struct sockaddr, sa_family), sizeof fam);       \
    if(fam == AF_INET)                                                        \
      return find4_sa(t, ports, b);                                           \
    if(fam == AF_INET6 && salen >= (socklen_t)sizeof(struct sockaddr_in6))    \
      return NAME##6(t, ports, b);                                            \
    return CF_FIND_SLOW;                                                      \
  }

#endif
