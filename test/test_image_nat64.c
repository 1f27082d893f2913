/* SPDX-License-Identifier: MIT */
/*
 * Images of policies with nat64 prefixes and "self" rules: the image
 * decides as the rules text does, the reference matcher agrees with the
 * table including self, damaged nat64 data is refused, and self is the
 * loading host's.  The host's addresses are injected (cf_self_inject), so
 * the answers do not depend on the machine.  Not in the shared-library
 * run.
 */
#include "engine/engine.h"
#include "image_fixture.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char diff_rules[] =
    "default allow\n"
    "nat64 64:ff9b::/96\n"
    "nat64 2001:db8:122::/48\n"
    "deny self\n"
    "allow self port 443\n"
    "deny 192.0.2.0/24 port 22\n"
    "allow 192.0.2.7\n"
    "deny 198.51.100.0/24\n"
    "allow 198.51.100.9 port 80\n"
    "deny ::/0 port 25\n"
    "allow 2001:db8::/32 port 8080\n"
    "deny 203.0.113.5\n";

static cf_selfaddr host_a[5];

static void addr_of(cf_selfaddr *s, const char *text, const char *ifname)
{
  memset(s, 0, sizeof(*s));
  s->v6 = strchr(text, ':') != NULL;
  ck_assert_int_eq(inet_pton(s->v6 ? AF_INET6 : AF_INET, text, s->addr), 1);
  snprintf(s->ifname, sizeof(s->ifname), "%s", ifname);
}

static void setup(void)
{
  image_setup();
  /* a /32 that ties with a written allow, one a port rule outranks, one
   * alone, one IPv6, one inside a nat64 prefix (left out) and one a
   * written deny ties with */
  addr_of(&host_a[0], "192.0.2.7", "eth9");
  addr_of(&host_a[1], "198.51.100.9", "eth9");
  addr_of(&host_a[2], "10.1.2.3", "wlan0");
  addr_of(&host_a[3], "2001:db8::5", "eth9");
  addr_of(&host_a[4], "203.0.113.5", "tun0");
  cf_self_inject(host_a, 5);
}

static void teardown(void)
{
  cf_self_inject(NULL, 0);
  image_teardown();
}

static socklen_t sockaddr_of(struct sockaddr_storage *ss, int v6,
                             const uint8_t *a, unsigned port)
{
  memset(ss, 0, sizeof(*ss));
  if(!v6) {
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    memcpy(&in->sin_addr, a, 4);
    return sizeof(*in);
  }
  {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    memcpy(&in6->sin6_addr, a, 16);
    return sizeof(*in6);
  }
}

static int same_str(const char *a, const char *b)
{
  return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* One address and port: text and image give the same verdict, the fast
 * path the same action, and on both the table (with self ranked after
 * it) picks the reference matcher's rule. */
static void probe(curlfence_policy *text, curlfence_policy *img, int v6,
                  const uint8_t *a, unsigned port)
{
  struct sockaddr_storage ss;
  socklen_t len = sockaddr_of(&ss, v6, a, port);
  curlfence_verdict vt, vi;
  curlfence_action at, ai;
  char shown[INET6_ADDRSTRLEN];

  inet_ntop(v6 ? AF_INET6 : AF_INET, a, shown, sizeof(shown));
  at = curlfence_policy_decide(text, (struct sockaddr *)&ss, len, &vt);
  ai = curlfence_policy_decide(img, (struct sockaddr *)&ss, len, &vi);
  ck_assert_msg(at == ai && vt.is_default == vi.is_default &&
                    vt.line == vi.line && same_str(vt.rule, vi.rule) &&
                    same_str(vt.reason, vi.reason),
                "%s port %u: text %d \"%s\" (%s), image %d \"%s\" (%s)",
                shown, port, at, vt.rule, vt.reason, ai, vi.rule, vi.reason);
  ck_assert_int_eq(curlfence_policy_decide(text, (struct sockaddr *)&ss, len,
                                           NULL), at);
  ck_assert_int_eq(curlfence_policy_decide(img, (struct sockaddr *)&ss, len,
                                           NULL), ai);
  ck_assert_msg(cf_table_lookup(img->table, &img->rs, v6, a, port) ==
                    cf_match_linear(&img->rs, v6, a, port),
                "%s port %u: table and reference differ", shown, port);
  ck_assert_int_eq(cf_table_lookup(text->table, &text->rs, v6, a, port),
                   cf_match_linear(&text->rs, v6, a, port));
}

/* Each address with its neighbours and, for IPv4, inside both nat64
 * prefixes, on ports that rules name and do not name. */
static void probe_around(curlfence_policy *text, curlfence_policy *img,
                         int v6, const uint8_t *a)
{
  static const unsigned ports[] = { 0, 22, 25, 80, 443, 8080, 9 };
  int delta;
  size_t k;

  for(delta = -1; delta <= 1; delta++) {
    uint8_t b[16], n1[16] = { 0, 0x64, 0xff, 0x9b },
                   n2[16] = { 0x20, 0x01, 0x0d, 0xb8, 0x01, 0x22 };

    memcpy(b, a, 16);
    b[v6 ? 15 : 3] = (uint8_t)(b[v6 ? 15 : 3] + delta);
    memcpy(n1 + 12, b, 4);
    n2[6] = b[0];
    n2[7] = b[1];
    n2[9] = b[2];
    n2[10] = b[3];
    for(k = 0; k < sizeof(ports) / sizeof(ports[0]); k++) {
      probe(text, img, v6, b, ports[k]);
      if(!v6) {
        probe(text, img, 1, n1, ports[k]);
        probe(text, img, 1, n2, ports[k]);
      }
    }
  }
}

static void differential(curlfence_policy *text)
{
  curlfence_policy *img = via_image(text);
  const cf_ruleset *rs = &text->rs;
  size_t i;

  ck_assert_ptr_nonnull(img->image);
  ck_assert_uint_eq(img->rs.nnat64, rs->nnat64);
  ck_assert_uint_eq(img->rs.nselfv, rs->nselfv);
  for(i = 0; i < rs->nrules; i++)
    probe_around(text, img, rs->rules[i].v6, rs->rules[i].addr);
  for(i = 0; i < rs->nselfv; i++)
    probe_around(text, img, rs->selfv[i].v6, rs->selfv[i].addr);
  for(i = 0; i < rs->nnat64; i++)
    probe_around(text, img, 1, rs->nat64[i].prefix);
  for(i = 0; i < 5; i++)
    probe_around(text, img, host_a[i].v6, host_a[i].addr);
  for(i = 0; i < 2000; i++) {
    uint8_t a[16];
    size_t j;
    for(j = 0; j < 16; j++)
      a[j] = (uint8_t)rand();
    probe(text, img, (int)(i & 1), a, (unsigned)(i % 3 ? 443 : 22));
  }
  curlfence_policy_unref(img);
}

TU_SUITE_STATIC_ONLY("image-nat64-self", NULL);
TU_CASE(tc_image, "image", 60, setup, teardown);

TU_TEST(tc_image, image_differential)
{
  curlfence_policy *p = tu_load(diff_rules);

  /* the IPv6 address inside 64:ff9b::/96 is not one: 4 x 2 rules */
  ck_assert_uint_eq(p->rs.nselfv, 10);
  differential(p);
  curlfence_policy_unref(p);
}
END_TEST

/* What the self rules decide, named with the address. */
static void expect(curlfence_policy *p, const char *addr, unsigned port,
                   curlfence_action action, const char *rule,
                   const char *reason)
{
  struct sockaddr_storage ss;
  uint8_t a[16];
  int v6 = strchr(addr, ':') != NULL;
  socklen_t len;
  curlfence_verdict v;

  ck_assert_int_eq(inet_pton(v6 ? AF_INET6 : AF_INET, addr, a), 1);
  len = sockaddr_of(&ss, v6, a, port);
  ck_assert_msg(curlfence_policy_decide(p, (struct sockaddr *)&ss, len, &v)
                    == action, "%s port %u: %s", addr, port, v.rule);
  ck_assert_str_eq(v.rule, rule);
  ck_assert_str_eq(v.reason, reason);
  ck_assert_int_eq(curlfence_policy_decide(p, (struct sockaddr *)&ss, len,
                                           NULL), action);
}

#define ALLOW CURLFENCE_ALLOW
#define DENY CURLFENCE_DENY

/* A decision expect() checks. */
typedef struct decision {
  const char *addr;
  unsigned port;
  curlfence_action action;
  const char *rule, *reason;
} decision;

static void expect_each(curlfence_policy *p, const decision *d, size_t n)
{
  size_t i;

  for(i = 0; i < n; i++)
    expect(p, d[i].addr, d[i].port, d[i].action, d[i].rule, d[i].reason);
}

#define EXPECT_EACH(p, rows) \
  expect_each(p, rows, sizeof(rows) / sizeof((rows)[0]))

TU_TEST(tc_image, image_self_ranked)
{
  static const decision want[] = {
    /* a tie of /32s without ports: deny wins */
    { "192.0.2.7", 80, DENY,
      "deny self (192.0.2.7, eth9)", "rule" },
    { "192.0.2.7", 443, ALLOW,
      "allow self port 443 (192.0.2.7, eth9)", "rule" },
    /* a written /32 with ports outranks self without */
    { "198.51.100.9", 80, ALLOW,
      "allow 198.51.100.9 port 80", "rule" },
    { "198.51.100.9", 81, DENY,
      "deny self (198.51.100.9, eth9)", "rule" },
    /* a tie with a written deny: the earlier rule */
    { "203.0.113.5", 80, DENY,
      "deny self (203.0.113.5, tun0)", "rule" },
    { "2001:db8::5", 8080, DENY,
      "deny self (2001:db8::5, eth9)", "rule" },
    { "2001:db8::6", 8080, ALLOW,
      "allow 2001:db8::/32 port 8080", "rule" },
    /* one of the host's addresses behind a nat64 prefix */
    { "64:ff9b::a01:203", 80, DENY,
      "deny self (10.1.2.3, wlan0)", "nat64/96" },
    { "10.1.2.4", 80, ALLOW,
      "default allow", "default" },
  };
  curlfence_policy *t = tu_load(diff_rules), *img = via_image(t);

  EXPECT_EACH(img, want);
  EXPECT_EACH(t, want);
  curlfence_policy_unref(img);
  curlfence_policy_unref(t);
}
END_TEST

/* The loopback interface is this host too: its IPv4 address stands for
 * its whole on-link prefix (Linux delivers all of 127.0.0.0/8 locally),
 * ranked as a rule of that length; ::1 is one address.  Names say which
 * interface address matched. */
TU_TEST(tc_image, self_loopback_interface)
{
  static const decision loopback[] = {
    { "127.0.0.1", 80, DENY,
      "deny self (127.0.0.1/8, lo)", "rule" },
    { "127.0.0.2", 80, DENY,
      "deny self (127.0.0.1/8, lo)", "rule" },
    { "127.255.255.255", 0, DENY,
      "deny self (127.0.0.1/8, lo)", "rule" },
    { "::ffff:127.9.9.9", 80, DENY,
      "deny self (127.0.0.1/8, lo)", "rule" },
    { "::1", 80, DENY,
      "deny self (::1, lo)", "rule" },
    { "192.0.2.2", 80, DENY,
      "deny self (192.0.2.2, eth0)", "rule" },
    { "128.0.0.1", 80, ALLOW,
      "default allow", "default" },
    { "126.255.255.255", 80, ALLOW,
      "default allow", "default" },
    { "::2", 80, ALLOW,
      "default allow", "default" },
    { "192.0.2.3", 80, ALLOW,
      "default allow", "default" },
    /* and the unspecified address, decided as loopback too */
    { "0.0.0.0", 80, DENY,
      "deny self (127.0.0.1/8, lo)", "loopback" },
    { "::", 80, DENY,
      "deny self (::1, lo)", "loopback" },
  };
  /* ranked as /8: a longer rule or a port rule of the same length beats
   * it, and a deny 127.0.0.0/8 written first names the denial */
  static const decision ranked[] = {
    { "127.0.0.5", 80, ALLOW,
      "allow 127.0.0.5", "rule" },
    { "127.0.0.9", 8080, ALLOW,
      "allow 127.0.0.0/8 port 8080", "rule" },
    { "127.0.0.9", 9, DENY,
      "deny 127.0.0.0/8 port 9", "rule" },
    { "127.0.0.9", 80, DENY,
      "deny self (127.0.0.1/8, lo)", "rule" },
  };
  cf_selfaddr h[3];
  curlfence_policy *t, *img;
  uint8_t a[16];

  addr_of(&h[0], "127.0.0.1", "lo");
  h[0].prefix = 8;
  addr_of(&h[1], "::1", "lo");
  addr_of(&h[2], "192.0.2.2", "eth0");
  cf_self_inject(h, 3);
  t = tu_load("default allow\ndeny self\n");
  EXPECT_EACH(t, loopback);
  img = via_image(t);
  inet_pton(AF_INET, "127.0.0.1", a);
  probe_around(t, img, 0, a);
  inet_pton(AF_INET, "127.255.255.255", a);
  probe_around(t, img, 0, a);
  inet_pton(AF_INET6, "::1", a);
  probe_around(t, img, 1, a);
  curlfence_policy_unref(img);
  curlfence_policy_unref(t);

  t = tu_load("default allow\ndeny 127.0.0.0/8 port 9\ndeny self\n"
              "allow 127.0.0.5\nallow 127.0.0.0/8 port 8080\n");
  EXPECT_EACH(t, ranked);
  curlfence_policy_unref(t);
  t = tu_load("default allow\ndeny 127.0.0.0/8\ndeny self\n");
  expect(t, "127.0.0.1", 80, CURLFENCE_DENY, "deny 127.0.0.0/8", "rule");
  curlfence_policy_unref(t);
}
END_TEST

/* The addresses of the host that loads the image decide, never those of
 * the one that compiled it. */
TU_TEST(tc_image, image_self_at_load)
{
  cf_selfaddr b[1];
  curlfence_policy *t, *p;

  t = tu_load("default allow\ndeny self\n");
  save_ok(t, img_path);
  curlfence_policy_unref(t);
  addr_of(&b[0], "10.8.8.8", "eth1");
  cf_self_inject(b, 1);
  p = load_ok(img_path);
  expect(p, "10.8.8.8", 80, CURLFENCE_DENY, "deny self (10.8.8.8, eth1)",
         "rule");
  expect(p, "192.0.2.7", 80, CURLFENCE_ALLOW, "default allow", "default");
  curlfence_policy_unref(p);
  /* a host without addresses: self names nothing */
  cf_self_inject(b, 0);
  p = load_ok(img_path);
  expect(p, "10.8.8.8", 80, CURLFENCE_ALLOW, "default allow", "default");
  ck_assert_uint_eq(curlfence_policy_rule_count(p), 1);
  curlfence_policy_unref(p);
}
END_TEST

/* A guard's watcher reloads an image policy with self rules when the
 * host's addresses no longer match the ones it was loaded with (the
 * policy is made to remember other ones), and the reload resolves them
 * again. */
TU_TEST(tc_image, image_self_watch)
{
  curlfence_policy *t = tu_load("default allow\ndeny self\n"), *p;
  curlfence_guard *g = NULL;
  curlfence_stats st;
  int i;

  p = via_image(t);
  curlfence_policy_unref(t);
  p->rs.self_print ^= 1;
  ck_assert_int_eq(curlfence_guard_new(&g, p), CURLFENCE_OK);
  curlfence_policy_unref(p);
  ck_assert_int_eq(curlfence_guard_watch(g, 10), CURLFENCE_OK);
  for(i = 0; i < 300; i++) {
    curlfence_guard_stats(g, &st);
    if(st.reloads >= 1)
      break;
    usleep(10000);
  }
  ck_assert_uint_eq(st.reloads, 1);
  curlfence_guard_unwatch(g);
  p = curlfence_guard_policy(g, NULL);
  ck_assert_ptr_nonnull(p->image);
  ck_assert_uint_eq(p->rs.nselfv, 5);
  expect(p, "10.1.2.3", 80, CURLFENCE_DENY, "deny self (10.1.2.3, wlan0)",
         "rule");
  curlfence_policy_unref(p);
  curlfence_guard_free(g);
}
END_TEST

/* rules/default.rules (nat64 and self) becomes an image that decides as
 * the text. */
TU_TEST(tc_image, default_rules_image)
{
  curlfence_policy *p = NULL;
  curlfence_error err;

  ck_assert_msg(curlfence_policy_load_file(&p, "rules/default.rules", &err)
                    == CURLFENCE_OK, "%s", err.text);
  ck_assert_uint_gt(p->rs.nnat64, 0);
  ck_assert_uint_gt(p->rs.nself, 0);
  differential(p);
  curlfence_policy_unref(p);
}
END_TEST

/* ------------------------------------------------------------ damage */

static unsigned char *img;
static size_t img_len;

static size_t section_data(unsigned id)
{
  uint32_t n = tu_get32(img, 28), i;

  for(i = 0; i < n; i++)
    if(tu_get32(img, 64 + i * 24) == id)
      return (size_t)tu_get64(img, 64 + i * 24 + 8);
  ck_abort_msg("no section %u", id);
  return 0;
}

static void rejected(const char *want)
{
  curlfence_policy *p = NULL;
  curlfence_error err;
  char full[600];
  uint64_t h = cf_hash64(img + 16, img_len - 16);

  memcpy(img + 8, &h, 8);
  spill(img_path, img, img_len);
  ck_assert_int_eq(curlfence_policy_load_file(&p, img_path, &err),
                   CURLFENCE_E_IMAGE);
  ck_assert_ptr_null(p);
  snprintf(full, sizeof(full), "%s: %s", img_path, want);
  ck_assert_str_eq(err.text, full);
}

TU_TEST(tc_image, image_nat64_damaged)
{
  curlfence_policy *t = tu_load(diff_rules);
  char want[300];
  size_t d, len;

  save_ok(t, img_path);
  curlfence_policy_unref(t);
  img = slurp(img_path, &img_len);
  /* the declared prefixes: section 17, records of 32 bytes */
  d = section_data(17);
  img[d + 32 + 16] = 33;                /* prefix 1's length */
  snprintf(want, sizeof(want), "offset %zu: nat64 prefix 1: a prefix length "
           "other than 32, 40, 48, 56, 64 or 96", d + 32);
  rejected(want);
  img[d + 32 + 16] = 48;
  img[d + 15] = 1;                      /* a host bit of 64:ff9b::/96 */
  snprintf(want, sizeof(want), "offset %zu: nat64 prefix 0: address bits "
           "set past the prefix length", d);
  rejected(want);
  img[d + 15] = 0;
  img[d + 32 + 5] = 0x23;               /* 2001:db8:123::/48: still valid,
                                           but not what the table holds */
  len = section_data(9);
  snprintf(want, sizeof(want), "offset %zu: NAT64 records: NAT64 record 1: "
           "not the record of its declared prefix", len + 48);
  rejected(want);
  img[d + 32 + 5] = 0x22;
  memcpy(img + d + 32, img + d, 16);    /* the same prefix twice */
  img[d + 32 + 16] = 96;
  snprintf(want, sizeof(want), "offset %zu: nat64 prefix 1: overlaps an "
           "earlier prefix", d + 32);
  rejected(want);
  free(img);
  img = NULL;
}
END_TEST
