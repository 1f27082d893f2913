/* SPDX-License-Identifier: MIT */
/*
 * The host's own addresses, for the "self" directive.
 *
 * A service bound to 0.0.0.0 is reachable through every address of every
 * interface, and the public ones are named by no static rule.  Loopback
 * addresses (127.0.0.0/8, ::1) are left out: every policy names them with
 * their own ranges, and a /32 for 127.0.0.1 would otherwise outrank
 * "deny 127.0.0.0/8" and change what audit logs and `curlfence check`
 * name for the most common denial.
 */
#include "internal.h"

#include <errno.h>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static int is_loopback(const uint8_t *a, int v6)
{
  static const uint8_t one[16] = { [15] = 1 };

  return v6 ? memcmp(a, one, 16) == 0 : a[0] == 127;
}

/* splitmix64's finaliser: a sum of these is a fingerprint that does not
 * depend on the order getifaddrs lists the addresses in. */
static uint64_t mix(uint64_t z)
{
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t addr_print(const cf_selfaddr *s)
{
  uint64_t h = s->v6 ? 0x6a09e667f3bcc909ull : 0xbb67ae8584caa73bull;
  size_t i;

  for(i = 0; i < 16; i++)
    h = mix(h ^ s->addr[i]);
  for(i = 0; i < sizeof(s->ifname) && s->ifname[i]; i++)
    h = mix(h ^ (unsigned char)s->ifname[i]);
  return h;
}

static const cf_selfaddr *injected;
static size_t ninjected;
static int inject_on;

void cf_self_inject(const cf_selfaddr *list, size_t n)
{
  injected = list;
  ninjected = n;
  inject_on = list != NULL;
}

int cf_self_list(cf_selfaddr **out, size_t *n, uint64_t *print)
{
  struct ifaddrs *all, *i;
  cf_selfaddr *list;
  size_t cap = 0, k = 0, j;
  uint64_t sum = 0;

  *out = NULL;
  *n = 0;
  *print = 0;
  if(inject_on) {
    if(ninjected) {
      list = malloc(ninjected * sizeof(*list));
      if(!list)
        return ENOMEM;
      memcpy(list, injected, ninjected * sizeof(*list));
      for(j = 0; j < ninjected; j++)
        sum += addr_print(&list[j]);
      *out = list;
    }
    *n = ninjected;
    *print = mix(sum + ninjected);
    return 0;
  }
  if(getifaddrs(&all) != 0)
    return errno ? errno : EIO;
  for(i = all; i; i = i->ifa_next)
    cap++;
  list = cap ? calloc(cap, sizeof(*list)) : NULL;
  if(cap && !list) {
    freeifaddrs(all);
    return ENOMEM;
  }
  for(i = all; i; i = i->ifa_next) {
    cf_selfaddr s;

    if(!i->ifa_addr)
      continue;
    memset(&s, 0, sizeof(s));
    if(i->ifa_addr->sa_family == AF_INET) {
      struct sockaddr_in in;
      memcpy(&in, i->ifa_addr, sizeof(in));
      memcpy(s.addr, &in.sin_addr, 4);
    }
    else if(i->ifa_addr->sa_family == AF_INET6) {
      struct sockaddr_in6 in6;
      memcpy(&in6, i->ifa_addr, sizeof(in6));
      memcpy(s.addr, &in6.sin6_addr, 16);
      s.v6 = 1;
    }
    else
      continue;
    if(is_loopback(s.addr, s.v6))
      continue;
    if(i->ifa_name)
      strncpy(s.ifname, i->ifa_name, sizeof(s.ifname) - 1);
    for(j = 0; j < k; j++)
      if(list[j].v6 == s.v6 && memcmp(list[j].addr, s.addr, 16) == 0)
        break;
    if(j < k)
      continue;   /* one address on two interfaces: the first names it */
    list[k++] = s;
    sum += addr_print(&s);
  }
  freeifaddrs(all);
  if(!k) {
    free(list);
    list = NULL;
  }
  *out = list;
  *n = k;
  *print = mix(sum + k);
  return 0;
}

/* ------------------------------------------------------ resolved list */

static int ent_cmp(const void *pa, const void *pb)
{
  const cf_selfent *a = pa, *b = pb;
  int c;

  if(a->v6 != b->v6)
    return a->v6 < b->v6 ? -1 : 1;
  if((c = memcmp(a->addr, b->addr, 16)) != 0)
    return c;
  return a->rule < b->rule ? -1 : a->rule > b->rule;
}

void cf_self_free(cf_ruleset *rs)
{
  size_t i;

  for(i = 0; i < rs->nselfv; i++)
    free(rs->selfv[i].text);
  free(rs->selfv);
  rs->selfv = NULL;
  rs->nselfv = 0;
}

curlfence_code cf_self_resolve(cf_ruleset *rs, curlfence_error *err)
{
  cf_selfaddr *list = NULL;
  size_t cnt = 0, i, k, n = 0;
  uint64_t print = 0;
  long first = -1;
  int e;

  cf_self_free(rs);
  for(i = 0; i < rs->nrules; i++)
    if(rs->rules[i].self && first < 0)
      first = (long)i;
  if(first < 0)
    return CURLFENCE_OK;
  e = cf_self_list(&list, &cnt, &print);
  if(e) {
    const cf_rule *r = &rs->rules[first];
    cf_error_set(err, e == ENOMEM ? CURLFENCE_E_NOMEM : CURLFENCE_E_IO,
                 r->file < rs->nfiles ? rs->files[r->file] : NULL, r->line,
                 0, "cannot list this host's addresses for \"self\": %s",
                 strerror(e));
    return e == ENOMEM ? CURLFENCE_E_NOMEM : CURLFENCE_E_IO;
  }
  rs->self_print = print;
  if(cnt) {
    size_t nself = 0;
    for(i = (size_t)first; i < rs->nrules; i++)
      nself += rs->rules[i].self;
    rs->selfv = calloc(nself * cnt, sizeof(*rs->selfv));
    if(!rs->selfv)
      goto nomem;
  }
  for(i = (size_t)first; i < rs->nrules && cnt; i++) {
    const cf_rule *r = &rs->rules[i];

    if(!r->self)
      continue;
    for(k = 0; k < cnt; k++) {
      cf_selfent *s = &rs->selfv[n];
      char a[INET6_ADDRSTRLEN];
      const char *text = CF_RULE_TEXT(rs, r);
      size_t len;

      /* An address inside a nat64 prefix is decided as the IPv4 address
       * it embeds; a rule for it could never apply. */
      if(list[k].v6 && cf_nat64_find(rs, list[k].addr) >= 0)
        continue;
      memcpy(s->addr, list[k].addr, list[k].v6 ? 16 : 4);
      s->v6 = list[k].v6;
      s->rule = (uint32_t)i;
      inet_ntop(list[k].v6 ? AF_INET6 : AF_INET, list[k].addr, a,
                sizeof(a));
      len = strlen(text) + strlen(a) + sizeof(list[k].ifname) + 8;
      s->text = malloc(len);
      if(!s->text)
        goto nomem;
      snprintf(s->text, len, "%s (%s, %s)", text, a,
               list[k].ifname[0] ? list[k].ifname : "?");
      rs->nselfv = ++n;
    }
  }
  free(list);
  if(n > 1)
    qsort(rs->selfv, n, sizeof(*rs->selfv), ent_cmp);
  return CURLFENCE_OK;
nomem:
  free(list);
  cf_self_free(rs);
  cf_error_set(err, CURLFENCE_E_NOMEM, NULL, 0, 0, "out of memory");
  return CURLFENCE_E_NOMEM;
}

long cf_self_first(const cf_ruleset *rs, int v6, const uint8_t *addr)
{
  size_t lo = 0, hi = rs->nselfv;
  cf_selfent key;

  memset(&key, 0, sizeof(key));
  memcpy(key.addr, addr, v6 ? 16 : 4);
  key.v6 = (uint8_t)(v6 != 0);
  /* the first entry not below (v6, addr, rule 0) */
  while(lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if(ent_cmp(&rs->selfv[mid], &key) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  if(lo < rs->nselfv && rs->selfv[lo].v6 == key.v6 &&
     memcmp(rs->selfv[lo].addr, key.addr, 16) == 0)
    return (long)lo;
  return -1;
}

void cf_rule_ranked(const cf_ruleset *rs, long i, int v6, cf_rule *out)
{
  *out = rs->rules[i];
  if(out->self) {
    out->v6 = (uint8_t)(v6 != 0);
    out->plen = v6 ? 128 : 32;
  }
}

long cf_self_decide(const cf_ruleset *rs, int v6, const uint8_t *addr,
                    unsigned port, long idx, int *allow, long *ent)
{
  long e = rs->nselfv ? cf_self_first(rs, v6, addr) : -1;
  cf_rule best, cand;

  if(ent)
    *ent = -1;
  if(e < 0)
    return idx;
  if(idx >= 0)
    cf_rule_ranked(rs, idx, v6, &best);
  for(; (size_t)e < rs->nselfv; e++) {
    long ri = (long)rs->selfv[e].rule;

    if(rs->selfv[e].v6 != !!v6 ||
       memcmp(rs->selfv[e].addr, addr, v6 ? 16 : 4) != 0)
      break;
    cf_rule_ranked(rs, ri, v6, &cand);
    if(cand.nports && (port == 0 || !cf_rule_port_match(rs, &cand, port)))
      continue;
    if(idx < 0 || cf_rule_beats(&cand, ri, &best, idx) > 0) {
      idx = ri;
      best = cand;
      *allow = cand.action == CURLFENCE_ALLOW;
      if(ent)
        *ent = e;
    }
  }
  return idx;
}
