/* SPDX-License-Identifier: MIT */
/*
 * Decisions against a loaded policy (policy.c loads them), apart from the
 * loading so that the expectations a load checks (expect.c) decide through
 * this file without a circle back to the loader.
 *
 * A policy is immutable once loaded, so any number of threads may decide
 * against it at once.
 */
#include "engine.h"
#include "table.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/un.h>

/* The first 12 bytes of an IPv4-mapped IPv6 address (::ffff:a.b.c.d). */
static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                     0xff, 0xff};

void cf_dest_init(cf_dest *d, const struct sockaddr *sa, socklen_t salen)
{
  sa_family_t fam = 0;

  memset(d, 0, sizeof(*d));
  d->sa = sa;
  d->salen = sa ? salen : 0;
  d->kind = CF_DEST_FAMILY;
  if(!sa || salen < (socklen_t)sizeof(sa_family_t))
    return;
  memcpy(&fam, (const char *)sa + offsetof(struct sockaddr, sa_family),
         sizeof(fam));
  d->family = fam;
  if(fam == AF_INET) {
    d->kind = CF_DEST_SHORT;
    if(salen >= (socklen_t)sizeof(struct sockaddr_in)) {
      struct sockaddr_in in;
      memcpy(&in, sa, sizeof(in));
      memcpy(d->key, &in.sin_addr, 4);
      d->port = ntohs(in.sin_port);
      d->kind = CF_DEST_IP;
    }
  }
  else if(fam == AF_INET6) {
    d->kind = CF_DEST_SHORT;
    if(salen >= (socklen_t)sizeof(struct sockaddr_in6)) {
      /* The fields straight from sa: a copy of the whole struct is two
       * overlapping 16-byte stores, and reading the address back spans
       * both, which store forwarding cannot serve, so every decision
       * waited for the one before it to retire. */
      const char *a = (const char *)sa + offsetof(struct sockaddr_in6,
                                                   sin6_addr);
      in_port_t nport;

      memcpy(&nport, (const char *)sa + offsetof(struct sockaddr_in6,
                                                 sin6_port), sizeof(nport));
      d->port = ntohs(nport);
      d->v6 = memcmp(a, v4mapped, sizeof(v4mapped)) != 0;
      if(d->v6)
        memcpy(d->key, a, 16);
      else {
        memcpy(d->key, a + 12, 4);
        d->as = CF_AS_MAPPED;
      }
      d->kind = CF_DEST_IP;
    }
  }
  else if(fam == AF_UNIX)
    d->kind = salen >= (socklen_t)offsetof(struct sockaddr_un, sun_path)
                  ? CF_DEST_UNIX : CF_DEST_SHORT;
}

/* The reason word goes into d->verdict whether or not the rest does (v
 * NULL): guards count every decision by it, and make the verdict only
 * for the few that an audit event reports. */
static void set_verdict(cf_decision *d, curlfence_verdict *v,
                        curlfence_action action, int is_default,
                        const char *file, unsigned line, const char *rule,
                        const char *reason)
{
  d->verdict.reason = reason;
  if(!v)
    return;
  v->action = action;
  v->is_default = is_default;
  v->file = file;
  v->line = line;
  v->rule = rule;
  v->reason = reason;
}

static curlfence_action default_action(const curlfence_policy *p)
{
  return p->rs.dflt.set ? (curlfence_action)p->rs.dflt.action
                        : CURLFENCE_DENY;
}

static curlfence_action from_setting(const curlfence_policy *p,
                                     const cf_setting *s, int is_default,
                                     const char *builtin, const char *reason,
                                     cf_decision *d, curlfence_verdict *v)
{
  if(s->set)
    set_verdict(d, v, (curlfence_action)s->action, is_default,
                p->rs.files[s->file], s->line, s->text, reason);
  else
    set_verdict(d, v, CURLFENCE_DENY, is_default, NULL, 0, builtin, reason);
  return s->set ? (curlfence_action)s->action : CURLFENCE_DENY;
}

/* The self rule idx decided for addr (4 bytes when v6 == 0, else 16):
 * its text with the address it names, "deny self (192.0.2.2, eth0)". */
static const char *self_text(const cf_ruleset *rs, int v6,
                             const uint8_t *addr, long idx)
{
  long e;

  for(e = cf_self_next(rs, v6, addr, -1); e >= 0;
      e = cf_self_next(rs, v6, addr, e))
    if(rs->selfv[e].rule == (uint32_t)idx)
      return rs->selfv[e].text;
  return CF_RULE_TEXT(rs, &rs->rules[idx]);
}

/* The host rules' steps of a decision (docs/rules.md, Precedence) for
 * the address key, once the address rules gave idx (-1: none) and allow:
 * *ok says whether the connection is allowed, and the host rule that
 * decided is returned (-1: the address rule or the default did). */
static long decide_host(const curlfence_policy *policy, const cf_dest *dst,
                        int v6, const uint8_t *key, long idx, int allow,
                        int *ok)
{
  const cf_ruleset *rs = &policy->rs;
  cf_hostq q;
  long i;

  *ok = idx >= 0 ? allow : default_action(policy) == CURLFENCE_ALLOW;
  if(!policy->hosts || !dst->host)
    return -1;
  /* a deny host rule first: it only ever makes a decision stricter; then
   * an address rule, unless it denies where an exemption names both the
   * name and the address; only where no address rule spoke, an allow
   * host rule */
  q = idx < 0 ? CF_HOSTQ_ALLOW : allow ? CF_HOSTQ_DENY : CF_HOSTQ_TO;
  /* a name prepared once for its connection's decisions: only the
   * entries it hits are read */
  if(dst->prep)
    i = cf_hostidx_find_prep(policy->hosts, rs, q, dst->prep, v6, key,
                             dst->port);
  else
    i = cf_hostidx_find_deny(policy->hosts, rs, q, dst->host, v6, key,
                             dst->port);
  if(i >= 0)
    *ok = rs->hosts[i].action == CURLFENCE_ALLOW;
  return i;
}

/* The reason word of host rule h's decision. */
static const char *host_reason(const cf_hostrule *h)
{
  return h->action == CURLFENCE_DENY ? CF_REASON_HOST_DENY
         : h->to ? CF_REASON_HOST_TO : CF_REASON_HOST;
}

/* Without a verdict, most IP destinations are decided by the table
 * alone, as curlfence_policy_decide()'s fast path decides them, and the
 * host rules for a name: no self rule holds the address, no nat64 prefix
 * can translate it, and it is not the unspecified address (decided as
 * loopback too).  1 with d->action, d->hit and the reason word set; 0
 * when cf_decide must go the long way.  The guards make every decision
 * that way, and keep counters by rule and reason, which the table's value
 * gives. */
static uint32_t table_value(const curlfence_policy *policy,
                            const cf_dest *dst)
{
  if(dst->kind != CF_DEST_IP || (dst->v6 && policy->rs.nnat64) ||
     cf_unspecified_loopback(dst->v6, dst->key, NULL) ||
     (policy->rs.nselfv &&
      cf_self_next(&policy->rs, dst->v6, dst->key, -1) >= 0))
    return CF_FIND_SLOW;
  return cf_table_find_sa(policy->table, policy->rs.ports, dst->sa,
                          dst->salen);
}

uint32_t cf_decide_value(const curlfence_policy *policy,
                         const struct sockaddr *sa, socklen_t salen)
{
  cf_dest dst;

  cf_dest_init(&dst, sa, salen);
  return table_value(policy, &dst);
}

static int decide_table(const curlfence_policy *policy, cf_decision *d)
{
  const cf_dest *dst = &d->dest;
  uint32_t val = table_value(policy, dst);

  if(val == CF_FIND_SLOW)
    return 0;
  if(policy->hosts && dst->host) {
    int ok;
    long host = decide_host(policy, dst, dst->v6, dst->key,
                            val ? (long)(val & ~CF_ALLOW) - 1 : -1,
                            (val & CF_ALLOW) != 0, &ok);

    if(host >= 0) {
      d->action = (curlfence_action)policy->rs.hosts[host].action;
      d->verdict.reason = host_reason(&policy->rs.hosts[host]);
      return 1;
    }
  }
  if(!val) {
    d->action = default_action(policy);
    d->hit = (long)policy->rs.nrules;
    d->verdict.reason = "default";
  }
  else {
    d->action = val & CF_ALLOW ? CURLFENCE_ALLOW : CURLFENCE_DENY;
    d->hit = (long)(val & ~CF_ALLOW) - 1;
    d->verdict.reason = "rule";
  }
  return 1;
}

void cf_decide(const curlfence_policy *policy, cf_decision *d, int explain)
{
  const cf_dest *dst = &d->dest;
  curlfence_verdict *v = explain ? &d->verdict : NULL;
  int allow = 0, v6, ok, as_loopback = 0;
  long idx, nat64, host;
  const char *reason;
  const uint8_t *key;
  uint8_t lo[16];

  d->action = CURLFENCE_DENY;
  d->hit = -1;
  d->long_way = 0;
  if(!policy) {
    set_verdict(d, v, CURLFENCE_DENY, 0, NULL, 0, "no policy loaded",
                "no-policy");
    return;
  }
  switch(dst->kind) {
  case CF_DEST_SHORT:
    set_verdict(d, v, CURLFENCE_DENY, 0, NULL, 0,
                "address shorter than its family requires", "malformed");
    return;
  case CF_DEST_FAMILY:
    set_verdict(d, v, CURLFENCE_DENY, 0, NULL, 0,
                "address family not covered by the rules", "family");
    return;
  case CF_DEST_UNIX:
    d->action = from_setting(policy, &policy->rs.unix_, 0,
                             "unix deny (built-in)", "unix", d, v);
    d->hit = (long)policy->rs.nrules + 1;
    return;
  case CF_DEST_IP:
    break;
  }
  if(!explain && decide_table(policy, d))
    return;
  d->long_way = 1;
  idx = cf_table_lookup_as(policy->table, &policy->rs, dst->v6, dst->key,
                           dst->port, &allow, &nat64, d->dest.as4);
  if(nat64 >= 0)
    d->dest.as = CF_AS_TRANSLATED;
  /* Decided on the IPv4 address inside: the reason names the layout, so
   * whoever shows the verdict can show that address too, from the one
   * given (the verdict keeps its 0.1 layout, docs/abi.md). */
  reason = nat64 >= 0 ? cf_nat64_reason(policy->rs.nat64[nat64].plen) : NULL;
  v6 = nat64 >= 0 ? 0 : dst->v6;
  key = nat64 >= 0 ? d->dest.as4 : dst->key;
  host = decide_host(policy, dst, v6, key, idx, allow, &ok);
  if(ok && nat64 < 0 && cf_unspecified_loopback(v6, key, lo)) {
    /* allowed as itself: the loopback address it reaches decides too,
     * names included, and a denial there is the answer
     * (CF_REASON_LOOPBACK) */
    int lo_allow = 0, lo_ok;
    long lo_idx = cf_table_lookup_action(policy->table, &policy->rs, v6, lo,
                                         dst->port, &lo_allow);
    long lo_host = decide_host(policy, dst, v6, lo, lo_idx, lo_allow, &lo_ok);

    if(!lo_ok) {
      idx = lo_idx;
      allow = lo_allow;
      host = lo_host;
      key = lo;
      reason = CF_REASON_LOOPBACK;
      as_loopback = 1;
    }
  }
  if(host >= 0) {
    const cf_hostrule *h = &policy->rs.hosts[host];

    d->action = (curlfence_action)h->action;
    set_verdict(d, v, d->action, 0, policy->rs.files[h->file], h->line,
                policy->rs.texts + h->text,
                as_loopback ? reason : host_reason(h));
    return;
  }
  if(idx < 0) {
    d->action = from_setting(policy, &policy->rs.dflt, 1,
                             "default deny (built-in)",
                             reason ? reason : "default", d, v);
    d->hit = (long)policy->rs.nrules;
    return;
  }
  /* The rule records are large and cold; a caller that wants only the
   * action gets it from the table, which stores it with the rule index. */
  d->action = allow ? CURLFENCE_ALLOW : CURLFENCE_DENY;
  d->hit = idx;
  d->verdict.reason = reason ? reason : "rule";
  if(v) {
    const cf_rule *r = &policy->rs.rules[idx];
    set_verdict(d, v, d->action, 0, policy->rs.files[r->file], r->line,
                r->self ? self_text(&policy->rs, v6, key, idx)
                        : CF_RULE_TEXT(&policy->rs, r),
                reason ? reason : "rule");
  }
}

/* Whether the fast path's answer for sa (an IPv4 or IPv6 sockaddr it
 * read) may be changed by a self rule: sa is one of the host's addresses,
 * or an IPv6 address a nat64 prefix may translate into one.  Out of line:
 * policies without self rules pay a load and a branch. */
__attribute__((noinline)) static int maybe_self(const curlfence_policy *p,
                                                const struct sockaddr *sa)
{
  const char *b = (const char *)sa;
  sa_family_t fam;

  memcpy(&fam, b + offsetof(struct sockaddr, sa_family), sizeof(fam));
  if(fam == AF_INET)
    return cf_self_next(&p->rs, 0, (const uint8_t *)b +
                        offsetof(struct sockaddr_in, sin_addr), -1) >= 0;
  b += offsetof(struct sockaddr_in6, sin6_addr);
  if(memcmp(b, v4mapped, sizeof(v4mapped)) == 0)
    return cf_self_next(&p->rs, 0, (const uint8_t *)b + 12, -1) >= 0;
  return p->rs.nnat64 || cf_self_next(&p->rs, 1, (const uint8_t *)b, -1) >= 0;
}

/* 0.0.0.0, ::ffff:0.0.0.0 or ::, which cf_decide also decides as the
 * loopback address a connection to it reaches: never on the fast path. */
static inline int unspecified_sa(const struct sockaddr *sa, socklen_t salen)
{
  static const uint8_t zero[16], mapped0[16] = {0, 0, 0, 0, 0, 0, 0, 0,
                                                0, 0, 0xff, 0xff};
  const char *b = (const char *)sa;
  sa_family_t fam;
  uint32_t a4;

  if(salen < (socklen_t)sizeof(struct sockaddr_in))
    return 0;
  memcpy(&fam, b + offsetof(struct sockaddr, sa_family), sizeof(fam));
  if(fam == AF_INET) {
    memcpy(&a4, b + offsetof(struct sockaddr_in, sin_addr), sizeof(a4));
    return !a4;
  }
  if(fam != AF_INET6 || salen < (socklen_t)sizeof(struct sockaddr_in6))
    return 0;
  b += offsetof(struct sockaddr_in6, sin6_addr);
  return !memcmp(b, zero, 16) || !memcmp(b, mapped0, 16);
}

/* Everything the fast path leaves: a verdict, self rules, addresses that
 * are not IPv4 or IPv6.  Out of line, so that its decision record (over
 * a hundred bytes) is not in the frame of every call. */
__attribute__((noinline)) static curlfence_action decide_full(
    const curlfence_policy *policy, const struct sockaddr *sa,
    socklen_t salen, curlfence_verdict *v)
{
  cf_decision d;

  cf_dest_init(&d.dest, sa, salen);
  cf_decide(policy, &d, v != NULL);
  if(v)
    *v = d.verdict;
  return d.action;
}

void cf_policy_rule_stat(const curlfence_policy *policy, size_t i,
                         curlfence_rule_stat *o)
{
  const cf_setting *s;

  if(i < policy->rs.nrules) {
    const cf_rule *r = &policy->rs.rules[i];
    o->file = policy->rs.files[r->file];
    o->line = r->line;
    o->rule = CF_RULE_TEXT(&policy->rs, r);
  }
  else {
    s = i == policy->rs.nrules ? &policy->rs.dflt : &policy->rs.unix_;
    o->file = s->set ? policy->rs.files[s->file] : NULL;
    o->line = s->set ? s->line : 0;
    o->rule = s->set ? s->text
                     : (i == policy->rs.nrules ? "default deny (built-in)"
                                               : "unix deny (built-in)");
  }
  o->hits = cf_counters_sum(policy->hits, policy->hit_stride,
                            policy->hit_shards, i);
}

/* The action of a table value without port sets (0: the default). */
static inline curlfence_action fast_action(const curlfence_policy *p,
                                           uint32_t val)
{
  unsigned dflt = p->rs.dflt.set ? p->rs.dflt.action : CURLFENCE_DENY;

  return (curlfence_action)(val ? val >> 31 : dflt);
}

/* Without a verdict, an IPv4 or IPv6 address is decided here: the table
 * walk and the port candidates inline (table.h), in a leaf function per
 * popcount flavour that the public call jumps to, with no decision record
 * in its frame; the answer is picked without a branch on whether a rule
 * matched: for random addresses that branch goes either way, and a
 * mispredicted one throws away the lookups the CPU started after it.
 * Everything else goes to decide_full: addresses that are not IPv4 or
 * IPv6 (CF_FIND_SLOW), the unspecified address (decided as loopback
 * too) and, for a policy with "self" rules (not in the table), one of the
 * host's own addresses, which cf_decide ranks. */
#define CF_DECIDE_FAST(NAME, ATTR)                                           \
  CF_FIND_SA_FNS(NAME##_find, ATTR)                                          \
  /* IPv6 without self rules inline; anything else the long way. */         \
  ATTR __attribute__((noinline)) static curlfence_action NAME##_rest(        \
      const curlfence_policy *p, const struct sockaddr *sa, socklen_t salen) \
  {                                                                          \
    sa_family_t fam;                                                         \
    uint32_t val;                                                            \
                                                                             \
    if(unspecified_sa(sa, salen))                                            \
      return decide_full(p, sa, salen, NULL);                                \
    if(salen >= (socklen_t)sizeof(struct sockaddr_in6) && !p->rs.nselfv) {  \
      memcpy(&fam, (const char *)sa + offsetof(struct sockaddr, sa_family),  \
             sizeof(fam));                                                   \
      if(fam == AF_INET6)                                                    \
        return fast_action(p, find6_sa(p->table, p->rs.ports,               \
                                       (const char *)sa));                   \
    }                                                                        \
    val = NAME##_find(p->table, p->rs.ports, sa, salen);                     \
    if(val == CF_FIND_SLOW || (p->rs.nselfv && maybe_self(p, sa)))           \
      return decide_full(p, sa, salen, NULL);                                \
    return fast_action(p, val);                                              \
  }                                                                          \
  /* IPv4 without self rules: a leaf; the rest is a jump away.  0.0.0.0    \
   * needs more than the table (one compare before the walk, independent  \
   * of its answer); so does :: (in NAME##_rest). */                         \
  ATTR __attribute__((noinline)) static curlfence_action NAME(              \
      const curlfence_policy *p, const struct sockaddr *sa, socklen_t salen) \
  {                                                                          \
    sa_family_t fam;                                                         \
    uint32_t a4;                                                             \
                                                                             \
    /* salen first: sa may be shorter than its family's address */          \
    if(salen >= (socklen_t)sizeof(struct sockaddr_in) && !p->rs.nselfv) {   \
      memcpy(&fam, (const char *)sa + offsetof(struct sockaddr, sa_family),  \
             sizeof(fam));                                                   \
      memcpy(&a4, (const char *)sa + offsetof(struct sockaddr_in, sin_addr), \
             sizeof(a4));                                                    \
      if(fam == AF_INET && a4)                                               \
        return fast_action(p, find4_sa(p->table, p->rs.ports,               \
                                       (const char *)sa));                   \
    }                                                                        \
    return NAME##_rest(p, sa, salen);                                        \
  }

CF_DECIDE_FAST(decide_fast, )
#ifdef CF_HAVE_POPCNT_CLONE
CF_DECIDE_FAST(decide_fast_popcnt, __attribute__((target("popcnt"))))
#endif

CURLFENCE_API curlfence_action curlfence_policy_decide(
    const curlfence_policy *policy, const struct sockaddr *sa,
    socklen_t salen, curlfence_verdict *v)
{
  if(!v && policy && sa) {
#ifdef CF_HAVE_POPCNT_CLONE
    if(policy->table->popcnt)
      return decide_fast_popcnt(policy, sa, salen);
#endif
    return decide_fast(policy, sa, salen);
  }
  return decide_full(policy, sa, salen, v);
}

CURLFENCE_API curlfence_action curlfence_policy_decide_name(
    const curlfence_policy *policy, const char *host, const char *address,
    unsigned port, curlfence_verdict *v)
{
  struct sockaddr_in6 s6;
  struct sockaddr_in s4;
  const struct sockaddr *sa = NULL;
  socklen_t salen = 0;
  char canon[CF_HOST_MAX + 1];
  cf_decision d;

  memset(&s4, 0, sizeof(s4));
  memset(&s6, 0, sizeof(s6));
  if(address && port <= 65535) {
    if(inet_pton(AF_INET, address, &s4.sin_addr) == 1) {
      s4.sin_family = AF_INET;
      s4.sin_port = htons((uint16_t)port);
      sa = (const struct sockaddr *)&s4;
      salen = sizeof(s4);
    }
    else if(inet_pton(AF_INET6, address, &s6.sin6_addr) == 1) {
      s6.sin6_family = AF_INET6;
      s6.sin6_port = htons((uint16_t)port);
      sa = (const struct sockaddr *)&s6;
      salen = sizeof(s6);
    }
  }
  if(!sa) {
    /* no address to decide: nothing may be assumed about it */
    set_verdict(&d, v, CURLFENCE_DENY, 0, NULL, 0,
                "not a numeric IPv4 or IPv6 address and port", "malformed");
    return CURLFENCE_DENY;
  }
  cf_dest_init(&d.dest, sa, salen);
  /* a name that is not canonical is no name: host rules never match it */
  if(host && !cf_host_canon(host, strlen(host), canon))
    d.dest.host = canon;
  cf_decide(policy, &d, v != NULL);
  if(v)
    *v = d.verdict;
  return d.action;
}

CURLFENCE_API size_t curlfence_policy_rule_stats(
    const curlfence_policy *policy, curlfence_rule_stat *out, size_t max)
{
  size_t i, n;

  if(!policy)
    return 0;
  n = policy->rs.nrules + 2;
  for(i = 0; i < n && i < max && out; i++)
    cf_policy_rule_stat(policy, i, &out[i]);
  return n;
}

CURLFENCE_API int curlfence_policy_report_only(const curlfence_policy *policy)
{
  return policy && policy->rs.mode.set && policy->rs.mode.action == 1;
}
