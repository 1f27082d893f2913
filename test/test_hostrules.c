/* SPDX-License-Identifier: MIT */
/* Host rules: what a rule is kept as and their place in the decision,
 * checked against the reference scan (their syntax errors, with every
 * error's position, are in test_rules.c). */
#include "engine/engine.h"
#include "testutil.h"
#include "rand.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TU_SUITE_STATIC_ONLY("hostrules", NULL);
TU_CASE(tc_hostrules, "hostrules", 60, NULL, NULL);

/* What a good rule is kept as. */
TU_TEST(tc_hostrules, test_host_parsed)
{
  static const char text[] =
      "allow host api.partner.example port 443\n"
      "deny host *.evil.example\n"
      "allow host ci.internal to 10.20.0.0/16 port 80,443\n"
      "allow host xn--bcher-kva.example\n"
      "allow host *.partner.example\n"
      "allow host a.example to ::ffff:10.0.0.0/104\n";
  /* line i + 1: its name (the suffix for a wildcard), "to" with the
   * prefix's family and length, and how many port ranges */
  static const struct {
    const char *name;
    unsigned wild, action, to, v6, plen, nports;
  } want[] = {
    { "api.partner.example", 0, CURLFENCE_ALLOW, 0, 0, 0, 1 },
    { "evil.example", 1, CURLFENCE_DENY, 0, 0, 0, 0 },
    { "ci.internal", 0, CURLFENCE_ALLOW, 1, 0, 16, 2 },
    { "xn--bcher-kva.example", 0, CURLFENCE_ALLOW, 0, 0, 0, 0 },
    { "partner.example", 1, CURLFENCE_ALLOW, 0, 0, 0, 0 },
    { "a.example", 0, CURLFENCE_ALLOW, 1, 0, 8, 0 },
  };
  const char *line = text;
  cf_ruleset rs;
  curlfence_error err;

  memset(&rs, 0, sizeof(rs));
  ck_assert_int_eq(cf_rules_parse_string(&rs, text, sizeof(text) - 1, NULL,
                                         &err), CURLFENCE_OK);
  ck_assert_uint_eq(rs.nrules, 0);
  ck_assert_uint_eq(rs.nhosts, 6);
  for(size_t i = 0; i < 6; i++) {
    const cf_hostrule *h = &rs.hosts[i];
    size_t len = strcspn(line, "\n");

    ck_assert_str_eq(rs.texts + h->name, want[i].name);
    ck_assert_msg(h->wild == want[i].wild && h->action == want[i].action &&
                  h->to == want[i].to && h->v6 == want[i].v6 &&
                  h->plen == want[i].plen && h->nports == want[i].nports,
                  "rule %zu: wild %u action %u to %u v6 %u plen %u "
                  "nports %u", i, h->wild, h->action, h->to, h->v6, h->plen,
                  h->nports);
    ck_assert_uint_eq(h->line, i + 1);
    ck_assert_msg(strlen(rs.texts + h->text) == len &&
                  !strncmp(rs.texts + h->text, line, len),
                  "rule %zu kept as \"%s\"", i, rs.texts + h->text);
    line += len + 1;
  }
  cf_ruleset_free(&rs);
}
END_TEST

/* ------------------------------------------------------------ decisions */

static curlfence_action decide_host(const curlfence_policy *p,
                                    const char *host, const char *addr,
                                    unsigned port, curlfence_verdict *v)
{
  struct sockaddr_storage ss;
  socklen_t len = tu_sockaddr(&ss, addr, port);
  cf_decision d;

  cf_dest_init(&d.dest, (struct sockaddr *)&ss, len);
  d.dest.host = host;
  cf_decide(p, &d, 1);
  *v = d.verdict;
  return d.action;
}

typedef struct host_case {
  const char *host, *addr;
  unsigned port;
  curlfence_action action;
  const char *reason, *rule;
} host_case;

/* The precedence, step by step (docs/rules.md has the same table). */
TU_TEST(tc_hostrules, test_host_precedence)
{
  static const char rules[] =
      "default deny\n"
      "deny 10.0.0.0/8\n"
      "deny 169.254.169.254\n"
      "allow 192.0.2.0/24\n"
      "allow host api.partner.example port 443\n"
      "allow host *.cdn.example\n"
      "deny host bad.cdn.example\n"
      "deny host *.mirror.example port 80\n"
      "allow host ci.internal to 10.20.0.0/16\n"
      "allow host *.ci.internal to 10.30.0.0/16 port 443\n"
      "allow host ci.internal\n"
      "allow host meta.example to 169.254.169.254\n";
  static const host_case c[] = {
    /* 4: no address rule: an allow host rule, else the default */
    { "api.partner.example", "203.0.113.5", 443, CURLFENCE_ALLOW, "host", "allow host api.partner.example port 443" },
    { "api.partner.example", "203.0.113.5", 80, CURLFENCE_DENY, "default", "default deny" },
    { "other.example", "203.0.113.5", 443, CURLFENCE_DENY, "default", "default deny" },
    { NULL, "203.0.113.5", 443, CURLFENCE_DENY, "default", "default deny" },
    { "a.cdn.example", "203.0.113.5", 80, CURLFENCE_ALLOW, "host", "allow host *.cdn.example" },
    { "a.b.cdn.example", "203.0.113.5", 80, CURLFENCE_ALLOW, "host", "allow host *.cdn.example" },
    { "cdn.example", "203.0.113.5", 80, CURLFENCE_DENY, "default", "default deny" },
    { "xcdn.example", "203.0.113.5", 80, CURLFENCE_DENY, "default", "default deny" },
    /* 1: deny host first, whatever the address rules say */
    { "bad.cdn.example", "203.0.113.5", 80, CURLFENCE_DENY, "host-deny", "deny host bad.cdn.example" },
    { "bad.cdn.example", "192.0.2.1", 80, CURLFENCE_DENY, "host-deny", "deny host bad.cdn.example" },
    { "x.mirror.example", "192.0.2.1", 80, CURLFENCE_DENY, "host-deny", "deny host *.mirror.example port 80" },
    { "x.mirror.example", "192.0.2.1", 443, CURLFENCE_ALLOW, "rule", "allow 192.0.2.0/24" },
    /* 3: an address rule that allows */
    { NULL, "192.0.2.1", 443, CURLFENCE_ALLOW, "rule", "allow 192.0.2.0/24" },
    { "other.example", "192.0.2.1", 443, CURLFENCE_ALLOW, "rule", "allow 192.0.2.0/24" },
    /* 2: an address rule that denies, unless an exemption names both */
    { "api.partner.example", "10.20.0.5", 443, CURLFENCE_DENY, "rule", "deny 10.0.0.0/8" },
    { "ci.internal", "10.20.0.5", 80, CURLFENCE_ALLOW, "host-to", "allow host ci.internal to 10.20.0.0/16" },
    { "ci.internal", "10.21.0.5", 80, CURLFENCE_DENY, "rule", "deny 10.0.0.0/8" },
    { NULL, "10.20.0.5", 80, CURLFENCE_DENY, "rule", "deny 10.0.0.0/8" },
    { "other.example", "10.20.0.5", 80, CURLFENCE_DENY, "rule", "deny 10.0.0.0/8" },
    { "a.ci.internal", "10.30.0.5", 443, CURLFENCE_ALLOW, "host-to", "allow host *.ci.internal to 10.30.0.0/16 port 443" },
    { "a.ci.internal", "10.30.0.5", 80, CURLFENCE_DENY, "rule", "deny 10.0.0.0/8" },
    { "a.ci.internal", "10.20.0.5", 443, CURLFENCE_DENY, "rule", "deny 10.0.0.0/8" },
    { "meta.example", "169.254.169.254", 80, CURLFENCE_ALLOW, "host-to", "allow host meta.example to 169.254.169.254" },
    /* an exemption also allows where no address rule matched, inside its
     * prefix only */
    { "meta.example", "203.0.113.5", 80, CURLFENCE_DENY, "default", "default deny" },
    { "ci.internal", "203.0.113.5", 80, CURLFENCE_ALLOW, "host", "allow host ci.internal" },
    /* IPv4-mapped is decided as IPv4, names and all */
    { "ci.internal", "::ffff:10.20.0.5", 80, CURLFENCE_ALLOW, "host-to", "allow host ci.internal to 10.20.0.0/16" },
  };
  curlfence_policy *p = tu_load(rules);
  curlfence_verdict v;
  size_t i;

  for(i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
    curlfence_action a = decide_host(p, c[i].host, c[i].addr, c[i].port, &v);

    ck_assert_msg(a == c[i].action && !strcmp(v.reason, c[i].reason) &&
                  !strcmp(v.rule, c[i].rule),
                  "%s at %s port %u: %s by %s (%s), want %s by %s (%s)",
                  c[i].host ? c[i].host : "(no name)", c[i].addr, c[i].port,
                  a == CURLFENCE_ALLOW ? "allow" : "deny", v.rule, v.reason,
                  c[i].action == CURLFENCE_ALLOW ? "allow" : "deny",
                  c[i].rule, c[i].reason);
    if(!strncmp(v.reason, "host", 4)) {
      ck_assert_str_eq(v.file, "test.rules");
      ck_assert_uint_gt(v.line, 4);
      ck_assert_int_eq(v.is_default, 0);
    }
  }
  curlfence_policy_unref(p);
}
END_TEST

/* ------------------------------------------------ against the reference */

static const char *const labels[] = { "a", "b", "ab", "api", "cdn", "x1",
                                      "partner", "example", "test" };
#define NLABELS (sizeof(labels) / sizeof(labels[0]))

static void random_name(uint64_t *seed, char *out, size_t size)
{
  unsigned n = 1 + rnd_next(seed) % 4, i;
  size_t off = 0;

  for(i = 0; i < n; i++)
    off += (size_t)snprintf(out + off, size - off, "%s%s", i ? "." : "",
                            labels[rnd_next(seed) % NLABELS]);
}

/* The index answers as the scan does, for every step's question, on
 * random rules (exact, wildcards, ports, exemptions) and names. */
TU_TEST(tc_hostrules, test_host_index_matches_reference)
{
  uint64_t seed = 18;
  unsigned round;

  for(round = 0; round < (tu_quick() ? 20u : 200u); round++) {
    char *text = malloc(64 * 128), name[128];
    size_t off = 0, i;
    unsigned nrules = 1 + rnd_next(&seed) % 60;
    curlfence_policy *p;
    curlfence_error err;

    ck_assert_ptr_nonnull(text);
    for(i = 0; i < nrules; i++) {
      unsigned kind = rnd_next(&seed) % 4;
      random_name(&seed, name, sizeof(name));
      off += (size_t)snprintf(text + off, 64 * 128 - off, "%s host %s%s%s%s\n",
                              kind == 0 ? "deny" : "allow",
                              rnd_next(&seed) % 2 ? "*." : "", name,
                              kind == 3 ? (rnd_next(&seed) % 2 ? " to 10.0.0.0/8"
                                                          : " to 10.1.0.0/16")
                                        : "",
                              rnd_next(&seed) % 3 ? "" : (rnd_next(&seed) % 2
                                                     ? " port 80"
                                                     : " port 443,8000-8080"));
    }
    ck_assert_msg(curlfence_policy_load_string(&p, text, off, NULL, &err) ==
                  CURLFENCE_OK, "%s\n%s", err.text, text);
    for(i = 0; i < 300; i++) {
      static const unsigned ports[] = { 0, 80, 443, 8000, 8081 };
      uint8_t addr[4] = { 10, (uint8_t)(rnd_next(&seed) % 3), 0, 1 };
      unsigned port = ports[rnd_next(&seed) % 5];
      cf_hostq q;

      random_name(&seed, name, sizeof(name));
      for(q = CF_HOSTQ_DENY; q <= CF_HOSTQ_ALLOW; q++) {
        long want = cf_host_match_linear(&p->rs, q, name, 0, addr, port);
        long got = cf_hostidx_find(p->hosts, &p->rs, q, name, 0, addr,
                                   port);
        ck_assert_msg(got == want, "%s port %u q %d: %ld, want %ld\n%s",
                      name, port, (int)q, got, want, text);
      }
    }
    curlfence_policy_unref(p);
    free(text);
  }
}
END_TEST

/* The text entry point: names as a URL may spell them, addresses that
 * do not parse. */
TU_TEST(tc_hostrules, test_decide_name_text)
{
  curlfence_policy *p = tu_load("default deny\n"
                                "deny 127.0.0.0/8\n"
                                "allow host api.partner.example port 443\n"
                                "allow host ok.example to 127.0.0.0/8\n");
  curlfence_verdict v;
  static const char *const same[] = { "api.partner.example",
                                      "API.Partner.Example",
                                      "api.partner.example." };
  static const char *const bad_addr[] = { "", "203.0.113", "[::1]",
                                          "fe80::1%lo", "api.partner.example",
                                          "203.0.113.5 ", "0x7f.1" };
  size_t i;

  for(i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
    ck_assert_int_eq(curlfence_policy_decide_name(p, same[i], "203.0.113.5",
                                                  443, &v), CURLFENCE_ALLOW);
    ck_assert_str_eq(v.reason, "host");
    ck_assert_uint_eq(v.line, 3);
    ck_assert_int_eq(curlfence_policy_decide_name(p, same[i], "203.0.113.5",
                                                  443, NULL),
                     CURLFENCE_ALLOW);
  }
  /* a name that is not canonical is no name */
  ck_assert_int_eq(curlfence_policy_decide_name(p, "api.partner.example..",
                                                "203.0.113.5", 443, &v),
                   CURLFENCE_DENY);
  ck_assert_str_eq(v.reason, "default");
  ck_assert_int_eq(curlfence_policy_decide_name(p, "a@api.partner.example",
                                                "203.0.113.5", 443, &v),
                   CURLFENCE_DENY);
  ck_assert_int_eq(curlfence_policy_decide_name(p, NULL, "203.0.113.5", 443,
                                                &v), CURLFENCE_DENY);
  ck_assert_int_eq(v.is_default, 1);
  /* another name on the same address; the allowed name on another port */
  ck_assert_int_eq(curlfence_policy_decide_name(p, "other.example",
                                                "203.0.113.5", 443, &v),
                   CURLFENCE_DENY);
  ck_assert_int_eq(curlfence_policy_decide_name(p, "api.partner.example",
                                                "203.0.113.5", 80, &v),
                   CURLFENCE_DENY);
  /* an address rule's denial stands for a name, except by exemption */
  ck_assert_int_eq(curlfence_policy_decide_name(p, "api.partner.example",
                                                "127.0.0.1", 443, &v),
                   CURLFENCE_DENY);
  ck_assert_str_eq(v.rule, "deny 127.0.0.0/8");
  ck_assert_int_eq(curlfence_policy_decide_name(p, "OK.example.",
                                                "::ffff:127.0.0.1", 443, &v),
                   CURLFENCE_ALLOW);
  ck_assert_str_eq(v.reason, "host-to");
  /* 0.0.0.0 is decided as 127.0.0.1 too, names included */
  ck_assert_int_eq(curlfence_policy_decide_name(p, "api.partner.example",
                                                "0.0.0.0", 443, &v),
                   CURLFENCE_DENY);
  for(i = 0; i < sizeof(bad_addr) / sizeof(bad_addr[0]); i++) {
    ck_assert_int_eq(curlfence_policy_decide_name(p, "api.partner.example",
                                                  bad_addr[i], 443, &v),
                     CURLFENCE_DENY);
    ck_assert_str_eq(v.reason, "malformed");
    ck_assert_ptr_null(v.file);
  }
  ck_assert_int_eq(curlfence_policy_decide_name(p, "api.partner.example",
                                                NULL, 443, &v),
                   CURLFENCE_DENY);
  ck_assert_str_eq(v.reason, "malformed");
  ck_assert_int_eq(curlfence_policy_decide_name(p, "api.partner.example",
                                                "203.0.113.5", 65536, &v),
                   CURLFENCE_DENY);
  ck_assert_str_eq(v.reason, "malformed");
  ck_assert_int_eq(curlfence_policy_decide_name(NULL, "api.partner.example",
                                                "203.0.113.5", 443, &v),
                   CURLFENCE_DENY);
  ck_assert_str_eq(v.reason, "no-policy");
  curlfence_policy_unref(p);
}
END_TEST
