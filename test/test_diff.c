/* SPDX-License-Identifier: MIT */
/*
 * test_diff.c - cf_diff() and cf_lint() against the reference matcher.
 *
 * Random pairs of rule sets (nested prefixes, port lists, both families,
 * either default) are diffed; then for random addresses and ports, most
 * of them on the edges of the rules' prefixes and port ranges, the
 * decision of the two sets must differ exactly when the probe lies in a
 * reported block with a matching port, and the block must name the rules
 * cf_match_linear() picks on both sides.
 *
 * Replay a failure with CURLFENCE_SEED=<seed printed>.
 */
#include "review/review.h"
#include "testutil.h"
#include "rand.h"

#include <arpa/inet.h>
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* What cf_diff reported, copied out of the callback. */
typedef struct change {
  int v6;
  uint8_t addr[16];
  unsigned plen;
  cf_port_range ports[64];
  size_t nports;
  long old_rule, new_rule;
  int old_action, new_action;
  int old_loopback, new_loopback;
} change;

typedef struct changes {
  change *v;
  size_t n, cap;
  int overflow;
} changes;

static int collect(const cf_diff_change *c, void *userdata)
{
  changes *cs = userdata;
  change *o;

  if(cs->n == cs->cap) {
    cs->cap = cs->cap ? 2 * cs->cap : 64;
    cs->v = realloc(cs->v, cs->cap * sizeof(*cs->v));
    ck_assert_ptr_nonnull(cs->v);
  }
  o = &cs->v[cs->n++];
  memset(o, 0, sizeof(*o));
  o->v6 = c->v6;
  memcpy(o->addr, c->addr, 16);
  o->plen = c->plen;
  if(c->nports > 64)
    cs->overflow = 1;
  o->nports = c->nports > 64 ? 64 : c->nports;
  if(o->nports)
    memcpy(o->ports, c->ports, o->nports * sizeof(*o->ports));
  o->old_rule = c->old_rule;
  o->new_rule = c->new_rule;
  o->old_action = c->old_action;
  o->new_action = c->new_action;
  o->old_loopback = c->old_loopback;
  o->new_loopback = c->new_loopback;
  return 0;
}

static int port_in(const change *c, unsigned port)
{
  if(!c->nports)
    return 1;
  for(size_t i = 0; i < c->nports; i++)
    if(port >= c->ports[i].lo && port <= c->ports[i].hi)
      return 1;
  return 0;
}

static int action_of(const cf_ruleset *rs, long r)
{
  if(r >= 0)
    return rs->rules[r].action;
  return rs->dflt.set ? rs->dflt.action : CURLFENCE_DENY;
}

/* ------------------------------------------------------------ random */

static const char *const port_lists[] = {
  "80", "443", "80,443", "8000-8080", "1-1024", "22", "443,8443", "1-65535",
  "65535", "1"
};

/* A random rules text: prefixes drawn from a few bases so that they nest,
 * touch and repeat. */
static char *random_rules(uint64_t *s, unsigned nrules)
{
  size_t cap = 64 + (size_t)nrules * 96, len = 0;
  char *t = malloc(cap);

  ck_assert_ptr_nonnull(t);
  switch(rnd_below(s, 3)) {
  case 0:
    len += (size_t)snprintf(t + len, cap - len, "default allow\n");
    break;
  case 1:
    len += (size_t)snprintf(t + len, cap - len, "default deny\n");
    break;
  default: break;   /* built-in deny */
  }
  /* nat64 prefixes (their addresses are decided as the IPv4 addresses
   * they embed): declared on one side, both, or neither */
  if(rnd_below(s, 3) == 0)
    len += (size_t)snprintf(t + len, cap - len, "nat64 64:ff9b::/96\n");
  if(rnd_below(s, 6) == 0)
    len += (size_t)snprintf(t + len, cap - len, "nat64 3fff:ffff::/32\n");
  if(rnd_below(s, 8) == 0)
    len += (size_t)snprintf(t + len, cap - len, "nat64 64:ff9b:1::/48\n");
  for(unsigned i = 0; i < nrules; i++) {
    const char *act = rnd_below(s, 2) ? "allow" : "deny";
    char ports[40] = "";
    unsigned plen;

    if(rnd_below(s, 3) == 0)
      snprintf(ports, sizeof(ports), " port %s",
               port_lists[rnd_below(s, sizeof(port_lists) /
                                       sizeof(port_lists[0]))]);
    if(rnd_below(s, 3)) {
      uint32_t a = 0x0a000000u | (uint32_t)(rnd_next(s) & 0x00ffffffu);

      if(rnd_below(s, 8) == 0)
        a = (uint32_t)rnd_next(s);
      plen = rnd_below(s, 4) == 0 ? rnd_below(s, 33) : 8 + rnd_below(s, 25);
      a = plen ? a & (0xffffffffu << (32 - plen)) : 0;
      len += (size_t)snprintf(t + len, cap - len, "%s %u.%u.%u.%u/%u%s\n",
                              act, a >> 24, (a >> 16) & 255, (a >> 8) & 255,
                              a & 255, plen, ports);
    }
    else {
      uint8_t a[16] = { 0x20, 0x01, 0x0d, 0xb8 };
      char text[64];
      unsigned j;

      for(j = 4; j < 16; j++)
        a[j] = (uint8_t)rnd_next(s);
      if(rnd_below(s, 6) == 0)
        for(j = 0; j < 16; j++)
          a[j] = (uint8_t)rnd_next(s);
      plen = rnd_below(s, 5) == 0 ? rnd_below(s, 129) : 32 + rnd_below(s, 97);
      if(rnd_below(s, 8) == 0) {
        /* around the IPv4-mapped block, which diff leaves to IPv4 */
        memset(a, 0, 10);
        a[10] = rnd_below(s, 2) ? 0xff : 0xfe;
        a[11] = 0xff;
        plen = 64 + rnd_below(s, 32);
      }
      cf_prefix_mask(a, a, plen, 16);
      /* IPv4-mapped rules turn into IPv4 rules; keep the IPv6 ones. */
      if(!memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) && plen >= 96)
        a[0] = 0x20;
      inet_ntop(AF_INET6, a, text, sizeof(text));
      len += (size_t)snprintf(t + len, cap - len, "%s %s/%u%s\n", act, text,
                              plen, ports);
    }
  }
  return t;
}

static void parse_ok(cf_ruleset *rs, const char *text, const char *name)
{
  curlfence_error err;

  memset(rs, 0, sizeof(*rs));
  if(cf_rules_parse_string(rs, text, strlen(text), name, &err))
    ck_abort_msg("rules do not parse: %s\n%s", err.text, text);
}

/* A probe address near a rule's prefix, or anywhere. */
static void pick_addr(uint64_t *s, const cf_ruleset *a, const cf_ruleset *b,
                      int *v6, uint8_t *addr)
{
  const cf_ruleset *rs = rnd_below(s, 2) ? a : b;

  if(rs->nrules && rnd_below(s, 5)) {
    const cf_rule *r = &rs->rules[rnd_below(s, (unsigned)rs->nrules)];
    unsigned bytes = r->v6 ? 16 : 4, bits = bytes * 8, k;

    *v6 = r->v6;
    memcpy(addr, r->addr, 16);
    switch(rnd_below(s, 4)) {
    case 0:   /* first address */
      break;
    case 1:   /* last address */
      for(k = r->plen; k < bits; k++)
        addr[k / 8] |= (uint8_t)(0x80u >> (k % 8));
      break;
    case 2: { /* one below the first */
      int j = (int)bytes - 1;
      while(j >= 0 && addr[j] == 0)
        addr[j--] = 0xff;
      if(j >= 0)
        addr[j]--;
      break;
    }
    default:  /* one past the last */
      for(k = r->plen; k < bits; k++)
        addr[k / 8] |= (uint8_t)(0x80u >> (k % 8));
      {
        int j = (int)bytes - 1;
        while(j >= 0 && addr[j] == 0xff)
          addr[j--] = 0;
        if(j >= 0)
          addr[j]++;
      }
      break;
    }
    return;
  }
  if(rnd_below(s, 5) == 0) {
    /* in or next to a nat64 prefix: an IPv4 probe embedded as RFC 6052
     * lays it out, or one of the prefix's edges */
    static const uint8_t p96[16] = { 0, 0x64, 0xff, 0x9b };
    static const uint8_t p32[16] = { 0x3f, 0xff, 0xff, 0xff };
    int use96 = (int)rnd_below(s, 2), v4;
    uint8_t a4[16];

    *v6 = 1;
    memcpy(addr, use96 ? p96 : p32, 16);
    switch(rnd_below(s, 4)) {
    case 0: {     /* one below the prefix */
      int j = 15;
      while(j >= 0 && addr[j] == 0)
        addr[j--] = 0xff;
      if(j >= 0)
        addr[j]--;
      return;
    }
    case 1:       /* one past its end */
      if(use96) {
        addr[11] = 1;   /* 64:ff9b::1:0:0 */
      }
      else {
        memset(addr, 0, 16);
        addr[0] = 0x40; /* 4000:: */
      }
      return;
    default:
      pick_addr(s, a, b, &v4, a4);
      if(v4) {
        pick_addr(s, a, b, v6, addr);
        return;
      }
      for(unsigned k = use96 ? 12 : 9; k < 16; k++)
        addr[k] = (uint8_t)rnd_next(s);
      memcpy(addr + (use96 ? 12 : 4), a4, 4);
      return;
    }
  }
  *v6 = (int)rnd_below(s, 2);
  for(unsigned k = 0; k < 16; k++)
    addr[k] = (uint8_t)rnd_next(s);
  if(!*v6)
    addr[0] = rnd_below(s, 2) ? 10 : addr[0];
  else if(rnd_below(s, 2)) {
    addr[0] = 0x20;
    addr[1] = 0x01;
    addr[2] = 0x0d;
    addr[3] = 0xb8;
  }
}

static unsigned pick_port(uint64_t *s)
{
  static const unsigned edges[] = { 1, 2, 21, 22, 23, 79, 80, 81, 442, 443,
                                    444, 1023, 1024, 1025, 7999, 8000, 8080,
                                    8081, 8442, 8443, 8444, 65534, 65535 };

  if(rnd_below(s, 4))
    return edges[rnd_below(s, sizeof(edges) / sizeof(edges[0]))];
  return 1 + rnd_below(s, 65535);
}

static const uint8_t mapped12[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                      0xff, 0xff };

static void check_pair(uint64_t seed, const char *ta, const char *tb,
                       unsigned probes)
{
  cf_ruleset a, b;
  changes cs;
  uint64_t s = seed ^ 0x5555;

  parse_ok(&a, ta, "old.rules");
  parse_ok(&b, tb, "new.rules");
  memset(&cs, 0, sizeof(cs));
  ck_assert_int_eq(cf_diff(&a, &b, collect, &cs), CURLFENCE_OK);
  ck_assert_int_eq(cs.overflow, 0);
  /* then the unspecified addresses, decided as loopback too, and the
   * loopback addresses, each at a random port */
  for(unsigned i = 0; i < probes + 4; i++) {
    uint8_t addr[16];
    int v6, found = 0;
    unsigned port = pick_port(&s);
    long ra, rb;
    int aa, ab, la, lb;
    const change *hit = NULL;

    if(i < probes)
      pick_addr(&s, &a, &b, &v6, addr);
    else {
      v6 = (i - probes) & 1;
      memset(addr, 0, 16);
      if(i - probes >= 2)
        cf_unspecified_loopback(v6, addr, addr);
    }
    if(v6 && !memcmp(addr, mapped12, 12))
      continue;     /* decided as IPv4: covered by the IPv4 probes */
    if(v6 && (cf_nat64_find(&a, addr) >= 0 || cf_nat64_find(&b, addr) >= 0))
      continue;     /* decided as IPv4 on both sides (the IPv4 list), or
                       a prefix declared on one side (its own line) */
    ra = cf_match_connect(&a, v6, addr, port, &la);
    rb = cf_match_connect(&b, v6, addr, port, &lb);
    aa = action_of(&a, ra);
    ab = action_of(&b, rb);
    for(size_t k = 0; k < cs.n; k++) {
      const change *c = &cs.v[k];
      if(c->v6 == v6 && cf_prefix_equal(addr, c->addr, c->plen) &&
         port_in(c, port)) {
        found++;
        hit = c;
      }
    }
    if(found > 1 || (aa != ab) != (found == 1) ||
       (hit && (hit->old_rule != ra || hit->new_rule != rb ||
                hit->old_action != aa || hit->new_action != ab ||
                hit->old_loopback != la || hit->new_loopback != lb))) {
      char text[64];
      inet_ntop(v6 ? AF_INET6 : AF_INET, addr, text, sizeof(text));
      ck_abort_msg("seed %" PRIu64 ": %s port %u: old rule %ld (%d), new "
                   "rule %ld (%d), %d reported blocks hold it (%s)\n"
                   "--- old\n%s--- new\n%s",
                   seed, text, port, ra, aa, rb, ab, found,
                   hit ? "names other rules" : "-", ta, tb);
    }
  }
  free(cs.v);
  cf_ruleset_free(&a);
  cf_ruleset_free(&b);
}

static uint64_t base_seed(void)
{
  const char *e = getenv("CURLFENCE_SEED");
  return e ? strtoull(e, NULL, 10) : 20261127;
}

TU_SUITE_STATIC_ONLY("diff", NULL);
TU_CASE(tc_diff, "diff", 120, NULL, NULL);

/* Unrelated random sets: big changes, many blocks. */
TU_TEST(tc_diff, random_pairs)
{
  uint64_t seed0 = base_seed();
  unsigned rounds = tu_quick() ? 20 : 200;

  for(unsigned r = 0; r < rounds; r++) {
    uint64_t seed = seed0 + r, s = seed;
    char *ta = random_rules(&s, 1 + rnd_below(&s, 30));
    char *tb = random_rules(&s, 1 + rnd_below(&s, 30));

    check_pair(seed, ta, tb, tu_quick() ? 300 : 2000);
    free(ta);
    free(tb);
  }
}
END_TEST

/* A set against itself with a few lines changed: small changes inside
 * large unchanged structure, as in a review. */
TU_TEST(tc_diff, random_edits)
{
  uint64_t seed0 = base_seed() * 7;
  unsigned rounds = tu_quick() ? 20 : 200;

  for(unsigned r = 0; r < rounds; r++) {
    uint64_t seed = seed0 + r, s = seed;
    char *ta = random_rules(&s, 5 + rnd_below(&s, 40));
    char *extra = random_rules(&s, 1 + rnd_below(&s, 3));
    size_t la = strlen(ta), le = strlen(extra);
    char *tb = malloc(la + le + 1);
    char *cut;

    ck_assert_ptr_nonnull(tb);
    /* drop one rule line of ta, then add the extra rules (without their
     * default line, which ta may already have) */
    memcpy(tb, ta, la + 1);
    cut = strstr(tb + (rnd_below(&s, (unsigned)la)), "\n");
    if(cut && cut[1]) {
      char *eol = strchr(cut + 1, '\n');
      if(eol && strncmp(cut + 1, "default", 7))
        memmove(cut + 1, eol + 1, strlen(eol + 1) + 1);
    }
    {
      /* the extra rules without their settings: ta may have them */
      const char *e = extra;
      while(!strncmp(e, "default", 7) || !strncmp(e, "nat64", 5))
        e = strchr(e, '\n') + 1;
      strcat(tb, e);
    }
    check_pair(seed, ta, tb, tu_quick() ? 300 : 2000);
    free(ta);
    free(tb);
    free(extra);
  }
}
END_TEST

static void expect_none(const char *ta, const char *tb)
{
  cf_ruleset a, b;
  changes cs;

  parse_ok(&a, ta, "a");
  parse_ok(&b, tb, "b");
  memset(&cs, 0, sizeof(cs));
  ck_assert_int_eq(cf_diff(&a, &b, collect, &cs), CURLFENCE_OK);
  ck_assert_uint_eq(cs.n, 0);
  free(cs.v);
  cf_ruleset_free(&a);
  cf_ruleset_free(&b);
}

/* Same decisions written differently: no change. */
TU_TEST(tc_diff, equivalent_sets)
{
  expect_none("", "");
  expect_none("deny 10.0.0.0/8\n", "deny 10.0.0.0/9\ndeny 10.128.0.0/9\n");
  expect_none("default deny\n", "deny 0.0.0.0/0\ndeny ::/0\n");
  expect_none("allow 10.0.0.0/8 port 1-65535\n", "allow 10.0.0.0/8\n");
  expect_none("deny ::/0\n",
              "deny ::/0\nallow ::ffff:0:0/96\ndeny 0.0.0.0/0\n");
}
END_TEST

/* The block left for IPv4-mapped addresses never shows on its own. */
TU_TEST(tc_diff, mapped_block_merges)
{
  cf_ruleset a, b;
  changes cs;

  parse_ok(&a, "default allow\n", "a");
  parse_ok(&b, "default allow\ndeny ::/0\nallow ::ffff:0:0/96\n", "b");
  memset(&cs, 0, sizeof(cs));
  ck_assert_int_eq(cf_diff(&a, &b, collect, &cs), CURLFENCE_OK);
  ck_assert_uint_eq(cs.n, 1);
  ck_assert_int_eq(cs.v[0].v6, 1);
  ck_assert_uint_eq(cs.v[0].plen, 0);
  free(cs.v);
  cf_ruleset_free(&a);
  cf_ruleset_free(&b);
}
END_TEST

/* The unspecified address is decided as loopback too: a change of the
 * loopback decision changes it, and an allow of it alone that loopback
 * still denies changes nothing. */
TU_TEST(tc_diff, unspecified_follows_loopback)
{
  static const char old_t[] = "default deny\nallow 0.0.0.0/8\n"
                              "allow 127.0.0.0/8\nallow ::/128\n"
                              "allow ::1\n";
  static const char new_t[] = "default deny\nallow 0.0.0.0/8\n"
                              "allow ::/128\ndeny ::1 port 22\n"
                              "allow ::1\n";
  static const char *const want[] = { "0.0.0.0/32", "127.0.0.0/8",
                                      "::/128", "::1/128" };
  cf_ruleset a, b;
  changes cs;
  char text[64];

  expect_none("default deny\n", "default deny\nallow 0.0.0.0\n");
  expect_none("default deny\nallow 127.0.0.1\n",
              "default deny\nallow 127.0.0.1\nallow ::\n");
  parse_ok(&a, old_t, "a");
  parse_ok(&b, new_t, "b");
  memset(&cs, 0, sizeof(cs));
  ck_assert_int_eq(cf_diff(&a, &b, collect, &cs), CURLFENCE_OK);
  ck_assert_uint_eq(cs.n, 4);
  for(size_t i = 0; i < cs.n; i++) {
    inet_ntop(cs.v[i].v6 ? AF_INET6 : AF_INET, cs.v[i].addr, text,
              sizeof(text));
    snprintf(text + strlen(text), sizeof(text) - strlen(text), "/%u",
             cs.v[i].plen);
    ck_assert_str_eq(text, want[i]);
    ck_assert_int_eq(cs.v[i].old_action, CURLFENCE_ALLOW);
    ck_assert_int_eq(cs.v[i].new_action, CURLFENCE_DENY);
    ck_assert_int_eq(cs.v[i].old_loopback, 0);
  }
  /* 0.0.0.0: allowed by line 2, now denied by the default as 127.0.0.1 */
  ck_assert_int_eq(cs.v[0].old_rule, 0);
  ck_assert_int_eq(cs.v[0].new_rule, -1);
  ck_assert_int_eq(cs.v[0].new_loopback, 1);
  ck_assert_uint_eq(cs.v[0].nports, 0);
  ck_assert_int_eq(cs.v[1].new_loopback, 0);
  /* :: on port 22 only, by ::1's port rule */
  ck_assert_int_eq(cs.v[2].old_rule, 2);
  ck_assert_int_eq(cs.v[2].new_rule, 2);
  ck_assert_int_eq(cs.v[2].new_loopback, 1);
  ck_assert_uint_eq(cs.v[2].nports, 1);
  ck_assert_uint_eq(cs.v[2].ports[0].lo, 22);
  ck_assert_uint_eq(cs.v[2].ports[0].hi, 22);
  ck_assert_int_eq(cs.v[3].new_rule, 2);
  ck_assert_int_eq(cs.v[3].new_loopback, 0);
  free(cs.v);
  cf_ruleset_free(&a);
  cf_ruleset_free(&b);
}
END_TEST

/* ------------------------------------------------------------- lint */

typedef struct flags {
  unsigned char *never, *redundant;
} flags;

static int lint_collect(const cf_lint_finding *f, void *userdata)
{
  flags *fl = userdata;

  if(f->kind == CF_LINT_SHADOWED || f->kind == CF_LINT_PORT_NEVER_WINS ||
     f->kind == CF_LINT_DUPLICATE)
    fl->never[f->rule] = 1;
  if(f->kind == CF_LINT_REDUNDANT)
    fl->redundant[f->rule] = 1;
  return 0;
}

/* The reference matcher without rule skip (-1: none). */
static long linear_without(const cf_ruleset *rs, int v6, const uint8_t *a,
                           unsigned port, long skip)
{
  long best = -1;

  for(size_t i = 0; i < rs->nrules; i++) {
    const cf_rule *r = &rs->rules[i];

    if((long)i == skip || r->v6 != v6 ||
       !cf_prefix_equal(a, r->addr, r->plen) ||
       !cf_rule_port_match(rs, r, port))
      continue;
    if(best < 0 || cf_rule_beats(r, (long)i, &rs->rules[best], best) > 0)
      best = (long)i;
  }
  return best;
}

/* What lint says never decides never decides, and what it calls
 * redundant decides only as the rule below it would. */
TU_TEST(tc_diff, lint_is_sound)
{
  uint64_t seed0 = base_seed() * 13;
  unsigned rounds = tu_quick() ? 20 : 200;

  for(unsigned r = 0; r < rounds; r++) {
    uint64_t seed = seed0 + r, s = seed;
    char *t = random_rules(&s, 2 + rnd_below(&s, 30));
    cf_ruleset rs;
    flags fl;

    parse_ok(&rs, t, "lint.rules");
    fl.never = calloc(rs.nrules + 1, 1);
    fl.redundant = calloc(rs.nrules + 1, 1);
    ck_assert(fl.never && fl.redundant);
    ck_assert_int_eq(cf_lint(&rs, NULL, lint_collect, &fl), CURLFENCE_OK);
    for(unsigned i = 0; i < (tu_quick() ? 300u : 3000u); i++) {
      uint8_t addr[16];
      int v6;
      unsigned port = pick_port(&s);
      long w, below, n64;

      pick_addr(&s, &rs, &rs, &v6, addr);
      if(v6 && (n64 = cf_nat64_find(&rs, addr)) >= 0) {
        uint8_t a4[4];

        /* the rules that decide there are the IPv4 ones */
        cf_nat64_extract(rs.nat64[n64].plen, addr, a4);
        memset(addr, 0, 16);
        memcpy(addr, a4, 4);
        v6 = 0;
      }
      w = cf_match_linear(&rs, v6, addr, port);
      if(w < 0)
        continue;
      below = linear_without(&rs, v6, addr, port, w);
      if(fl.never[w] ||
         (fl.redundant[w] && action_of(&rs, below) != rs.rules[w].action)) {
        char text[64];
        inet_ntop(v6 ? AF_INET6 : AF_INET, addr, text, sizeof(text));
        ck_abort_msg("seed %" PRIu64 ": %s port %u is decided by line %u, "
                     "which lint calls %s\n%s", seed, text, port,
                     rs.rules[w].line,
                     fl.never[w] ? "never deciding" : "redundant", t);
      }
    }
    free(fl.never);
    free(fl.redundant);
    cf_ruleset_free(&rs);
    free(t);
  }
}
END_TEST

/* Every finding, by rule: its kind and the rule it names. */
typedef struct named {
  int *kind;
  long *other;
} named;

static int lint_name_collect(const cf_lint_finding *f, void *userdata)
{
  named *nm = userdata;

  nm->kind[f->rule] = (int)f->kind;
  nm->other[f->rule] = f->other;
  return 0;
}

/* A duplicate names the first rule with the same family, prefix, action
 * and port set, however the ports are written; a rule that differs in any
 * of those is none.  Many copies of one rule each name the first. */
TU_TEST(tc_diff, lint_duplicates)
{
  static const char *const head =
    "deny 10.0.0.0/8 port 80-81\n"        /* 0 */
    "allow 10.0.0.0/8 port 80-81\n"       /* 1: another action */
    "deny 10.0.0.0/8 port 81,80\n"        /* 2: dup of 0 */
    "deny 10.0.0.0/8 port 80,80-81,81\n"  /* 3: dup of 0 */
    "deny 10.0.0.0/8 port 80-82\n"        /* 4: other ports */
    "deny 10.0.0.0/9 port 80,81\n"        /* 5: another prefix */
    "deny ::/0 port 80-81\n"              /* 6: another family */
    "deny 10.0.0.0/8\n"                   /* 7: any port */
    "allow 10.0.0.0/8 port 80,81\n";      /* 8: dup of 1 */
  static const long want[] = { -1, -1, 0, 0, -1, -1, -1, -1, 1 };
  const size_t nhead = sizeof(want) / sizeof(want[0]), copies = 3000;
  const char *copy = "deny 192.168.0.0/16\n";
  size_t len = strlen(head) + copies * strlen(copy) + 1;
  char *text = malloc(len);
  cf_ruleset rs;
  named nm;

  ck_assert_ptr_nonnull(text);
  strcpy(text, head);
  for(size_t i = 0; i < copies; i++)
    strcat(text + strlen(head) + i * strlen(copy), copy);
  parse_ok(&rs, text, "dup.rules");
  ck_assert_uint_eq(rs.nrules, nhead + copies);
  nm.kind = malloc(rs.nrules * sizeof(*nm.kind));
  nm.other = malloc(rs.nrules * sizeof(*nm.other));
  ck_assert(nm.kind && nm.other);
  for(size_t i = 0; i < rs.nrules; i++)
    nm.kind[i] = -1;
  ck_assert_int_eq(cf_lint(&rs, NULL, lint_name_collect, &nm), CURLFENCE_OK);
  for(size_t i = 0; i < nhead; i++) {
    if(want[i] < 0) {
      ck_assert_msg(nm.kind[i] != CF_LINT_DUPLICATE,
                    "rule %zu called a duplicate of %ld", i, nm.other[i]);
      continue;
    }
    ck_assert_msg(nm.kind[i] == CF_LINT_DUPLICATE,
                  "rule %zu not called a duplicate", i);
    ck_assert_int_eq(nm.other[i], want[i]);
  }
  ck_assert_int_ne(nm.kind[nhead], CF_LINT_DUPLICATE);
  for(size_t i = nhead + 1; i < rs.nrules; i++) {
    ck_assert_int_eq(nm.kind[i], CF_LINT_DUPLICATE);
    ck_assert_int_eq(nm.other[i], (long)nhead);
  }
  free(nm.kind);
  free(nm.other);
  cf_ruleset_free(&rs);
  free(text);
}
END_TEST
