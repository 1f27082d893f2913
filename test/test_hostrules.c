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

/* The same with the name prepared in *n, as the guards keep it. */
static curlfence_action decide_prep(const curlfence_policy *p,
                                    cf_hostprep *n, const char *addr,
                                    unsigned port, curlfence_verdict *v)
{
  struct sockaddr_storage ss;
  socklen_t len = tu_sockaddr(&ss, addr, port);
  cf_decision d;

  cf_dest_init(&d.dest, (struct sockaddr *)&ss, len);
  d.dest.host = n->host;
  d.dest.prep = n;
  cf_decide(p, &d, 0);
  *v = d.verdict;
  return d.action;
}

/* A prepared name's lookups for each step of a decision (a deny host
 * rule first) against the scan: twice, the first finding the entries the
 * name hits, the second reading only those. */
static void check_prep(const curlfence_policy *p, const char *name,
                       const uint8_t *addr, unsigned port)
{
  long deny = cf_host_match_linear(&p->rs, CF_HOSTQ_DENY, name, 0, addr,
                                   port);
  cf_hostprep n;
  int round;
  cf_hostq q;

  cf_hostprep_init(&n, name);
  for(round = 0; round < 2; round++)
    for(q = CF_HOSTQ_DENY; q <= CF_HOSTQ_ALLOW; q++) {
      long want = deny >= 0 || q == CF_HOSTQ_DENY
                      ? deny
                      : cf_host_match_linear(&p->rs, q, name, 0, addr, port);
      long got = cf_hostidx_find_prep(p->hosts, &p->rs, q, &n, 0, addr,
                                      port);

      ck_assert_msg(got == want, "prepared %s port %u q %d round %d: %ld, "
                    "want %ld", name, port, (int)q, round, got, want);
    }
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
      check_prep(p, name, addr, port);
    }
    curlfence_policy_unref(p);
    free(text);
  }
}
END_TEST

/* Labels of every length that the index reads differently: one byte,
 * a word, across words, past the 40 bytes an entry keeps, the longest. */
static void long_label(uint64_t *seed, char *out, size_t size)
{
  static const size_t lens[] = { 1, 7, 8, 9, 15, 16, 17, 23, 39, 40, 41,
                                 63 };
  size_t n = lens[rnd_next(seed) % (sizeof(lens) / sizeof(lens[0]))], i;

  if(n >= size)
    n = size - 1;
  /* few letters, so that names of one length often share their words */
  for(i = 0; i < n; i++)
    out[i] = "ab"[rnd_next(seed) % 2];
  out[n] = '\0';
}

/* A name of up to max bytes from such labels; with junk, the spellings
 * a canonical name never has (empty labels, a leading or trailing dot),
 * which the index must still answer as the scan does. */
static size_t deep_name(uint64_t *seed, char *out, size_t max, int junk)
{
  unsigned n = 1 + rnd_next(seed) % 12, i;
  size_t off = 0;

  out[0] = '\0';
  for(i = 0; i < n; i++) {
    char label[64];

    long_label(seed, label, sizeof(label));
    if(off + strlen(label) + 1 > max)
      break;
    off += (size_t)snprintf(out + off, max + 1 - off, "%s%s", i ? "." : "",
                            label);
  }
  if(!off)
    off = (size_t)snprintf(out, max + 1, "a");
  if(junk && off + 1 < max) {
    switch(rnd_next(seed) % 4) {
    case 0:
      memmove(out + 1, out, off + 1);
      out[0] = '.';
      off++;
      break;
    case 1:
      out[off++] = '.';
      out[off] = '\0';
      break;
    case 2: {
      char *dot = strchr(out, '.');

      if(dot) {
        memmove(dot + 1, dot, strlen(dot) + 1);
        off++;
      }
      break;
    }
    default:
      break;
    }
  }
  return off;
}

/* The same on deep names of long labels up to 253 bytes: suffixes that
 * start inside, at and past a word, names past what an entry keeps,
 * names that differ only in their first bytes, and the spellings a
 * canonical name never has. */
TU_TEST(tc_hostrules, test_host_index_deep_names)
{
  uint64_t seed = 2026;
  unsigned round;

  for(round = 0; round < (tu_quick() ? 10u : 60u); round++) {
    size_t cap = 300 * 300, off = 0, i;
    char *text = malloc(cap), *names[40];
    unsigned nrules = 1 + rnd_next(&seed) % 40;
    curlfence_policy *p;
    curlfence_error err;

    ck_assert_ptr_nonnull(text);
    for(i = 0; i < nrules; i++) {
      int wild = rnd_next(&seed) % 2;

      names[i] = malloc(CF_HOST_MAX + 1);
      ck_assert_ptr_nonnull(names[i]);
      deep_name(&seed, names[i], wild ? CF_HOST_MAX - 2 : CF_HOST_MAX, 0);
      off += (size_t)snprintf(text + off, cap - off, "%s host %s%s%s\n",
                              rnd_next(&seed) % 4 ? "allow" : "deny",
                              wild ? "*." : "", names[i],
                              rnd_next(&seed) % 3 ? "" : " port 443");
    }
    ck_assert_msg(curlfence_policy_load_string(&p, text, off, NULL, &err) ==
                  CURLFENCE_OK, "%s\n%s", err.text, text);
    for(i = 0; i < 400; i++) {
      static const uint8_t addr[4] = { 10, 0, 0, 1 };
      char name[CF_HOST_MAX + 80];
      size_t len;
      cf_hostq q;

      if(rnd_next(&seed) % 2) {
        /* a rule's name, or a name below it */
        const char *r = names[rnd_next(&seed) % nrules];
        char label[64];

        long_label(&seed, label, sizeof(label));
        if(rnd_next(&seed) % 3 &&
           strlen(label) + 1 + strlen(r) <= CF_HOST_MAX)
          snprintf(name, sizeof(name), "%s.%s", label, r);
        else if(rnd_next(&seed) % 2 && strlen(r) < CF_HOST_MAX)
          /* an empty label below a wildcard's SUFFIX: not below it */
          snprintf(name, sizeof(name), ".%s", r);
        else
          snprintf(name, sizeof(name), "%s", r);
        len = strlen(name);
      }
      else
        len = deep_name(&seed, name, CF_HOST_MAX, rnd_next(&seed) % 3 == 0);
      ck_assert_uint_le(len, CF_HOST_MAX);
      for(q = CF_HOSTQ_DENY; q <= CF_HOSTQ_ALLOW; q++) {
        long want = cf_host_match_linear(&p->rs, q, name, 0, addr, 443);
        long got = cf_hostidx_find(p->hosts, &p->rs, q, name, 0, addr, 443);

        ck_assert_msg(got == want, "%s q %d: %ld, want %ld\n%s", name,
                      (int)q, got, want, text);
      }
      check_prep(p, name, addr, 443);
    }
    curlfence_policy_unref(p);
    for(i = 0; i < nrules; i++)
      free(names[i]);
    free(text);
  }
}
END_TEST

/* Many names that differ in a few bytes, as a generated policy has them:
 * long probe chains in the index, slots that share a tag, entries with
 * the same tail words; every rule is found where the scan finds it, and
 * names one byte off are not. */
TU_TEST(tc_hostrules, test_host_index_many_names)
{
  size_t n = tu_quick() ? 2000 : 20000, cap = n * 48 + 64, off = 0, i;
  char *text = malloc(cap);
  uint64_t seed = 1808;
  curlfence_policy *p;
  curlfence_error err;

  ck_assert_ptr_nonnull(text);
  for(i = 0; i < n; i++)
    if(i % 2)
      off += (size_t)snprintf(text + off, cap - off,
                              "allow host *.w%zu.example.test\n", i);
    else
      off += (size_t)snprintf(text + off, cap - off,
                              "%s host h%zu.example.test port 443\n",
                              i % 6 == 4 ? "deny" : "allow", i);
  ck_assert_msg(curlfence_policy_load_string(&p, text, off, NULL, &err) ==
                CURLFENCE_OK, "%s", err.text);
  for(i = 0; i < 600; i++) {
    static const uint8_t addr[4] = { 203, 0, 113, 5 };
    size_t r = (size_t)(rnd_next(&seed) % (n + 10));
    char name[96];
    cf_hostq q;

    switch(rnd_next(&seed) % 5) {
    case 0:
      snprintf(name, sizeof(name), "h%zu.example.test", r);
      break;
    case 1:
      snprintf(name, sizeof(name), "api.w%zu.example.test", r);
      break;
    case 2:
      snprintf(name, sizeof(name), "w%zu.example.test", r);
      break;
    case 3:
      snprintf(name, sizeof(name), "x.h%zu.example.test", r);
      break;
    default:
      snprintf(name, sizeof(name), "a.b.w%zu.example.tesu", r);
    }
    for(q = CF_HOSTQ_DENY; q <= CF_HOSTQ_ALLOW; q++) {
      long want = cf_host_match_linear(&p->rs, q, name, 0, addr, 443);
      long got = cf_hostidx_find(p->hosts, &p->rs, q, name, 0, addr, 443);

      ck_assert_msg(got == want, "%s q %d: %ld, want %ld", name, (int)q, got,
                    want);
    }
    check_prep(p, name, addr, 443);
  }
  curlfence_policy_unref(p);
  free(text);
}
END_TEST

/* A decision with a name on the fast path (no verdict) and the long way
 * (a verdict) agree, step by step of the precedence: the guards decide
 * the one way and explain the other. */
TU_TEST(tc_hostrules, test_host_fast_path_matches_verdict)
{
  static const char *const addrs[] = { "203.0.113.5", "192.0.2.1",
                                       "10.20.0.5", "10.30.0.5",
                                       "::ffff:10.20.0.5", "2001:db8::1" };
  static const char *const hosts[] = { NULL, "api.partner.example",
                                       "a.cdn.example", "bad.cdn.example",
                                       "x.mirror.example", "ci.internal",
                                       "a.ci.internal", "other.example" };
  static const unsigned ports[] = { 80, 443 };
  curlfence_policy *p = tu_load("default deny\n"
                                "deny 10.0.0.0/8\n"
                                "allow 192.0.2.0/24\n"
                                "allow host api.partner.example port 443\n"
                                "allow host *.cdn.example\n"
                                "deny host bad.cdn.example\n"
                                "deny host *.mirror.example port 80\n"
                                "allow host ci.internal to 10.20.0.0/16\n"
                                "allow host *.ci.internal to 10.30.0.0/16\n");
  size_t a, h, k;

  for(a = 0; a < sizeof(addrs) / sizeof(addrs[0]); a++)
    for(h = 0; h < sizeof(hosts) / sizeof(hosts[0]); h++)
      for(k = 0; k < sizeof(ports) / sizeof(ports[0]); k++) {
        struct sockaddr_storage ss;
        socklen_t len = tu_sockaddr(&ss, addrs[a], ports[k]);
        cf_decision fast, slow, prep;
        cf_hostprep n;

        cf_dest_init(&fast.dest, (struct sockaddr *)&ss, len);
        fast.dest.host = hosts[h];
        slow = fast;
        prep = fast;
        cf_hostprep_init(&n, hosts[h]);
        prep.dest.prep = &n;
        cf_decide(p, &fast, 0);
        cf_decide(p, &slow, 1);
        cf_decide(p, &prep, 0);
        ck_assert_msg(fast.action == slow.action &&
                      !strcmp(fast.verdict.reason, slow.verdict.reason) &&
                      fast.hit == slow.hit,
                      "%s at %s port %u: fast %d %s hit %ld, verdict %d %s "
                      "hit %ld", hosts[h] ? hosts[h] : "(no name)", addrs[a],
                      ports[k], fast.action, fast.verdict.reason, fast.hit,
                      slow.action, slow.verdict.reason, slow.hit);
        ck_assert_msg(prep.action == fast.action &&
                      !strcmp(prep.verdict.reason, fast.verdict.reason) &&
                      prep.hit == fast.hit,
                      "%s at %s port %u prepared: %d %s hit %ld", hosts[h] ?
                      hosts[h] : "(no name)", addrs[a], ports[k],
                      prep.action, prep.verdict.reason, prep.hit);
      }
  curlfence_policy_unref(p);
}
END_TEST

/* A name below more wildcards than its memo holds: looked up each time,
 * with the same answers. */
TU_TEST(tc_hostrules, test_host_prep_more_hits_than_memo)
{
  curlfence_policy *p = tu_load("default deny\n"
                                "allow host *.h.g.f.e.d.c.b.example port 1\n"
                                "allow host *.g.f.e.d.c.b.example port 2\n"
                                "allow host *.f.e.d.c.b.example port 3\n"
                                "allow host *.e.d.c.b.example port 4\n"
                                "allow host *.d.c.b.example port 5\n"
                                "allow host *.c.b.example port 6\n"
                                "allow host *.b.example port 7\n"
                                "deny host i.h.g.f.e.d.c.b.example port 8\n");
  static const uint8_t addr[4] = { 203, 0, 113, 5 };
  const char *name = "i.h.g.f.e.d.c.b.example";
  curlfence_verdict v;
  cf_hostprep n;
  unsigned port;

  ck_assert_uint_lt(CF_HOSTPREP_HITS, 8);
  for(port = 0; port <= 9; port++)
    check_prep(p, name, addr, port);
  cf_hostprep_init(&n, name);
  ck_assert_int_eq(decide_prep(p, &n, "203.0.113.5", 7, &v),
                   CURLFENCE_ALLOW);
  ck_assert_uint_eq(n.memo_id, 0);
  ck_assert_int_eq(decide_prep(p, &n, "203.0.113.5", 8, &v),
                   CURLFENCE_DENY);
  ck_assert_str_eq(v.reason, "host-deny");
  curlfence_policy_unref(p);
}
END_TEST

/* A prepared name remembers the entries it hit in one policy's index;
 * after a reload (here the old policy freed first, so the new index may
 * well sit where the old one was) that memo says nothing, and the name
 * is decided on the new rules: entry 0 is another name there. */
TU_TEST(tc_hostrules, test_host_prep_memo_not_reused_after_reload)
{
  curlfence_policy *p = tu_load("default deny\n"
                                "allow host a.example\n");
  curlfence_verdict v;
  cf_hostprep n;

  cf_hostprep_init(&n, "a.example");
  ck_assert_int_eq(decide_prep(p, &n, "203.0.113.5", 443, &v),
                   CURLFENCE_ALLOW);
  ck_assert_str_eq(v.reason, "host");
  ck_assert_uint_ne(n.memo_id, 0);
  curlfence_policy_unref(p);
  p = tu_load("default deny\n"
              "allow host b.example\n"
              "allow host a.example port 1\n");
  ck_assert_int_eq(decide_prep(p, &n, "203.0.113.5", 443, &v),
                   CURLFENCE_DENY);
  ck_assert_str_eq(v.reason, "default");
  ck_assert_int_eq(decide_prep(p, &n, "203.0.113.5", 1, &v),
                   CURLFENCE_ALLOW);
  curlfence_policy_unref(p);
}
END_TEST

/* Expectations with a name that hold: the policy loads, and lint's check
 * of the parsed rules (with the host rules' index) agrees; one edit that
 * breaks one of them makes both refuse it, at that expect line. */
TU_TEST(tc_hostrules, test_expect_host_holds)
{
  static const char rules[] =
      "default deny\n"
      "deny 10.0.0.0/8\n"
      "allow host api.partner.example port 443\n"
      "allow host *.cdn.example\n"
      "deny host bad.cdn.example\n"
      "allow host ci.internal to 10.20.0.0/16 port 443\n"
      "expect allow host api.partner.example at 203.0.113.5 port 443\n"
      "expect deny host api.partner.example at 203.0.113.5 port 80\n"
      "expect deny host other.example at 203.0.113.5 port 443\n"
      "expect deny 203.0.113.5 port 443\n"
      "expect allow host a.b.cdn.example at 2001:db8::1\n"
      "expect deny host cdn.example at 2001:db8::1 port 443\n"
      "expect deny host bad.cdn.example at 203.0.113.5\n"
      "expect deny host api.partner.example at 10.20.0.5 port 443\n"
      "expect allow host ci.internal at 10.20.0.5 port 443\n"
      "expect allow host ci.internal at ::ffff:10.20.0.5 port 443\n"
      "expect deny host ci.internal at 10.21.0.5 port 443\n"
      "expect deny host ci.internal at 10.20.0.5 port 80\n";
  static const struct {
    const char *from, *to;
    unsigned line;
  } edits[] = {
    { "deny host bad.cdn.example", "deny host bad.cdn.example port 80", 13 },
    { "allow host ci.internal to 10.20.0.0/16 port 443",
      "allow host ci.internal to 10.0.0.0/8 port 443", 17 },
    { "allow host *.cdn.example", "allow host *.c.cdn.example", 11 },
  };
  curlfence_policy *p = NULL;
  curlfence_error err;
  cf_ruleset rs;
  size_t i;

  ck_assert_msg(curlfence_policy_load_string(&p, rules, sizeof(rules) - 1,
                                             "test.rules", &err) ==
                CURLFENCE_OK, "%s", err.text);
  curlfence_policy_unref(p);
  memset(&rs, 0, sizeof(rs));
  ck_assert_int_eq(cf_rules_parse_string(&rs, rules, sizeof(rules) - 1,
                                         "test.rules", &err), CURLFENCE_OK);
  ck_assert_msg(cf_expect_check_rules(&rs, &err) == CURLFENCE_OK, "%s",
                err.text);
  cf_ruleset_free(&rs);
  for(i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
    char text[sizeof(rules) + 64], want[32];
    const char *at = strstr(rules, edits[i].from);
    size_t len;

    ck_assert_ptr_nonnull(at);
    len = (size_t)snprintf(text, sizeof(text), "%.*s%s%s",
                           (int)(at - rules), rules, edits[i].to,
                           at + strlen(edits[i].from));
    snprintf(want, sizeof(want), "test.rules:%u:1: ", edits[i].line);
    p = NULL;
    ck_assert_int_eq(curlfence_policy_load_string(&p, text, len,
                                                  "test.rules", &err),
                     CURLFENCE_E_EXPECT);
    ck_assert_ptr_null(p);
    ck_assert_msg(!strncmp(err.text, want, strlen(want)), "%s: %s, want %s",
                  edits[i].to, err.text, want);
    memset(&rs, 0, sizeof(rs));
    ck_assert_int_eq(cf_rules_parse_string(&rs, text, len, "test.rules",
                                           &err), CURLFENCE_OK);
    ck_assert_int_eq(cf_expect_check_rules(&rs, &err), CURLFENCE_E_EXPECT);
    ck_assert_msg(!strncmp(err.text, want, strlen(want)), "lint %s: %s",
                  edits[i].to, err.text);
    cf_ruleset_free(&rs);
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
