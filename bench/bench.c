/* SPDX-License-Identifier: MIT */
/*
 * bench.c - load time, memory and lookup speed of compiled policies.
 *
 * Every case writes a generated rules file, loads it through the public
 * API and times curlfence_policy_decide() on two key sets: addresses drawn
 * uniformly (the common case for a policy: most destinations match only a
 * short prefix or nothing) and addresses inside random rules (deep paths).
 * The engine alone (cf_table_lookup) and a naive linear libcidr scan are
 * timed in the same run so the numbers compare on a noisy machine: the
 * contenders take turns (see race()) and each keeps its fastest pass.
 *
 * Built with -DCF_BENCH_DPDK (make bench-dpdk) it also builds DPDK rte_lpm /
 * rte_lpm6 from the same rules, times them on the same keys and prints the
 * ratios against the targets.  It never touches the network: EAL runs with
 * --no-pci and no huge pages.
 *
 * The "nat64" case times a decision for an IPv6 address inside a nat64
 * prefix (64:ff9b::/96 embedding the same IPv4 addresses) next to the
 * IPv4 decision, in the same race, with the shipped rules and with a
 * 100k-prefix IPv4 table: target NAT64 <= 2x IPv4.
 *
 * The "hosts" case (hosts.c) times decisions with a host name against
 * decisions without one on a policy of 100,000 host rules.
 *
 * Usage: bench [case ...]   (default: all).  BENCH_DIR picks the directory
 * for the rules files (default /tmp).
 *
 * checksrc: allow LONGFILE the DPDK comparison shares the cases, keys and
 * timing passes of the rest, and is compiled in only for bench-dpdk.
 */
#include "engine/engine.h"
#include "gen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libcidr.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <valgrind/callgrind.h>

#ifdef CF_BENCH_DPDK
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>
#include <rte_memory.h>
#endif

#define NKEYS (1u << 20)
#define PASSES 4
#define MiB (1024.0 * 1024.0)

typedef struct bcase {
  const char *name;
  gen_kind kind;
  size_t n;
  int default_allow;
  double max_load_s;    /* load+compile target, 0: none */
  size_t max_table;     /* table bytes target, 0: none */
  double dpdk_rnd;      /* our/DPDK ns target on random keys, 0: not
                           compared */
  double dpdk_in;       /* the same on keys inside random rules */
  double dpdk_lat;      /* the same, one lookup waiting on the previous
                           (keys inside rules); 0: not measured */
  double dpdk_mem_ratio;
  double dpdk_mem_ref;  /* DPDK memory the target was set against, bytes */
} bcase;

/* The DPDK targets are those of the performance issue: through the public
 * curlfence_policy_decide(), reading struct sockaddr input, against DPDK
 * reading the same input. */
static const bcase cases[] = {
    {"policy-10", GEN_POLICY, 10, 1, 0, 64 * 1024, 0, 0, 0, 0, 0},
    {"bgp4-1k", GEN_BGP4, 1000, 0, 0, 0, 0, 0, 0, 0, 0},
    {"bgp4-100k", GEN_BGP4, 100000, 0, 0.15, 0, 0.8, 1.0, 1.0, 0.1, 66 * MiB},
    {"bgp4-1M", GEN_BGP4, 1000000, 0, 1.0, 0, 1.0, 1.2, 0, 0.15, 0},
    {"block4-100k", GEN_BLOCK4, 100000, 1, 0.15, 0, 0, 0, 0, 0, 0},
    {"bgp6-100k", GEN_BGP6, 100000, 0, 0.15, 0, 0.8, 1.0, 1.0, 0.1,
     256 * MiB},
};

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}


/* Make VmHWM start again from the current RSS (Linux >= 4.0). */
static void reset_peak(void)
{
  FILE *f = fopen("/proc/self/clear_refs", "w");
  if(f) {
    fputs("5", f);
    fclose(f);
  }
}

static const char *pf(int ok)
{
  return ok ? "PASS" : "MISS";
}

typedef struct keys {
  int v6;
  size_t n;
  uint8_t (*addr)[16];
  unsigned *port;
  uint32_t *ip4;                /* host order, for rte_lpm */
  struct sockaddr_in *sin;
  struct sockaddr_in6 *sin6;
} keys;

static int keys_make(keys *k, const bcase *c, const gen_rule *rules,
                     int inside, uint64_t seed)
{
  uint64_t s = seed;
  k->v6 = c->kind == GEN_BGP6;
  k->n = NKEYS;
  k->addr = calloc(k->n, sizeof *k->addr);
  k->port = calloc(k->n, sizeof *k->port);
  k->sin = k->v6 ? NULL : calloc(k->n, sizeof *k->sin);
  k->sin6 = k->v6 ? calloc(k->n, sizeof *k->sin6) : NULL;
  k->ip4 = k->v6 ? NULL : calloc(k->n, sizeof *k->ip4);
  if(!k->addr || !k->port || (!k->sin && !k->sin6) || (!k->v6 && !k->ip4))
    return -1;
  for(size_t i = 0; i < k->n; i++) {
    if(inside && c->n)
      gen_addr_inside(&rules[rnd_next(&s) % c->n], &s, k->addr[i]);
    else
      gen_addr_random(k->v6, &s, k->addr[i]);
    k->port[i] = (i & 1) ? 443 : 80;
    if(k->v6) {
      k->sin6[i].sin6_family = AF_INET6;
      k->sin6[i].sin6_port = htons((uint16_t)k->port[i]);
      memcpy(&k->sin6[i].sin6_addr, k->addr[i], 16);
    }
    else {
      k->sin[i].sin_family = AF_INET;
      k->sin[i].sin_port = htons((uint16_t)k->port[i]);
      memcpy(&k->sin[i].sin_addr, k->addr[i], 4);
      k->ip4[i] = (uint32_t)k->addr[i][0] << 24 |
                  (uint32_t)k->addr[i][1] << 16 |
                  (uint32_t)k->addr[i][2] << 8 | k->addr[i][3];
    }
  }
  return 0;
}

static void keys_free(keys *k)
{
  free(k->addr);
  free(k->port);
  free(k->sin);
  free(k->sin6);
  free(k->ip4);
}

static volatile unsigned long sink;

/* One timed pass over the keys: seconds. */
typedef double (*pass_fn)(const void *ctx, const keys *k);

static double pass_decide(const void *ctx, const keys *k)
{
  const curlfence_policy *p = ctx;
  unsigned long acc = 0;
  double t0 = now();
  if(k->v6)
    for(size_t i = 0; i < k->n; i++)
      acc += curlfence_policy_decide(p, (const struct sockaddr *)&k->sin6[i],
                                     sizeof k->sin6[i], NULL);
  else
    for(size_t i = 0; i < k->n; i++)
      acc += curlfence_policy_decide(p, (const struct sockaddr *)&k->sin[i],
                                     sizeof k->sin[i], NULL);
  sink += acc;
  return now() - t0;
}

/* Latency: each lookup's key depends on the previous answer (through a
 * zero the compiler cannot see), so lookups cannot overlap, as for a
 * program that checks one connection before it makes the next. */
static volatile size_t chain_zero;

static double pass_decide_chain(const void *ctx, const keys *k)
{
  const curlfence_policy *p = ctx;
  size_t z = chain_zero, j = 0;
  unsigned long acc = 0;
  double t0 = now();
  for(size_t i = 0; i < k->n; i++) {
    unsigned r;
    j = (i + j) & (k->n - 1);
    r = k->v6 ? curlfence_policy_decide(
                    p, (const struct sockaddr *)&k->sin6[j], sizeof k->sin6[j],
                    NULL)
              : curlfence_policy_decide(p, (const struct sockaddr *)&k->sin[j],
                                        sizeof k->sin[j], NULL);
    acc += r;
    j = r & z;
  }
  sink += acc;
  return now() - t0;
}

static double pass_engine(const void *ctx, const keys *k)
{
  const curlfence_policy *p = ctx;
  unsigned long acc = 0;
  double t0 = now();
  for(size_t i = 0; i < k->n; i++)
    acc += (unsigned long)cf_table_lookup(p->table, &p->rs, k->v6, k->addr[i],
                                          k->port[i]);
  sink += acc;
  return now() - t0;
}

/* Time the contenders in turn, PASSES rounds, so that each sees the same
 * moments of a shared, noisy machine, and keep each one's fastest pass:
 * the slow passes measure the neighbours, not the code.  Each timed pass
 * follows an untimed one of the same contender, so that it runs with its
 * own table in the caches, as a lookup loop does, not with the previous
 * contender's.  ns[i] is nanoseconds per key for fn[i]. */
static void race(size_t n, const pass_fn *fn, const void *const *ctx,
                 const keys *k, double *ns)
{
  for(size_t i = 0; i < n; i++)
    ns[i] = 1e30;
  for(int round = 0; round < PASSES; round++)
    for(size_t i = 0; i < n; i++) {
      double t;
      fn[i](ctx[i], k);
      t = fn[i](ctx[i], k);
      ns[i] = t < ns[i] ? t : ns[i];
    }
  for(size_t i = 0; i < n; i++)
    ns[i] = ns[i] * 1e9 / (double)k->n;
}

/* The naive alternative: every rule a libcidr block, every lookup a scan
 * for the longest block that contains the address.  Capped at budget
 * seconds; returns ns per lookup. */
static double time_naive(const gen_rule *r, size_t n, const keys *k,
                         double budget)
{
  CIDR **blocks = calloc(n ? n : 1, sizeof *blocks);
  CIDR *key;
  char buf[INET6_ADDRSTRLEN + 8];
  size_t done = 0;
  double t0, el;
  unsigned long acc = 0;
  if(!blocks)
    return -1;
  for(size_t i = 0; i < n; i++) {
    char a[INET6_ADDRSTRLEN];
    inet_ntop(r[i].v6 ? AF_INET6 : AF_INET, r[i].addr, a, sizeof a);
    snprintf(buf, sizeof buf, "%s/%u", a, r[i].plen);
    blocks[i] = cidr_from_str(buf);
  }
  t0 = now();
  do {
    const uint8_t *a = k->addr[done % k->n];
    int best = -1;
    inet_ntop(k->v6 ? AF_INET6 : AF_INET, a, buf, sizeof buf);
    key = cidr_from_str(buf);
    for(size_t i = 0; i < n; i++)
      if(blocks[i] && cidr_contains(blocks[i], key) == 0 &&
         (int)r[i].plen > best)
        best = r[i].plen;
    cidr_free(key);
    acc += (unsigned long)(best + 1);
    done++;
    el = now() - t0;
  } while(el < budget && done < k->n);
  sink += acc;
  for(size_t i = 0; i < n; i++)
    if(blocks[i])
      cidr_free(blocks[i]);
  free(blocks);
  return el * 1e9 / (double)done;
}

#ifdef CF_BENCH_DPDK
static int dpdk_up;

static int dpdk_init(void)
{
  char *argv[] = {"bench", "--no-huge", "--no-pci", "--no-shconf", "-l", "0",
                  "-m", "4096", "--log-level=lib.eal:error", NULL};
  if(rte_eal_init(9, argv) < 0) {
    fprintf(stderr, "bench: rte_eal_init failed: %s\n",
            rte_strerror(rte_errno));
    return -1;
  }
  dpdk_up = 1;
  return 0;
}

static int cmp_u32(const void *a, const void *b)
{
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

typedef struct trunc6 {
  uint8_t depth;
  uint8_t a[16];
} trunc6;

static int cmp_trunc6(const void *a, const void *b)
{
  const trunc6 *x = a, *y = b;
  if(x->depth != y->depth)
    return x->depth < y->depth ? -1 : 1;
  return memcmp(x->a, y->a, 16);
}

/* tbl8 groups the rules need: DPDK wants the number up front. */
static size_t tbl8_needed(const gen_rule *r, size_t n, int v6)
{
  size_t cnt = 0, m = 0;
  if(!v6) {
    uint32_t *b = malloc((n ? n : 1) * sizeof *b);
    for(size_t i = 0; i < n; i++)
      if(r[i].plen > 24)
        b[m++] = (uint32_t)r[i].addr[0] << 16 | (uint32_t)r[i].addr[1] << 8 |
                 r[i].addr[2];
    qsort(b, m, sizeof *b, cmp_u32);
    for(size_t i = 0; i < m; i++)
      cnt += i == 0 || b[i] != b[i - 1];
    free(b);
    return cnt;
  }
  trunc6 *t = malloc((n ? n : 1) * 14 * sizeof *t);
  for(size_t i = 0; i < n; i++)
    for(unsigned d = 24; d < r[i].plen; d += 8) {
      memset(&t[m], 0, sizeof t[m]);
      t[m].depth = (uint8_t)d;
      memcpy(t[m].a, r[i].addr, d / 8);
      m++;
    }
  qsort(t, m, sizeof *t, cmp_trunc6);
  for(size_t i = 0; i < m; i++)
    cnt += i == 0 || cmp_trunc6(&t[i], &t[i - 1]) != 0;
  free(t);
  return cnt;
}

typedef struct dpdk_res {
  double build_s;
  double mem;      /* bytes of its tables, from the sizes it was given */
  double rss;      /* RSS growth while building */
  size_t failed;   /* rules it refused */
  void *lpm;       /* struct rte_lpm or rte_lpm6 */
  pass_fn pass;    /* reading the sockaddr */
  pass_fn plain;   /* the plain key loop: 4-byte host-order keys, or the
                      16 bytes */
  pass_fn chain;   /* pass, one lookup waiting on the previous */
} dpdk_res;

/* The key of the IPv4 sockaddr s, as rte_lpm_lookup() takes it. */
static inline uint32_t sa_key4(const struct sockaddr_in *s)
{
  uint32_t a;
  memcpy(&a, &s->sin_addr, 4);
  return ntohl(a);
}

/* The DPDK passes: a macro, so that each is its own loop with the lookup
 * inlined, as a benchmark needs.  LPM_PASS: every key in turn, KEY(i)
 * the i-th in the form LOOKUP takes; LPM_CHAIN: as pass_decide_chain,
 * each lookup waiting on the previous one's answer. */
#define LPM_PASS(name, type, lookup, KEY)                                  \
  static double name(const void *ctx, const keys *k)                       \
  {                                                                        \
    type *lpm = (type *)(uintptr_t)ctx;                                    \
    unsigned long acc = 0;                                                 \
    double t0 = now();                                                     \
    for(size_t i = 0; i < k->n; i++) {                                     \
      uint32_t nh = 0;                                                     \
      acc += (unsigned long)lookup(lpm, KEY(i), &nh) + nh;                 \
    }                                                                      \
    sink += acc;                                                           \
    return now() - t0;                                                     \
  }
#define LPM_CHAIN(name, type, lookup, KEY)                                 \
  static double name(const void *ctx, const keys *k)                       \
  {                                                                        \
    type *lpm = (type *)(uintptr_t)ctx;                                    \
    size_t z = chain_zero, j = 0;                                          \
    unsigned long acc = 0;                                                 \
    double t0 = now();                                                     \
    for(size_t i = 0; i < k->n; i++) {                                     \
      uint32_t nh = 0;                                                     \
      j = (i + j) & (k->n - 1);                                            \
      nh += (uint32_t)lookup(lpm, KEY(j), &nh);                            \
      acc += nh;                                                           \
      j = nh & z;                                                          \
    }                                                                      \
    sink += acc;                                                           \
    return now() - t0;                                                     \
  }
#define KEY4(i) k->ip4[i]
#define KEY6(i) k->addr[i]
/* DPDK reading what curlfence_policy_decide() reads: the sockaddr. */
#define SA4(i) sa_key4(&k->sin[i])
#define SA6(i) k->sin6[i].sin6_addr.s6_addr

LPM_PASS(pass_lpm4, struct rte_lpm, rte_lpm_lookup, KEY4)
LPM_PASS(pass_lpm6, struct rte_lpm6, rte_lpm6_lookup, KEY6)
LPM_PASS(pass_lpm4_sa, struct rte_lpm, rte_lpm_lookup, SA4)
LPM_PASS(pass_lpm6_sa, struct rte_lpm6, rte_lpm6_lookup, SA6)
LPM_CHAIN(pass_lpm4_chain, struct rte_lpm, rte_lpm_lookup, SA4)
LPM_CHAIN(pass_lpm6_chain, struct rte_lpm6, rte_lpm6_lookup, SA6)

/* Build DPDK's table for the same rules; timed with ours in run_case. */
static int dpdk_build(const bcase *c, const gen_rule *r, dpdk_res *res)
{
  int v6 = c->kind == GEN_BGP6;
  size_t need = tbl8_needed(r, c->n, v6);
  uint32_t ntbl8 = (uint32_t)(need + need / 8 + 256);
  size_t rss0 = gen_proc_kb("/proc/self/status", "VmRSS");
  double t0 = now();
  memset(res, 0, sizeof *res);
  if(!v6) {
    struct rte_lpm_config cfg = {.max_rules = (uint32_t)c->n,
                                 .number_tbl8s = ntbl8, .flags = 0};
    struct rte_lpm *lpm = rte_lpm_create(c->name, SOCKET_ID_ANY, &cfg);
    if(!lpm)
      return -1;
    for(size_t i = 0; i < c->n; i++) {
      uint32_t ip = (uint32_t)r[i].addr[0] << 24 |
                    (uint32_t)r[i].addr[1] << 16 |
                    (uint32_t)r[i].addr[2] << 8 | r[i].addr[3];
      if(rte_lpm_add(lpm, ip, r[i].plen ? r[i].plen : 1, (uint32_t)i) < 0)
        res->failed++;
    }
    res->build_s = now() - t0;
    res->rss = (double)gen_proc_kb("/proc/self/status", "VmRSS") -
               (double)rss0;
    /* tbl24 (2^24 4-byte entries) + tbl8 groups (256 4-byte entries) +
     * rules (8 bytes each): what rte_lpm_create allocates for cfg */
    res->mem = (double)(1u << 24) * 4 + (double)ntbl8 * 256 * 4 +
               (double)cfg.max_rules * 8;
    res->lpm = lpm;
    res->pass = pass_lpm4_sa;
    res->plain = pass_lpm4;
    res->chain = pass_lpm4_chain;
  }
  else {
    struct rte_lpm6_config cfg = {.max_rules = (uint32_t)c->n,
                                  .number_tbl8s = ntbl8, .flags = 0};
    struct rte_lpm6 *lpm = rte_lpm6_create(c->name, SOCKET_ID_ANY, &cfg);
    if(!lpm)
      return -1;
    for(size_t i = 0; i < c->n; i++)
      if(rte_lpm6_add(lpm, r[i].addr, r[i].plen ? r[i].plen : 1,
                      (uint32_t)i) < 0)
        res->failed++;
    res->build_s = now() - t0;
    res->rss = (double)gen_proc_kb("/proc/self/status", "VmRSS") -
               (double)rss0;
    /* tbl24 + tbl8 groups + per-group header and free list (8 bytes);
     * the rules hash is left out, so this flatters DPDK */
    res->mem = (double)(1u << 24) * 4 + (double)ntbl8 * (256 * 4 + 8);
    res->lpm = lpm;
    res->pass = pass_lpm6_sa;
    res->plain = pass_lpm6;
    res->chain = pass_lpm6_chain;
  }
  return 0;
}
static void dpdk_free(dpdk_res *res)
{
  if(res->pass == pass_lpm4_sa)
    rte_lpm_free(res->lpm);
  else if(res->lpm)
    rte_lpm6_free(res->lpm);
}
#endif

/* Under callgrind (make bench-misses): instructions and cache misses
 * per decision from its cache model, which are steady on a shared
 * machine.  Only the timed passes are instrumented (the run starts with
 * --instr-atstart=no); each is preceded by an untimed one so that the
 * model's caches hold what a lookup loop keeps in them. */
static int cachesim;

static void cachesim_case(const bcase *c, const curlfence_policy *p,
                          const keys *rnd, const keys *in)
{
  char label[128];
  CALLGRIND_START_INSTRUMENTATION;
  for(int k = 0; k < 2; k++) {
    const keys *ks = k ? in : rnd;
    pass_decide(p, ks);
    CALLGRIND_ZERO_STATS;
    pass_decide(p, ks);
    snprintf(label, sizeof label, "%s %s decide lookups=%zu", c->name,
             k ? "inside" : "random", ks->n);
    CALLGRIND_DUMP_STATS_AT(label);
  }
  CALLGRIND_STOP_INSTRUMENTATION;
}

/* checksrc: allow LONGFUNC the measurements of one case share its keys and
 * timings, and the DPDK counterpart's, and are printed side by side */
static int run_case(const bcase *c, const char *dir)
{
  char path[1024];
  gen_rule *r = gen_rules(c->kind, c->n, 0xc0ffee ^ (uint64_t)c->n ^
                                            ((uint64_t)c->kind << 40));
  curlfence_policy *p = NULL;
  curlfence_error err;
  keys rnd, in;
  size_t rss0, hwm, tmem;
  double t0, load_s, warm_s, build_s, d_rnd, d_in, e_rnd, e_in, naive;
  double ns_rnd[4], ns_in[4];   /* decide, engine, DPDK, plain DPDK */
  double ns_lat[2] = {0, 0};    /* decide, DPDK: dependent chain */
#ifdef CF_BENCH_DPDK
  dpdk_res dr;
  int have_dpdk = 0;
#endif
  if(!r)
    return -1;
  snprintf(path, sizeof path, "%s/curlfence-bench-%s.rules", dir, c->name);
  if(gen_write_file(path, r, c->n, c->default_allow)) {
    fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
    free(r);
    return -1;
  }
  rss0 = gen_proc_kb("/proc/self/status", "VmRSS");
  reset_peak();
  t0 = now();
  if(curlfence_policy_load_file(&p, path, &err) != CURLFENCE_OK) {
    fprintf(stderr, "bench: %s\n", err.text);
    free(r);
    return -1;
  }
  load_s = now() - t0;
  hwm = gen_proc_kb("/proc/self/status", "VmHWM");
  tmem = cf_table_memory(p->table);
  /* The target is judged on that first, cold load (fresh memory, as an
   * application starting up has); two more show the warm cost, when the
   * allocator hands back memory that is already mapped. */
  warm_s = 1e30;
  for(int again = 0; again < 2; again++) {
    curlfence_policy *q = NULL;
    double t;
    t0 = now();
    if(curlfence_policy_load_file(&q, path, &err) == CURLFENCE_OK) {
      t = now() - t0;
      warm_s = t < warm_s ? t : warm_s;
    }
    curlfence_policy_unref(q);
  }
  unlink(path);
  {
    /* the compile step alone, to tell it from parsing */
    cf_table *again = NULL;
    t0 = now();
    if(cf_table_build(&again, &p->rs) != CURLFENCE_OK)
      fprintf(stderr, "bench: rebuild failed\n");
    build_s = now() - t0;
    cf_table_free(again);
  }

  if(keys_make(&rnd, c, r, 0, 1) || keys_make(&in, c, r, 1, 2)) {
    fprintf(stderr, "bench: out of memory\n");
    return -1;
  }
  if(cachesim) {
    cachesim_case(c, p, &rnd, &in);
    keys_free(&rnd);
    keys_free(&in);
    curlfence_policy_unref(p);
    free(r);
    return 0;
  }
  {
    /* decide, engine, then DPDK reading the sockaddr and DPDK's plain
     * key loop when compared; latency: decide, DPDK */
    pass_fn fn[4] = {pass_decide, pass_engine, NULL, NULL};
    pass_fn lfn[2] = {pass_decide_chain, NULL};
    const void *ctx[4] = {p, p, NULL, NULL};
    size_t nfn = 2, nlfn = 1;
#ifdef CF_BENCH_DPDK
    have_dpdk = c->dpdk_rnd > 0 && dpdk_up && dpdk_build(c, r, &dr) == 0;
    if(have_dpdk) {
      fn[2] = dr.pass;
      fn[3] = dr.plain;
      lfn[1] = dr.chain;
      ctx[2] = ctx[3] = dr.lpm;
      nfn = 4;
      nlfn = 2;
    }
#endif
    race(nfn, fn, ctx, &rnd, ns_rnd);
    race(nfn, fn, ctx, &in, ns_in);
    if(c->dpdk_lat > 0)
      race(nlfn, lfn, ctx + 1, &in, ns_lat); /* ctx[1] is p, ctx[2] DPDK */
    d_rnd = ns_rnd[0];
    d_in = ns_in[0];
    e_rnd = ns_rnd[1];
    e_in = ns_in[1];
  }
  naive = time_naive(r, c->n, &rnd, 0.2);

  printf("%-12s rules %8zu  load+compile %7.3f s (warm %.3f, compile %.3f)  "
         "peak-rss +%7.2f MiB  "
         "table %8.3f MiB  decide ns: random %6.1f inside %6.1f  "
         "(engine %5.1f / %5.1f)  naive-libcidr %.3g ns (x%.0f)\n",
         c->name, c->n, load_s, warm_s, build_s,
         hwm > rss0 ? (double)(hwm - rss0) / MiB : 0.0, (double)tmem / MiB,
         d_rnd, d_in, e_rnd, e_in, naive, naive / d_rnd);
  if(c->dpdk_lat > 0)
    printf("  decide latency (one waiting on the previous, inside): %.1f ns\n",
           ns_lat[0]);
  if(c->max_load_s > 0)
    printf("  target load+compile <= %.2f s: %.3f s %s\n", c->max_load_s,
           load_s, pf(load_s <= c->max_load_s));
  if(c->max_table)
    printf("  target table <= %zu KiB: %.1f KiB %s\n", c->max_table / 1024,
           (double)tmem / 1024, pf(tmem <= c->max_table));
#ifdef CF_BENCH_DPDK
  if(c->dpdk_rnd > 0 && dpdk_up) {
    const char *lib = c->kind == GEN_BGP6 ? "rte_lpm6" : "rte_lpm";
    if(!have_dpdk) {
      printf("  %s: create failed: %s\n", lib, rte_strerror(rte_errno));
    }
    else {
      double l_rnd = ns_rnd[2], l_in = ns_in[2];
      double rr = d_rnd / l_rnd, ri = d_in / l_in;
      double mr = (double)tmem / dr.mem;
      printf("  %-8s build %.3f s  mem %.1f MiB (rss +%.1f)  ns reading the "
             "sockaddr: random %.1f inside %.1f; plain %s key loop: random "
             "%.1f inside %.1f%s\n",
             lib, dr.build_s, dr.mem / MiB, dr.rss / MiB, l_rnd, l_in,
             c->kind == GEN_BGP6 ? "16-byte" : "4-byte", ns_rnd[3], ns_in[3],
             dr.failed ? "  SOME RULES REFUSED" : "");
      printf("  %s: ours/%s ns, decide vs DPDK on the same sockaddrs: "
             "random %.2f %s (target <= %.2f), inside %.2f %s (target <= "
             "%.2f); engine only: %.2f / %.2f; vs the plain loop: %.2f / "
             "%.2f\n",
             c->name, lib, rr, pf(rr <= c->dpdk_rnd), c->dpdk_rnd, ri,
             pf(ri <= c->dpdk_in), c->dpdk_in, e_rnd / l_rnd, e_in / l_in,
             d_rnd / ns_rnd[3], d_in / ns_in[3]);
      if(c->dpdk_lat > 0)
        printf("  %s: ours/%s latency (inside, dependent chain): %.1f / %.1f "
               "ns = %.2f %s (target <= %.2f)\n",
               c->name, lib, ns_lat[0], ns_lat[1], ns_lat[0] / ns_lat[1],
               pf(ns_lat[0] / ns_lat[1] <= c->dpdk_lat), c->dpdk_lat);
      printf("  %s: ours/%s memory: %.4f %s (target <= %.2f)", c->name, lib,
             mr, pf(mr <= c->dpdk_mem_ratio), c->dpdk_mem_ratio);
      if(c->dpdk_mem_ref > 0)
        printf("; vs the %.0f MiB the target names: %.4f %s",
               c->dpdk_mem_ref / MiB,
               (double)tmem / c->dpdk_mem_ref,
               pf((double)tmem / c->dpdk_mem_ref <= c->dpdk_mem_ratio));
      printf("\n");
      dpdk_free(&dr);
    }
  }
#endif
  fflush(stdout);
  keys_free(&rnd);
  keys_free(&in);
  curlfence_policy_unref(p);
  free(r);
  return 0;
}

/* ---------------------------------------------------------------- NAT64 */

/* keys for 64:ff9b::A, A each address of v4 */
static int keys_nat64(keys *k6, const keys *v4)
{
  static const uint8_t wkp[12] = {0, 0x64, 0xff, 0x9b};
  memset(k6, 0, sizeof *k6);
  k6->v6 = 1;
  k6->n = v4->n;
  k6->addr = calloc(k6->n, sizeof *k6->addr);
  k6->port = calloc(k6->n, sizeof *k6->port);
  k6->sin6 = calloc(k6->n, sizeof *k6->sin6);
  if(!k6->addr || !k6->port || !k6->sin6)
    return -1;
  for(size_t i = 0; i < k6->n; i++) {
    memcpy(k6->addr[i], wkp, 12);
    memcpy(k6->addr[i] + 12, v4->addr[i], 4);
    k6->port[i] = v4->port[i];
    k6->sin6[i].sin6_family = AF_INET6;
    k6->sin6[i].sin6_port = htons((uint16_t)k6->port[i]);
    memcpy(&k6->sin6[i].sin6_addr, k6->addr[i], 16);
  }
  return 0;
}

/* Both key sets raced against one policy: ns per decision and lookup. */
static void nat64_line(const char *name, const curlfence_policy *p,
                       const keys *v4, const keys *v6)
{
  /* one race, four contenders: each key set through decide and engine */
  double ns[4];
  const keys *ks[4] = {v4, v6, v4, v6};
  pass_fn fns[4] = {pass_decide, pass_decide, pass_engine, pass_engine};
  for(int i = 0; i < 4; i++)
    ns[i] = 1e30;
  /* twice the rounds of race(): the two numbers are divided, so each
   * minimum has to be a good one */
  for(int round = 0; round < 2 * PASSES; round++)
    for(int i = 0; i < 4; i++) {
      double t;
      fns[i](p, ks[i]);
      t = fns[i](p, ks[i]);
      ns[i] = t < ns[i] ? t : ns[i];
    }
  for(int i = 0; i < 4; i++)
    ns[i] = ns[i] * 1e9 / (double)ks[i]->n;
  printf("%-12s decide ns: IPv4 %6.1f  NAT64 %6.1f  (engine %5.1f / %5.1f)\n"
         "  target NAT64 <= 2x IPv4: decide %.2fx %s, engine %.2fx %s\n",
         name, ns[0], ns[1], ns[2], ns[3], ns[1] / ns[0],
         pf(ns[1] / ns[0] <= 2.0), ns[3] / ns[2], pf(ns[3] / ns[2] <= 2.0));
}

/* The nat64 line of the policy in path; -1 when it does not load. */
static int nat64_file(const char *label, const char *path, const keys *v4,
                      const keys *v6)
{
  curlfence_policy *p = NULL;
  curlfence_error err;
  if(curlfence_policy_load_file(&p, path, &err)) {
    fprintf(stderr, "bench: %s\n", err.text);
    return -1;
  }
  nat64_line(label, p, v4, v6);
  curlfence_policy_unref(p);
  return 0;
}

int bench_hosts(void); /* hosts.c */

static int run_nat64(const char *dir)
{
  static const bcase big = {"nat64", GEN_BGP4, 100000, 0, 0, 0, 0, 0, 0, 0, 0};
  char path[1024];
  gen_rule *r;
  keys v4, v6;
  FILE *f;
  int rc = 0;
  if(keys_make(&v4, &big, NULL, 0, 3) || keys_nat64(&v6, &v4)) {
    fprintf(stderr, "bench: out of memory\n");
    return -1;
  }
  rc = nat64_file("nat64 (rules/default.rules, random IPv4 in 64:ff9b::/96)",
                  "rules/default.rules", &v4, &v6);
  r = gen_rules(GEN_BGP4, big.n, 0xc0ffee ^ big.n);
  snprintf(path, sizeof path, "%s/curlfence-bench-nat64.rules", dir);
  if(!r || gen_write_file(path, r, big.n, 0) || !(f = fopen(path, "a"))) {
    fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
    rc = -1;
  }
  else {
    fputs("nat64 64:ff9b::/96\n", f);
    fclose(f);
    if(nat64_file("nat64 (bgp4-100k + nat64 64:ff9b::/96, random IPv4)",
                  path, &v4, &v6))
      rc = -1;
    unlink(path);
  }
  free(r);
  keys_free(&v4);
  keys_free(&v6);
  fflush(stdout);
  return rc;
}

int main(int argc, char **argv)
{
  const char *dir = getenv("BENCH_DIR");
  int rc = 0;
  if(!dir || !*dir)
    dir = "/tmp";
  cachesim = getenv("BENCH_CACHESIM") != NULL;
#ifdef CF_BENCH_DPDK
  if(dpdk_init())
    return 1;
#endif
  for(size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int want = argc < 2;
    for(int a = 1; a < argc; a++)
      want |= !strcmp(argv[a], cases[i].name);
    if(want && run_case(&cases[i], dir))
      rc = 1;
  }
  {
    int want = argc < 2;
    for(int a = 1; a < argc; a++)
      want |= !strcmp(argv[a], "nat64");
    if(want && run_nat64(dir))
      rc = 1;
    want = argc < 2;
    for(int a = 1; a < argc; a++)
      want |= !strcmp(argv[a], "hosts");
    if(want && bench_hosts())
      rc = 1;
  }
#ifdef CF_BENCH_DPDK
  rte_eal_cleanup();
#endif
  return rc;
}
