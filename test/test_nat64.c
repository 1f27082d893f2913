/* SPDX-License-Identifier: MIT */
/*
 * Address semantics: nat64 prefixes decided as their embedded IPv4
 * address, and the host's own addresses ("self").
 *
 * Nothing here connects anywhere: NAT64 and local addresses are decided
 * through curlfence_policy_decide(), and the libcurl test chains an open
 * callback that records the address and returns CURL_SOCKET_BAD.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_all(const char *path)
{
  FILE *f = fopen(path, "rb");
  char *buf;
  long n;

  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
  n = ftell(f);
  ck_assert_int_ge(n, 0);
  rewind(f);
  buf = malloc((size_t)n + 1);
  ck_assert_ptr_nonnull(buf);
  ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

/* The shipped rules with `extra` appended; loaded from memory, so the
 * never-reach list is included by its path from the working directory. */
static curlfence_policy *load_default(const char *extra)
{
  char *text = read_all("rules/default.rules"), *out, *at;
  static const char inc[] = "\ninclude never-reach.rules";
  char *fixed;

  at = strstr(text, inc);
  ck_assert_ptr_nonnull(at);
  fixed = malloc(strlen(text) + 8);
  ck_assert_ptr_nonnull(fixed);
  sprintf(fixed, "%.*s\ninclude rules/never-reach.rules%s", (int)(at - text),
          text, at + strlen(inc));
  free(text);
  text = fixed;
  size_t len = strlen(text) + strlen(extra) + 2;
  curlfence_policy *p = NULL;
  curlfence_error err;

  out = malloc(len);
  ck_assert_ptr_nonnull(out);
  snprintf(out, len, "%s%s", text, extra);
  ck_assert_msg(curlfence_policy_load_string(&p, out, strlen(out),
                                             "default.rules", &err)
                    == CURLFENCE_OK, "%s", err.text);
  free(text);
  free(out);
  return p;
}

static void expect(const curlfence_policy *p, const char *addr, unsigned port,
                   curlfence_action action, const char *rule);

/* addr:port must get action from the rule whose text is rule, and the
 * verdict say which IPv4 address it was decided as ("" when none). */
static void expect_as(const curlfence_policy *p, const char *addr,
                      unsigned port, curlfence_action action,
                      const char *rule, const char *as)
{
  curlfence_verdict v;
  curlfence_event ev;
  char json[1024], want[64];

  expect(p, addr, port, action, rule);
  tu_decide(p, addr, port, &v);
  if(as[0])
    ck_assert_msg(strncmp(v.reason, "nat64/", 6) == 0,
                  "%s: reason \"%s\"", addr, v.reason);
  else
    ck_assert_msg(strcmp(v.reason, "rule") == 0 ||
                  strcmp(v.reason, "default") == 0,
                  "%s: reason \"%s\"", addr, v.reason);
  /* the event of this decision names the IPv4 address in "as" */
  memset(&ev, 0, sizeof(ev));
  snprintf(ev.addr, sizeof(ev.addr), "%s", addr);
  ev.family = strchr(addr, ':') ? AF_INET6 : AF_INET;
  ev.port = port;
  ev.action = v.action;
  ev.verdict = v;
  curlfence_event_json(&ev, json, sizeof(json));
  if(as[0])
    snprintf(want, sizeof(want), "\"as\":\"%s\",", as);
  else
    snprintf(want, sizeof(want), "\"as\":null,");
  ck_assert_msg(strstr(json, want) != NULL, "%s: %s lacks %s", addr, json,
                want);
}

/* addr:port must get action from the rule whose text is rule. */
static void expect(const curlfence_policy *p, const char *addr, unsigned port,
                   curlfence_action action, const char *rule)
{
  curlfence_verdict v;

  ck_assert_msg(tu_decide(p, addr, port, &v) == action,
                "%s port %u: %s by %s", addr, port,
                v.action == CURLFENCE_ALLOW ? "allowed" : "denied", v.rule);
  ck_assert_msg(strcmp(v.rule, rule) == 0, "%s port %u: decided by \"%s\", "
                "want \"%s\"", addr, port, v.rule, rule);
  /* the path without a verdict reads the table alone: same action */
  ck_assert_int_eq(tu_decide(p, addr, port, NULL), action);
}

/* ---------------------------------------------------------------- NAT64 */

TU_SUITE("nat64-self", NULL);
TU_CASE(tc_nat64, "nat64", 0, NULL, NULL);

#define ALLOW CURLFENCE_ALLOW
#define DENY CURLFENCE_DENY

/* The policies of the decisions below: the shipped rules with extra
 * lines, or a text of their own. */
enum { SHIPPED, LOCAL_48, DECLARED, OPERATOR_64, PORTS };
static const struct {
  const char *extra, *text;
} nat64_policies[] = {
  [SHIPPED] = { "", NULL },
  [LOCAL_48] = { "nat64 64:ff9b:1::/48\n", NULL },
  /* The operator's own file includes the shipped one and declares its
   * prefix, as docs/rules.md section 6.1 suggests. */
  [DECLARED] = { NULL, "include rules/default.rules\n"
                       "nat64 64:ff9b:1:2::/64\n" },
  [OPERATOR_64] = { "nat64 2a00:1:2:3::/64\n", NULL },
  /* IPv4 port rules apply to the embedded address; IPv6 ones do not. */
  [PORTS] = { NULL, "default deny\n"
                    "nat64 64:ff9b::/96\n"
                    "allow 93.184.215.0/24 port 443\n"
                    "allow ::/0 port 80\n" },
};

/* Under the policy, addr:port gets action from the rule whose text is
 * rule, decided as the IPv4 address as ("" when none). */
static const struct {
  int policy;
  const char *addr;
  unsigned port;
  curlfence_action action;
  const char *rule, *as;
} nat64_rows[] = {
  { SHIPPED, "64:ff9b::808:808", 443, ALLOW,
    "default allow", "8.8.8.8" },
  { SHIPPED, "64:ff9b::7f00:1", 80, DENY,
    "deny 127.0.0.0/8", "127.0.0.1" },
  { SHIPPED, "64:ff9b::a9fe:a9fe", 80, DENY,
    "deny 169.254.169.254", "169.254.169.254" },
  { SHIPPED, "64:ff9b::a00:1", 443, DENY,
    "deny 10.0.0.0/8", "10.0.0.1" },
  { SHIPPED, "64:ff9b::", 443, DENY,
    "deny 0.0.0.0/8", "0.0.0.0" },
  { SHIPPED, "64:ff9b::ffff:ffff", 443, DENY,
    "deny 255.255.255.255", "255.255.255.255" },
  /* nothing translated: no "as" */
  { SHIPPED, "8.8.8.8", 443, ALLOW,
    "default allow", "" },
  { SHIPPED, "::ffff:127.0.0.1", 443, DENY,
    "deny 127.0.0.0/8", "" },
  { SHIPPED, "64:ff9b:1::1", 443, DENY,
    "deny ::/0", "" },
  /* written the RFC 6052 way, with the IPv4 address in dotted form */
  { SHIPPED, "64:ff9b::127.0.0.1", 443, DENY,
    "deny 127.0.0.0/8", "127.0.0.1" },
  { SHIPPED, "64:ff9b::1.1.1.1", 443, ALLOW,
    "default allow", "1.1.1.1" },
  /* right next to the prefix the IPv6 rules apply again */
  { SHIPPED, "64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff", 443, DENY,
    "deny ::/0", "" },
  { SHIPPED, "64:ff9b:0:0:0:1::", 443, DENY,
    "deny ::/0", "" },
  /* local use stays denied until its operator declares it; 6to4, Teredo
   * and IPv4-compatible addresses stay denied */
  { SHIPPED, "64:ff9b:1:808:8:800::", 443, DENY,
    "deny ::/0", "" },
  { SHIPPED, "2002:808:808::1", 443, DENY,
    "deny 2002::/16", "" },
  { SHIPPED, "2001:0:4136:e378::1", 443, DENY,
    "deny 2001::/32", "" },
  { SHIPPED, "::8.8.8.8", 443, DENY,
    "deny ::/96", "" },
  { LOCAL_48, "64:ff9b:1:808:8:800::", 443, ALLOW,
    "default allow", "8.8.8.8" },
  { LOCAL_48, "64:ff9b:1:a00:0:100::", 443, DENY,
    "deny 10.0.0.0/8", "10.0.0.1" },
  { LOCAL_48, "64:ff9b::7f00:1", 80, DENY,
    "deny 127.0.0.0/8", "127.0.0.1" },
  { DECLARED, "64:ff9b:1:2:8:808:800:0", 443, ALLOW,
    "default allow", "8.8.8.8" },
  { DECLARED, "64:ff9b:1:2:7f:0:100:0", 443, DENY,
    "deny 127.0.0.0/8", "127.0.0.1" },
  { DECLARED, "64:ff9b:1:3:8:808:800:0", 443, DENY,
    "deny ::/0", "" },
  { OPERATOR_64, "2a00:1:2:3:a:0:100:0", 443, DENY,
    "deny 10.0.0.0/8", "10.0.0.1" },
  { OPERATOR_64, "2a00:1:2:3:8:808:800:0", 443, ALLOW,
    "default allow", "8.8.8.8" },
  /* the neighbouring /64 is ordinary global unicast */
  { OPERATOR_64, "2a00:1:2:4:a:0:100:0", 443, ALLOW,
    "allow 2000::/3", "" },
  { PORTS, "64:ff9b::93.184.215.14", 443, ALLOW,
    "allow 93.184.215.0/24 port 443", "93.184.215.14" },
  { PORTS, "64:ff9b::93.184.215.14", 80, DENY,
    "default deny", "93.184.215.14" },
  { PORTS, "2001:db8::1", 80, ALLOW,
    "allow ::/0 port 80", "" },
};

TU_LOOP(tc_nat64, nat64_decisions, 0,
        (int)(sizeof(nat64_rows) / sizeof(nat64_rows[0])))
{
  const int policy = nat64_rows[_i].policy;
  curlfence_policy *p = nat64_policies[policy].text
                        ? tu_load(nat64_policies[policy].text)
                        : load_default(nat64_policies[policy].extra);

  expect_as(p, nat64_rows[_i].addr, nat64_rows[_i].port,
            nat64_rows[_i].action, nat64_rows[_i].rule, nat64_rows[_i].as);
  curlfence_policy_unref(p);
}
END_TEST

/* ----------------------------------------------------------------- self */

typedef struct local_addr {
  char text[INET6_ADDRSTRLEN];
  char ifname[64];
  int v6;
} local_addr;

/* This host's addresses as getifaddrs lists them, loopback included. */
static size_t local_addrs(local_addr *out, size_t max)
{
  struct ifaddrs *all, *i;
  size_t n = 0;

  ck_assert_int_eq(getifaddrs(&all), 0);
  for(i = all; i && n < max; i = i->ifa_next) {
    const void *a;

    if(!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET &&
                        i->ifa_addr->sa_family != AF_INET6))
      continue;
    out[n].v6 = i->ifa_addr->sa_family == AF_INET6;
    a = out[n].v6 ? (const void *)&((struct sockaddr_in6 *)(void *)
                                    i->ifa_addr)->sin6_addr
                  : (const void *)&((struct sockaddr_in *)(void *)
                                    i->ifa_addr)->sin_addr;
    inet_ntop(out[n].v6 ? AF_INET6 : AF_INET, a, out[n].text,
              sizeof(out[n].text));
    snprintf(out[n].ifname, sizeof(out[n].ifname), "%s", i->ifa_name);
    n++;
  }
  freeifaddrs(all);
  return n;
}

/* Whether this host lists addr on an interface. */
static int has_addr(const local_addr *l, size_t n, const char *addr)
{
  for(size_t i = 0; i < n; i++)
    if(strcmp(l[i].text, addr) == 0)
      return 1;
  return 0;
}

TU_CASE(tc_self, "self", 0, NULL, NULL);

TU_TEST(tc_self, self_rules)
{
  curlfence_policy *p = tu_load("default allow\ndeny self\n");
  local_addr l[64];
  size_t n = local_addrs(l, 64), i, others = 0;
  curlfence_verdict v;
  char want[200];

  for(i = 0; i < n; i++) {
    others++;
    ck_assert_int_eq(tu_decide(p, l[i].text, 6379, &v), CURLFENCE_DENY);
    /* "(127.0.0.1/8, lo)" for a loopback interface's prefix */
    snprintf(want, sizeof(want), "deny self (%.46s", l[i].text);
    ck_assert_msg(strncmp(v.rule, want, strlen(want)) == 0 &&
                  (v.rule[strlen(want)] == ',' ||
                   v.rule[strlen(want)] == '/'),
                  "%s decided by \"%s\"", l[i].text, v.rule);
    ck_assert_uint_eq(v.line, 2);
    ck_assert_int_eq(tu_decide(p, l[i].text, 6379, NULL), CURLFENCE_DENY);
  }
  /* the loopback interface's whole IPv4 prefix reaches this host */
  if(has_addr(l, n, "127.0.0.1")) {
    ck_assert_int_eq(tu_decide(p, "127.0.0.2", 80, &v), CURLFENCE_DENY);
    ck_assert_msg(strncmp(v.rule, "deny self (127.0.0.1/", 21) == 0, "%s",
                  v.rule);
    ck_assert_int_eq(tu_decide(p, "127.254.0.1", 80, NULL), CURLFENCE_DENY);
  }
  ck_assert_int_eq(tu_decide(p, "128.0.0.1", 80, NULL), CURLFENCE_ALLOW);
  /* one rule per distinct address */
  ck_assert_uint_le(curlfence_policy_rule_count(p), others);
  ck_assert(others == 0 || curlfence_policy_rule_count(p) > 0);
  curlfence_policy_unref(p);
}
END_TEST

/* A self rule is a /32 or /128 like any other: a written /32 with a port
 * list outranks it, a shorter prefix does not. */
TU_TEST(tc_self, self_ranked)
{
  local_addr l[64];
  size_t n = local_addrs(l, 64), i;
  char text[400], want[200];
  curlfence_policy *p;

  for(i = 0; i < n; i++) {
    snprintf(text, sizeof(text),
             "default deny\nallow self port 80,443\nallow %.46s port 22\n"
             "deny %s\n", l[i].text, l[i].v6 ? "::/0" : "0.0.0.0/0");
    p = tu_load(text);
    snprintf(want, sizeof(want), "allow self port 80,443 (%.46s, %.20s)",
             l[i].text, l[i].ifname);
    /* the first interface naming an address names its rule */
    if(tu_decide(p, l[i].text, 80, NULL) == CURLFENCE_ALLOW) {
      curlfence_verdict v;
      tu_decide(p, l[i].text, 443, &v);
      ck_assert_int_eq(v.action, CURLFENCE_ALLOW);
      ck_assert_msg(strncmp(v.rule, want, strlen("allow self port 80,443 (")
                            + strlen(l[i].text)) == 0, "%s", v.rule);
    }
    else
      ck_abort_msg("%s port 80 not allowed by allow self", l[i].text);
    snprintf(want, sizeof(want), "allow %.46s port 22", l[i].text);
    expect(p, l[i].text, 22, CURLFENCE_ALLOW, want);
    ck_assert_int_eq(tu_decide(p, l[i].text, 8080, NULL), CURLFENCE_DENY);
    curlfence_policy_unref(p);
  }
}
END_TEST

TU_TEST(tc_self, self_in_default_rules)
{
  curlfence_policy *p = load_default("");
  local_addr l[64];
  size_t n = local_addrs(l, 64), i;
  curlfence_verdict v;

  for(i = 0; i < n; i++) {
    ck_assert_msg(tu_decide(p, l[i].text, 6379, &v) == CURLFENCE_DENY,
                  "own address %s allowed by %s", l[i].text, v.rule);
    ck_assert_int_eq(v.is_default, 0);
  }
  expect(p, "127.0.0.1", 6379, CURLFENCE_DENY, "deny 127.0.0.0/8");
  /* self ties with the written rule for ::1 and comes first */
  if(has_addr(l, n, "::1")) {
    ck_assert_int_eq(tu_decide(p, "::1", 6379, &v), CURLFENCE_DENY);
    ck_assert_msg(strncmp(v.rule, "deny self (::1, ", 16) == 0, "%s", v.rule);
  }
  else
    expect(p, "::1", 6379, CURLFENCE_DENY, "deny ::1/128");
  curlfence_policy_unref(p);
}
END_TEST

/* ------------------------------------------------------------- libcurl */

typedef struct seen {
  int n;
  char addr[4][INET6_ADDRSTRLEN];
} seen;

/* Chained after the guard: records what it was asked to open and opens
 * nothing, so no packet leaves for a NAT64 address. */
static curl_socket_t record_open(void *clientp, curlsocktype purpose,
                                 struct curl_sockaddr *a)
{
  seen *s = clientp;

  (void)purpose;
  if(s->n < 4 && a->family == AF_INET6) {
    struct sockaddr_in6 in6;
    memcpy(&in6, &a->addr, sizeof(in6));
    inet_ntop(AF_INET6, &in6.sin6_addr, s->addr[s->n], INET6_ADDRSTRLEN);
  }
  s->n++;
  return CURL_SOCKET_BAD;
}

TU_CASE(tc_libcurl, "libcurl", 60, NULL, NULL);

TU_TEST(tc_libcurl, guard_nat64)
{
  curlfence_policy *p = load_default("");
  curlfence_guard *g = NULL;
  tu_recorder *rec = calloc(1, sizeof(*rec));
  struct curl_slist *rl = NULL;
  seen s;
  CURL *h;
  int i, denied = -1, allowed = -1;

  memset(&s, 0, sizeof(s));
  ck_assert_ptr_nonnull(rec);
  ck_assert_int_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
  ck_assert_int_eq(curlfence_guard_new(&g, p), CURLFENCE_OK);
  ck_assert_int_eq(curlfence_guard_set_audit(g, tu_record, rec,
                                             CURLFENCE_AUDIT_ALL),
                   CURLFENCE_OK);
  ck_assert_int_eq(curlfence_guard_set_chain(g, record_open, &s, NULL, NULL),
                   CURLFENCE_OK);
  h = curl_easy_init();
  ck_assert_ptr_nonnull(h);
  ck_assert_int_eq(curlfence_attach(h, g, 0), CURLFENCE_OK);
  rl = curl_slist_append(rl,
                         "nat64.test:80:[64:ff9b::7f00:1],[64:ff9b::808:808]");
  curl_easy_setopt(h, CURLOPT_RESOLVE, rl);
  curl_easy_setopt(h, CURLOPT_URL, "http://nat64.test/");
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
  ck_assert_int_eq(curl_easy_perform(h), CURLE_COULDNT_CONNECT);

  /* the chained callback saw the allowed address only */
  {
    curlfence_stats st;

    ck_assert_int_eq(curlfence_guard_stats(g, &st), CURLFENCE_OK);
    ck_assert_uint_eq(st.denied, 1);
    ck_assert_uint_eq(st.allowed, 1);
  }
  ck_assert_int_eq(s.n, 1);
  ck_assert_str_eq(s.addr[0], "64:ff9b::808:808");
  ck_assert_int_ge(rec->n, 2);
  for(i = 0; i < rec->n && i < TU_MAX_EVENTS; i++) {
    if(strcmp(rec->ev[i].addr, "64:ff9b::7f00:1") == 0)
      denied = i;
    if(strcmp(rec->ev[i].addr, "64:ff9b::808:808") == 0)
      allowed = i;
  }
  ck_assert_int_ge(denied, 0);
  ck_assert_int_ge(allowed, 0);
  ck_assert_int_eq(rec->ev[denied].action, CURLFENCE_DENY);
  ck_assert_int_eq(rec->ev[denied].family, AF_INET6);
  ck_assert_uint_eq(rec->ev[denied].port, 80);
  ck_assert_str_eq(rec->ev[denied].verdict.rule, "deny 127.0.0.0/8");
  ck_assert_uint_eq(rec->ev[denied].verdict.line, 14);
  ck_assert_str_eq(rec->ev[denied].verdict.reason, "nat64/96");
  ck_assert_int_eq(rec->ev[allowed].action, CURLFENCE_ALLOW);
  ck_assert_str_eq(rec->ev[allowed].verdict.rule, "default allow");
  ck_assert_str_eq(rec->ev[allowed].verdict.reason, "nat64/96");
  {
    char json[1024];

    curlfence_event_json(&rec->ev[denied], json, sizeof(json));
    ck_assert_msg(strstr(json, "{\"v\":4,") == json, "%s", json);
    ck_assert_msg(strstr(json, ",\"addr\":\"64:ff9b::7f00:1\",\"as\":"
                               "\"127.0.0.1\",\"port\":80,") != NULL,
                  "%s", json);
    ck_assert_msg(strstr(json, "\"text\":\"deny 127.0.0.0/8\"") != NULL,
                  "%s", json);
  }

  curl_easy_cleanup(h);
  curl_slist_free_all(rl);
  curlfence_guard_free(g);
  curlfence_policy_unref(p);
  free(rec);
  curl_global_cleanup();
}
END_TEST

/* Events of decisions that translated nothing say "as":null. */
TU_TEST(tc_libcurl, event_as_null)
{
  curlfence_event ev;
  char json[1024];

  memset(&ev, 0, sizeof(ev));
  snprintf(ev.addr, sizeof(ev.addr), "2001:db8::1");
  ev.family = AF_INET6;
  ev.port = 443;
  curlfence_event_json(&ev, json, sizeof(json));
  ck_assert_msg(strstr(json, "\"addr\":\"2001:db8::1\",\"as\":null,"
                             "\"port\":443,") != NULL, "%s", json);
}
END_TEST
