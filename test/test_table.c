/* SPDX-License-Identifier: MIT */
/*
 * test_table.c - the compiled table against the reference matcher.
 *
 * Random rule sets are built by hand (no parser involved) so that the
 * prefixes nest, touch and overlap far more often than in real files, and
 * every probe's deciding rule must be the one cf_match_linear() picks.
 *
 * Replay a failure with CURLFENCE_SEED=<seed printed>.  CURLFENCE_TEST_QUICK
 * (set by `make valgrind`) scales the iterations down.
 */
#include "engine/engine.h"
#include "testutil.h"
#include "rand.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t base_seed;
static int quick;

static void suite_init(void);
TU_SUITE_STATIC_ONLY("table", suite_init);
TU_CASE(tc_edges, "edges", 0, NULL, NULL);

/* ------------------------------------------------ hand-built rule sets */

typedef struct tset {
  cf_ruleset rs;
  size_t caprules, capports;
} tset;

static void tset_init(tset *t)
{
  memset(t, 0, sizeof *t);
}

static void tset_free(tset *t)
{
  free(t->rs.rules);
  free(t->rs.ports);
  free(t->rs.nat64);
  memset(t, 0, sizeof *t);
}

static void mask_addr(uint8_t *a, int v6, unsigned plen)
{
  cf_prefix_mask(a, a, plen, v6 ? 16 : 4);
  if(!v6)
    memset(a + 4, 0, 12);
}

/* Append a rule; ports is a list of nports {lo, hi} pairs. */
static size_t add_rule(tset *t, int v6, const uint8_t *addr, unsigned plen,
                       int action, const cf_port_range *ports, unsigned nports)
{
  cf_rule *r;
  if(t->rs.nrules == t->caprules) {
    t->caprules = t->caprules ? 2 * t->caprules : 16;
    t->rs.rules = realloc(t->rs.rules, t->caprules * sizeof *t->rs.rules);
    ck_assert_ptr_nonnull(t->rs.rules);
  }
  while(t->rs.nports + nports > t->capports) {
    t->capports = t->capports ? 2 * t->capports : 16;
    t->rs.ports = realloc(t->rs.ports, t->capports * sizeof *t->rs.ports);
    ck_assert_ptr_nonnull(t->rs.ports);
  }
  r = &t->rs.rules[t->rs.nrules];
  memset(r, 0, sizeof *r);
  memcpy(r->addr, addr, v6 ? 16 : 4);
  r->v6 = (uint8_t)v6;
  r->plen = (uint8_t)plen;
  mask_addr(r->addr, v6, plen);
  r->action = (uint8_t)action;
  r->port_off = (uint32_t)t->rs.nports;
  r->nports = nports;
  r->line = (uint32_t)t->rs.nrules + 1;
  if(nports)
    memcpy(t->rs.ports + t->rs.nports, ports, nports * sizeof *ports);
  t->rs.nports += nports;
  return t->rs.nrules++;
}

/* Declare a nat64 prefix (host bits are cleared). */
static void add_nat64(tset *t, const uint8_t *prefix, unsigned plen)
{
  cf_nat64 *d;
  t->rs.nat64 = realloc(t->rs.nat64, (t->rs.nnat64 + 1) * sizeof *d);
  ck_assert_ptr_nonnull(t->rs.nat64);
  d = &t->rs.nat64[t->rs.nnat64++];
  memset(d, 0, sizeof *d);
  memcpy(d->prefix, prefix, 16);
  mask_addr(d->prefix, 1, plen);
  d->plen = (uint8_t)plen;
}

static cf_table *build_ok(const tset *t)
{
  cf_table *tab = NULL;
  ck_assert_int_eq(cf_table_build(&tab, &t->rs), CURLFENCE_OK);
  ck_assert_ptr_nonnull(tab);
  return tab;
}

static void fmt_addr(char *buf, size_t n, int v6, const uint8_t *a)
{
  size_t o = 0;
  if(!v6) {
    snprintf(buf, n, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
    return;
  }
  for(int i = 0; i < 16 && o + 6 < n; i += 2)
    o += (size_t)snprintf(buf + o, n - o, "%s%02x%02x", i ? ":" : "", a[i],
                          a[i + 1]);
}

/* cf_table_find_sa() on addr; 4 bytes in AF_INET6 are IPv4-mapped */
static uint32_t find_sa(const cf_table *tab, const cf_ruleset *rs, int family,
                        const uint8_t *addr, size_t len, unsigned port)
{
  struct sockaddr_in sin = { .sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port) };
  struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6,
                               .sin6_port = htons((uint16_t)port) };
  memcpy(&sin.sin_addr, addr, 4);
  memcpy(&sin6.sin6_addr.s6_addr[16 - len], addr, len);
  if(len == 4)
    sin6.sin6_addr.s6_addr[10] = sin6.sin6_addr.s6_addr[11] = 0xff;
  if(family == AF_INET)
    return cf_table_find_sa(tab, rs->ports, (struct sockaddr *)&sin,
                            sizeof sin);
  return cf_table_find_sa(tab, rs->ports, (struct sockaddr *)&sin6,
                          sizeof sin6);
}

/* One probe: both matchers must pick the same rule, and the action the
 * table stores with it must be that rule's. */
static void probe(const tset *t, const cf_table *tab, int v6,
                  const uint8_t *addr, unsigned port, uint64_t seed)
{
  long want = cf_match_linear(&t->rs, v6, addr, port);
  int allow = -1;
  long n64 = -2, want64 = v6 ? cf_nat64_find(&t->rs, addr) : -1;
  uint8_t as4[4] = {0}, want4[4] = {0};
  long got = cf_table_lookup_as(tab, &t->rs, v6, addr, port, &allow, &n64,
                                as4);
  uint32_t fast, fast_mapped = 0, want_val;
  if(want64 >= 0)
    cf_nat64_extract(t->rs.nat64[want64].plen, addr, want4);
  /* the public decision's leaf path reads the sockaddr as given: IPv4,
   * IPv4-mapped IPv6 and IPv6 (nat64 decided as IPv4 inside it) */
  want_val = want < 0 ? 0
             : (uint32_t)(want + 1) |
                   (t->rs.rules[want].action == CURLFENCE_ALLOW ? CF_ALLOW
                                                                : 0);
  if(!v6) {
    fast = find_sa(tab, &t->rs, AF_INET, addr, 4, port);
    fast_mapped = find_sa(tab, &t->rs, AF_INET6, addr, 4, port);
  }
  else {
    fast = find_sa(tab, &t->rs, AF_INET6, addr, 16, port);
    /* an IPv4-mapped address is the IPv4 rules' (callers unmap it
     * before the reference sees it) */
    if(memcmp(addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)
      want_val = fast;
    fast_mapped = want_val;
  }
  if(fast != want_val || fast_mapped != want_val) {
    char buf[64];
    fmt_addr(buf, sizeof buf, v6, addr);
    ck_abort_msg("seed %" PRIu64 " (CURLFENCE_SEED=%" PRIu64
                 "): %s port %u: the sockaddr path says %08x (mapped %08x), "
                 "reference rule %ld (%08x)",
                 seed, base_seed, buf, port, fast, fast_mapped, want,
                 want_val);
  }
  if(want != got || n64 != want64 || memcmp(as4, want4, 4) != 0 ||
     (got >= 0 && allow != (t->rs.rules[got].action == CURLFENCE_ALLOW))) {
    char buf[64];
    fmt_addr(buf, sizeof buf, v6, addr);
    ck_abort_msg("seed %" PRIu64 " (CURLFENCE_SEED=%" PRIu64
                 "): %s port %u: table says rule %ld (allow %d), reference "
                 "%ld (%zu rules); nat64 %ld as %u.%u.%u.%u, reference %ld",
                 seed, base_seed, buf, port, got, allow, want, t->rs.nrules,
                 n64, as4[0], as4[1], as4[2], as4[3], want64);
  }
}

/* ----------------------------------------------------- edge cases */

static const uint8_t zero16[16];
static const uint8_t ones16[16] = {255, 255, 255, 255, 255, 255, 255, 255,
                                   255, 255, 255, 255, 255, 255, 255, 255};

TU_TEST(tc_edges, empty_table)
{
  tset t;
  cf_table *tab;
  tset_init(&t);
  tab = build_ok(&t);
  ck_assert_int_eq(cf_table_lookup(tab, &t.rs, 0, zero16, 0), -1);
  ck_assert_int_eq(cf_table_lookup(tab, &t.rs, 0, ones16, 443), -1);
  ck_assert_int_eq(cf_table_lookup(tab, &t.rs, 1, zero16, 0), -1);
  ck_assert_int_eq(cf_table_lookup(tab, &t.rs, 1, ones16, 65535), -1);
  ck_assert_uint_gt(cf_table_memory(tab), 0);
  ck_assert_uint_le(cf_table_memory(tab), 64 * 1024);
  cf_table_free(tab);
  cf_table_free(NULL);
  tset_free(&t);
}
END_TEST

TU_TEST(tc_edges, only_default)
{
  tset t;
  cf_table *tab;
  tset_init(&t);
  t.rs.dflt.set = 1;
  t.rs.dflt.action = CURLFENCE_ALLOW;
  tab = build_ok(&t);
  ck_assert_int_eq(cf_table_lookup(tab, &t.rs, 0, ones16, 80), -1);
  ck_assert_int_eq(cf_table_lookup(tab, &t.rs, 1, ones16, 80), -1);
  cf_table_free(tab);
  tset_free(&t);
}
END_TEST

TU_TEST(tc_edges, slash0_and_host_routes)
{
  tset t;
  cf_table *tab;
  uint8_t a[16] = {0};
  cf_port_range p443 = {443, 443};
  tset_init(&t);
  add_rule(&t, 0, zero16, 0, CURLFENCE_ALLOW, NULL, 0);   /* 0 */
  add_rule(&t, 0, zero16, 32, CURLFENCE_DENY, NULL, 0);   /* 1: 0.0.0.0 */
  add_rule(&t, 0, ones16, 32, CURLFENCE_DENY, NULL, 0);   /* 2: bcast */
  add_rule(&t, 1, zero16, 0, CURLFENCE_DENY, NULL, 0);    /* 3: ::/0 */
  add_rule(&t, 1, zero16, 128, CURLFENCE_ALLOW, NULL, 0); /* 4: :: */
  add_rule(&t, 1, ones16, 128, CURLFENCE_ALLOW, &p443, 1);/* 5: ff..ff 443 */
  add_rule(&t, 1, ones16, 127, CURLFENCE_ALLOW, NULL, 0); /* 6 */
  tab = build_ok(&t);
  ck_assert_int_eq(cf_table_lookup(tab, &t.rs, 0, zero16, 0), 1);
  ck_assert_int_eq(cf_table_lookup(tab, &t.rs, 0, ones16, 0), 2);
  a[3] = 1;
  ck_assert_int_eq(cf_table_lookup(tab, &t.rs, 0, a, 0), 0);
  ck_assert_int_eq(cf_table_lookup(tab, &t.rs, 1, zero16, 0), 4);
  ck_assert_int_eq(cf_table_lookup(tab, &t.rs, 1, a, 0), 3);
  ck_assert_int_eq(cf_table_lookup(tab, &t.rs, 1, ones16, 443), 5);
  ck_assert_int_eq(cf_table_lookup(tab, &t.rs, 1, ones16, 444), 6);
  ck_assert_int_eq(cf_table_lookup(tab, &t.rs, 1, ones16, 0), 6);
  /* everything the reference says, at the extremes */
  for(unsigned port = 0; port < 2; port++) {
    probe(&t, tab, 0, zero16, port ? 443 : 0, 0);
    probe(&t, tab, 0, ones16, port ? 443 : 0, 0);
    probe(&t, tab, 1, zero16, port ? 443 : 0, 0);
    probe(&t, tab, 1, ones16, port ? 443 : 0, 0);
  }
  cf_table_free(tab);
  tset_free(&t);
}
END_TEST

TU_TEST(tc_edges, nested_and_adjacent)
{
  tset t;
  cf_table *tab;
  uint8_t a[16] = {10, 0, 0, 0};
  cf_port_range web[2] = {{80, 80}, {443, 443}};
  tset_init(&t);
  add_rule(&t, 0, a, 8, CURLFENCE_DENY, NULL, 0);          /* 0 10/8 */
  a[1] = 1;
  add_rule(&t, 0, a, 16, CURLFENCE_ALLOW, NULL, 0);        /* 1 10.1/16 */
  add_rule(&t, 0, a, 16, CURLFENCE_DENY, web, 2);          /* 2 same, ports */
  a[1] = 2;
  add_rule(&t, 0, a, 16, CURLFENCE_ALLOW, NULL, 0);        /* 3 10.2/16 */
  add_rule(&t, 0, a, 16, CURLFENCE_DENY, NULL, 0);         /* 4 deny wins */
  a[1] = 0;
  add_rule(&t, 0, a, 9, CURLFENCE_ALLOW, web, 1);          /* 5 10/9 :80 */
  tab = build_ok(&t);
  a[1] = 1;
  a[3] = 7;
  ck_assert_int_eq(cf_table_lookup(tab, &t.rs, 0, a, 0), 1);
  ck_assert_int_eq(cf_table_lookup(tab, &t.rs, 0, a, 443), 2);
  ck_assert_int_eq(cf_table_lookup(tab, &t.rs, 0, a, 22), 1);
  a[1] = 2;
  ck_assert_int_eq(cf_table_lookup(tab, &t.rs, 0, a, 80), 4);
  a[1] = 3;
  ck_assert_int_eq(cf_table_lookup(tab, &t.rs, 0, a, 80), 5);
  ck_assert_int_eq(cf_table_lookup(tab, &t.rs, 0, a, 81), 0);
  a[1] = 200;
  ck_assert_int_eq(cf_table_lookup(tab, &t.rs, 0, a, 80), 0);
  a[0] = 11;
  ck_assert_int_eq(cf_table_lookup(tab, &t.rs, 0, a, 80), -1);
  a[0] = 9;
  a[1] = a[2] = a[3] = 255;
  ck_assert_int_eq(cf_table_lookup(tab, &t.rs, 0, a, 80), -1);
  /* the other family is untouched */
  ck_assert_int_eq(cf_table_lookup(tab, &t.rs, 1, zero16, 80), -1);
  cf_table_free(tab);
  tset_free(&t);
}
END_TEST

/* ------------------------------------------------------------ NAT64 */

static void add_or_sub_one(uint8_t *a, unsigned n, int up)
{
  for(int i = (int)n - 1; i >= 0; i--) {
    if(up) {
      if(++a[i] != 0)
        return;
    }
    else {
      if(a[i]-- != 0)
        return;
    }
  }
}


/* RFC 6052 section 2.4: 192.0.2.33 under each prefix length. */
static const struct {
  unsigned plen;
  uint8_t prefix[16];
  uint8_t addr[16];
} rfc6052[] = {
  {32, {0x20, 0x01, 0x0d, 0xb8},
   {0x20, 0x01, 0x0d, 0xb8, 0xc0, 0x00, 0x02, 0x21}},
  {40, {0x20, 0x01, 0x0d, 0xb8, 0x01},
   {0x20, 0x01, 0x0d, 0xb8, 0x01, 0xc0, 0x00, 0x02, 0x00, 0x21}},
  {48, {0x20, 0x01, 0x0d, 0xb8, 0x01, 0x22},
   {0x20, 0x01, 0x0d, 0xb8, 0x01, 0x22, 0xc0, 0x00, 0x00, 0x02, 0x21}},
  {56, {0x20, 0x01, 0x0d, 0xb8, 0x01, 0x22, 0x03},
   {0x20, 0x01, 0x0d, 0xb8, 0x01, 0x22, 0x03, 0xc0, 0x00, 0x00, 0x02, 0x21}},
  {64, {0x20, 0x01, 0x0d, 0xb8, 0x01, 0x22, 0x03, 0x44},
   {0x20, 0x01, 0x0d, 0xb8, 0x01, 0x22, 0x03, 0x44, 0x00, 0xc0, 0x00, 0x02,
    0x21}},
  {96, {0x20, 0x01, 0x0d, 0xb8, 0x01, 0x22, 0x03, 0x44},
   {0x20, 0x01, 0x0d, 0xb8, 0x01, 0x22, 0x03, 0x44, 0, 0, 0, 0, 0xc0, 0x00,
    0x02, 0x21}},
};

/* Every layout: the RFC's example, both ends of the embedded range, the
 * "u" octet and the suffix ignored, and the IPv6 rules just outside. */
TU_LOOP(tc_edges, nat64_layouts, 0,
        (int)(sizeof rfc6052 / sizeof rfc6052[0]))
{
  static const uint8_t v4[][4] = {
      {192, 0, 2, 33}, {0, 0, 0, 0}, {255, 255, 255, 255}, {10, 0, 0, 1}};
  unsigned plen = rfc6052[_i].plen, pos[4];
  tset t;
  cf_table *tab;
  uint8_t a[16], as4[4];
  long n64;
  int allow;
  tset_init(&t);
  add_rule(&t, 0, v4[1], 32, CURLFENCE_DENY, NULL, 0);    /* 0: 0.0.0.0 */
  add_rule(&t, 0, v4[2], 32, CURLFENCE_DENY, NULL, 0);    /* 1: bcast */
  add_rule(&t, 0, v4[0], 24, CURLFENCE_ALLOW, NULL, 0);   /* 2: 192.0.2/24 */
  add_rule(&t, 0, v4[3], 8, CURLFENCE_DENY, NULL, 0);     /* 3: 10/8 */
  add_rule(&t, 1, zero16, 0, CURLFENCE_DENY, NULL, 0);    /* 4: ::/0 */
  a[0] = 0x20;
  add_rule(&t, 1, a, 3, CURLFENCE_ALLOW, NULL, 0);        /* 5: 2000::/3 */
  add_nat64(&t, rfc6052[_i].prefix, plen);
  tab = build_ok(&t);

  ck_assert_int_eq(cf_table_lookup_as(tab, &t.rs, 1, rfc6052[_i].addr, 443,
                                      &allow, &n64, as4), 2);
  ck_assert_int_eq(n64, 0);
  ck_assert_int_eq(allow, 1);
  ck_assert_mem_eq(as4, v4[0], 4);
  probe(&t, tab, 1, rfc6052[_i].addr, 443, 0);

  /* the bytes the layout uses, from section 2.2's figure */
  for(unsigned i = 0, b = plen / 8; i < 4; i++, b++)
    pos[i] = b == 8 ? ++b : b;
  for(unsigned v = 0; v < 4; v++) {
    static const long rule[] = {2, 0, 1, 3};
    memcpy(a, rfc6052[_i].prefix, 16);
    for(unsigned i = 0; i < 4; i++)
      a[pos[i]] = v4[v][i];
    ck_assert_int_eq(cf_table_lookup_as(tab, &t.rs, 1, a, 80, &allow, &n64,
                                        as4), rule[v]);
    ck_assert_mem_eq(as4, v4[v], 4);
    probe(&t, tab, 1, a, 80, 0);
    /* the u octet and the suffix do not change the embedded address */
    if(plen < 96)
      a[8] = 0xff;
    for(unsigned b = pos[3] + 1; b < 16; b++)
      a[b] = 0xa5;
    ck_assert_int_eq(cf_table_lookup(tab, &t.rs, 1, a, 80), rule[v]);
    probe(&t, tab, 1, a, 80, 0);
  }
  /* one below and one above the prefix: the IPv6 rules again */
  memcpy(a, rfc6052[_i].prefix, 16);
  add_or_sub_one(a, 16, 0);
  ck_assert_int_eq(cf_table_lookup_as(tab, &t.rs, 1, a, 80, &allow, &n64,
                                      as4), 5);
  ck_assert_int_eq(n64, -1);
  memcpy(a, rfc6052[_i].prefix, 16);
  for(unsigned bit = plen; bit < 128; bit++)
    a[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
  ck_assert_int_eq(cf_table_lookup(tab, &t.rs, 1, a, 80), 1);
  add_or_sub_one(a, 16, 1);
  ck_assert_int_eq(cf_table_lookup(tab, &t.rs, 1, a, 80), 5);
  cf_table_free(tab);
  tset_free(&t);
}
END_TEST

/* IPv6 port rules around a nat64 prefix do not reach into it, and the
 * early stop keeps a port set outside it. */
TU_TEST(tc_edges, nat64_ports_around)
{
  tset t;
  cf_table *tab;
  uint8_t a[16] = {0x00, 0x64, 0xff, 0x9b};
  cf_port_range p443 = {443, 443};
  tset_init(&t);
  add_rule(&t, 1, zero16, 0, CURLFENCE_DENY, NULL, 0);     /* 0 */
  add_rule(&t, 1, zero16, 0, CURLFENCE_ALLOW, &p443, 1);   /* 1 */
  add_rule(&t, 0, zero16, 0, CURLFENCE_ALLOW, NULL, 0);    /* 2 */
  add_nat64(&t, a, 96);
  tab = build_ok(&t);
  ck_assert_int_eq(cf_table_lookup(tab, &t.rs, 1, a, 443), 2);
  ck_assert_int_eq(cf_table_lookup(tab, &t.rs, 1, a, 80), 2);
  a[3] = 0x9c;
  ck_assert_int_eq(cf_table_lookup(tab, &t.rs, 1, a, 443), 1);
  ck_assert_int_eq(cf_table_lookup(tab, &t.rs, 1, a, 80), 0);
  /* without a verdict the value is read directly, resolved to IPv4 */
  a[3] = 0x9b;
  ck_assert_uint_eq(cf_table_find6(tab, a), 3u | CF_ALLOW);
  cf_table_free(tab);
  tset_free(&t);
}
END_TEST

/* ------------------------------------------------- differential test */

/* Ports drawn from a small set so probes and rules meet. */
static const unsigned port_pool[] = {1, 22, 80, 443, 444, 8080, 65535};
#define NPOOL (sizeof port_pool / sizeof port_pool[0])

static unsigned rnd_port(uint64_t *s)
{
  if(rnd_below(s, 8) == 0)
    return 1 + rnd_below(s, 65535);
  return port_pool[rnd_below(s, NPOOL)];
}

static unsigned rnd_plen(uint64_t *s, int v6)
{
  unsigned max = v6 ? 128 : 32;
  switch(rnd_below(s, 6)) {
  case 0:
    return rnd_below(s, max + 1);
  case 1:
    return max - rnd_below(s, 3);               /* host routes */
  case 2:
    return rnd_below(s, 4);                     /* very short */
  default:
    return v6 ? 16 + rnd_below(s, 49) : 8 + rnd_below(s, 17);
  }
}

/* A few base addresses per table so that prefixes nest and collide. */
static void rnd_near(uint64_t *s, uint8_t *out, int v6, uint8_t bases[][16],
                     unsigned nbases)
{
  unsigned n = v6 ? 16 : 4;
  memcpy(out, bases[rnd_below(s, nbases)], 16);
  /* flip a few bits, mostly low ones */
  for(unsigned k = rnd_below(s, 4); k > 0; k--) {
    unsigned bit = rnd_below(s, 2) ? n * 8 - 1 - rnd_below(s, 12)
                                   : rnd_below(s, n * 8);
    out[bit / 8] ^= (uint8_t)(0x80u >> (bit % 8));
  }
}

/* The builder's order (address, length, portless first, deny first): a
 * file already in it skips the sort. */
static int rule_order(const void *pa, const void *pb)
{
  const cf_rule *a = pa, *b = pb;
  int c = memcmp(a->addr, b->addr, 16);
  int ra = (a->nports ? 2 : 0) | (a->action != CURLFENCE_DENY);
  int rb = (b->nports ? 2 : 0) | (b->action != CURLFENCE_DENY);
  if(a->v6 != b->v6)
    return a->v6 - b->v6;
  if(c)
    return c;
  if(a->plen != b->plen)
    return a->plen - b->plen;
  return ra - rb;
}

/* checksrc: allow LONGFUNC one random table built, checked and probed: the
 * steps share its many random parameters */
static void one_random_table(uint64_t seed, unsigned probes_per_rule,
                             int sorted)
{
  uint64_t s = seed;
  tset t;
  cf_table *tab;
  uint8_t bases[6][16];
  unsigned nbases = 1 + rnd_below(&s, 6);
  unsigned nrules = rnd_below(&s, 4) == 0 ? rnd_below(&s, 4)
                                          : rnd_below(&s, 120);
  int fam_mode = (int)rnd_below(&s, 3); /* 0 v4, 1 v6, 2 mixed */
  uint8_t a[16];

  tset_init(&t);
  for(unsigned i = 0; i < nbases; i++) {
    for(unsigned j = 0; j < 16; j++)
      bases[i][j] = (uint8_t)rnd_next(&s);
    if(rnd_below(&s, 5) == 0)
      memset(bases[i], rnd_below(&s, 2) ? 0xff : 0, 16);
  }
  if(rnd_below(&s, 2)) {
    t.rs.dflt.set = 1;
    t.rs.dflt.action = (uint8_t)rnd_below(&s, 2);
  }
  for(unsigned i = 0; i < nrules; i++) {
    int v6 = fam_mode == 2 ? (int)rnd_below(&s, 2) : fam_mode;
    cf_port_range pr[3] = {{80, 80}, {443, 443}, {1, 65535}};
    unsigned np = rnd_below(&s, 10) < 3 ? 1 + rnd_below(&s, 3) : 0;
    for(unsigned j = 0; j < np; j++) {
      unsigned lo = rnd_port(&s), hi = lo;
      if(rnd_below(&s, 3) == 0)
        hi = lo + rnd_below(&s, 500);
      if(hi > 65535)
        hi = 65535;
      pr[j].lo = (uint16_t)lo;
      pr[j].hi = (uint16_t)hi;
    }
    rnd_near(&s, a, v6, bases, nbases);
    add_rule(&t, v6, a, rnd_plen(&s, v6), (int)rnd_below(&s, 2), pr, np);
    /* duplicate prefixes with other actions/ports are the tie-break test */
    if(rnd_below(&s, 6) == 0) {
      cf_rule last = t.rs.rules[t.rs.nrules - 1]; /* add_rule reallocs */
      np = rnd_below(&s, 2);
      add_rule(&t, v6, last.addr, last.plen, (int)rnd_below(&s, 2), pr, np);
    }
  }
  /* nat64 prefixes near the bases, so rules hold them, touch them and
   * (as only hand-built sets can) lie inside them */
  for(unsigned i = rnd_below(&s, 3) == 0 ? rnd_below(&s, 4) : 0; i > 0;
      i--) {
    static const unsigned lens[] = {32, 40, 48, 56, 64, 96};
    rnd_near(&s, a, 1, bases, nbases);
    add_nat64(&t, a, lens[rnd_below(&s, 6)]);
  }
  if(sorted && t.rs.nrules)
    qsort(t.rs.rules, t.rs.nrules, sizeof *t.rs.rules, rule_order);
  tab = build_ok(&t);

  /* Both ends of every nat64 prefix and just outside them. */
  for(size_t i = 0; i < t.rs.nnat64; i++) {
    const cf_nat64 *d = &t.rs.nat64[i];
    uint8_t lo[16], hi[16];
    memcpy(lo, d->prefix, 16);
    memcpy(hi, d->prefix, 16);
    for(unsigned bit = d->plen; bit < 128; bit++)
      hi[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
    for(int k = 0; k < 4; k++) {
      uint8_t p[16];
      memcpy(p, k < 2 ? lo : hi, 16);
      if(k == 1)
        add_or_sub_one(p, 16, 0);
      if(k == 3)
        add_or_sub_one(p, 16, 1);
      probe(&t, tab, 1, p, rnd_port(&s), seed);
    }
    for(int k = 0; k < 8; k++) {
      uint8_t p[16];
      memcpy(p, d->prefix, 16);
      for(unsigned bit = d->plen; bit < 128; bit++)
        if(rnd_below(&s, 2))
          p[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
      probe(&t, tab, 1, p, rnd_below(&s, 2) ? 0 : rnd_port(&s), seed);
    }
  }

  /* Boundaries of every rule: first, last, one before, one after. */
  for(size_t i = 0; i < t.rs.nrules; i++) {
    const cf_rule *r = &t.rs.rules[i];
    unsigned n = r->v6 ? 16 : 4;
    uint8_t lo[16], hi[16];
    memcpy(lo, r->addr, 16);
    memcpy(hi, r->addr, 16);
    for(unsigned bit = r->plen; bit < n * 8; bit++)
      hi[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
    for(int k = 0; k < 4; k++) {
      uint8_t p[16];
      memcpy(p, k < 2 ? lo : hi, 16);
      if(k == 1)
        add_or_sub_one(p, n, 0);
      if(k == 3)
        add_or_sub_one(p, n, 1);
      probe(&t, tab, r->v6, p, 0, seed);
      probe(&t, tab, r->v6, p, rnd_port(&s), seed);
      if(r->nports)
        probe(&t, tab, r->v6, p, t.rs.ports[r->port_off].lo, seed);
    }
  }
  /* Random probes near the bases and anywhere. */
  for(unsigned i = 0; i < probes_per_rule * (nrules + 4); i++) {
    int v6 = (int)rnd_below(&s, 2);
    if(rnd_below(&s, 4) == 0) {
      for(unsigned j = 0; j < 16; j++)
        a[j] = (uint8_t)rnd_next(&s);
    }
    else {
      rnd_near(&s, a, v6, bases, nbases);
    }
    probe(&t, tab, v6, a, rnd_below(&s, 4) == 0 ? 0 : rnd_port(&s), seed);
  }
  cf_table_free(tab);
  tset_free(&t);
}

TU_CASE(tc_differential, "differential", 300, NULL, NULL);

TU_TEST(tc_differential, differential)
{
  unsigned tables = quick ? 150 : 1500;
  for(unsigned i = 0; i < tables; i++)
    one_random_table(base_seed + i, quick ? 4 : 12, 0);
}
END_TEST

/* Rules already in the builder's order take the path without a sort. */
TU_TEST(tc_differential, differential_sorted)
{
  unsigned tables = quick ? 50 : 500;
  for(unsigned i = 0; i < tables; i++)
    one_random_table(base_seed + 77777 + i, quick ? 4 : 12, 1);
}
END_TEST

/* One larger table: deep levels and many port sets at once. */
TU_TEST(tc_differential, differential_large)
{
  uint64_t s = base_seed ^ 0xabcdefull;
  tset t;
  cf_table *tab;
  unsigned n = quick ? 1000 : 5000;
  uint8_t a[16];
  tset_init(&t);
  for(unsigned i = 0; i < n; i++) {
    int v6 = (int)(i & 1);
    cf_port_range pr = {443, 443};
    for(unsigned j = 0; j < 16; j++)
      a[j] = (uint8_t)rnd_next(&s);
    a[0] = (uint8_t)(a[0] & 0x0f); /* crowd them */
    add_rule(&t, v6, a, rnd_plen(&s, v6), (int)rnd_below(&s, 2), &pr,
             rnd_below(&s, 20) == 0);
  }
  tab = build_ok(&t);
  for(unsigned i = 0; i < n * 4; i++) {
    const cf_rule *r = &t.rs.rules[rnd_below(&s, (unsigned)n)];
    memcpy(a, r->addr, 16);
    for(unsigned bit = r->plen; bit < (r->v6 ? 128u : 32u); bit++)
      if(rnd_below(&s, 2))
        a[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
    probe(&t, tab, r->v6, a, rnd_below(&s, 2) ? 443 : 0, s);
  }
  cf_table_free(tab);
  tset_free(&t);
}
END_TEST

/* IPv4 with the widest direct array (2^18 entries, from 2^14 rules):
 * blocks of one value shared across entries, blocks with many runs and
 * with nodes below them for /25 to /32, all in the first /6 so that they
 * nest and collide, half of them in its first /10. */
TU_TEST(tc_differential, differential_wide4)
{
  uint64_t s = base_seed ^ 0x5eedull;
  tset t;
  cf_table *tab;
  unsigned n = 1u << 14, probes = quick ? 1500 : 6000;
  uint8_t a[16];
  tset_init(&t);
  for(unsigned i = 0; i < n; i++) {
    cf_port_range pr = {80, 80};
    unsigned plen = 8 + rnd_below(&s, 25);
    for(unsigned j = 0; j < 16; j++)
      a[j] = (uint8_t)rnd_next(&s);
    a[0] = (uint8_t)(a[0] & 0x03);
    if(i & 1) {
      /* blocks of more runs than a cache line holds */
      a[0] = 0;
      a[1] = (uint8_t)(a[1] & 0x3f);
    }
    add_rule(&t, 0, a, plen, (int)rnd_below(&s, 2), &pr,
             rnd_below(&s, 50) == 0);
  }
  tab = build_ok(&t);
  {
    cf_table_parts tp;
    cf_table_get_parts(tab, &tp);
    ck_assert_uint_eq(tp.n[CF_PART_DIRECT4], 1u << 18);
  }
  for(unsigned i = 0; i < probes; i++) {
    const cf_rule *r = &t.rs.rules[rnd_below(&s, n)];
    memcpy(a, r->addr, 4);
    for(unsigned bit = r->plen; bit < 32; bit++)
      if(rnd_below(&s, 2))
        a[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
    probe(&t, tab, 0, a, rnd_below(&s, 2) ? 80 : 0, s);
  }
  cf_table_free(tab);
  tset_free(&t);
}
END_TEST

/* A number of kB from /proc/self/status (VmRSS, VmHWM); 0 if missing. */
static size_t status_kb(const char *key)
{
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  size_t v = 0, n = strlen(key);
  while(f && fgets(line, sizeof line, f))
    if(!strncmp(line, key, n) && line[n] == ':')
      v = (size_t)strtoull(line + n + 1, NULL, 10);
  if(f)
    fclose(f);
  return v;
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TABLE_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TABLE_SANITIZED 1
#endif
#endif

/* What a build holds beyond the rules at its peak, per IPv4 rule, on
 * scattered rules in no order (the radix sort's case): sort keys, radix
 * buffer, change points, table.  One-word IPv4 sort keys peak at 62-72
 * bytes, by the heap a run starts with (24-byte keys: 85).  clear_refs
 * resets the peak first; sanitizers and valgrind skip it (own memory). */
TU_CASE(tc_memory, "memory", 60, NULL, NULL);

TU_TEST(tc_memory, build_peak_memory)
{
  uint64_t s = base_seed ^ 0x5eedull;
  const unsigned n = 1u << 18;
  tset t;
  cf_table *tab;
  size_t rss0, hwm;
  double per;
  FILE *f;
#ifdef TABLE_SANITIZED
  return;
#endif
  if(quick)
    return;
  tset_init(&t);
  for(unsigned i = 0; i < n; i++) {
    uint8_t a[16] = {0};
    for(unsigned j = 0; j < 4; j++)
      a[j] = (uint8_t)rnd_next(&s);
    add_rule(&t, 0, a, 8 + rnd_below(&s, 25), (int)rnd_below(&s, 2), NULL,
             0);
  }
  f = fopen("/proc/self/clear_refs", "w");
  if(!f || fputs("5", f) < 0 || fclose(f)) {
    tset_free(&t);
    return;   /* a kernel without the reset: nothing to measure against */
  }
  rss0 = status_kb("VmRSS");
  tab = build_ok(&t);
  hwm = status_kb("VmHWM");
  per = (double)(hwm - rss0) * 1024.0 / n;
  ck_assert_msg(hwm > rss0 && per <= 80.0,
                "the build peaked %.1f bytes per rule above the rules "
                "(at most 80)", per);
  cf_table_free(tab);
  tset_free(&t);
}
END_TEST

/* Once, before the suite is built: the seed and the run's length. */
static void suite_init(void)
{
  const char *e = getenv("CURLFENCE_SEED");
  base_seed = e && *e ? strtoull(e, NULL, 0) : 20240611u;
  quick = tu_quick();
  if(e && *e)
    fprintf(stderr, "test_table: seed %" PRIu64 "\n", base_seed);
}
