/* SPDX-License-Identifier: MIT */
/*
 * The host's own addresses, for the "self" directive.
 *
 * A service bound to 0.0.0.0 is reachable through every address of every
 * interface, and the public ones are named by no static rule.  The
 * loopback interface's addresses reach it too, and on Linux so does every
 * address of an IPv4 prefix on a loopback interface: the kernel adds a
 * "local" route for the whole prefix there (127.0.0.1/8 makes 127.0.0.2
 * local), where on other interfaces only the address itself is local.
 * Such an address stands for its prefix and ranks as a rule of that
 * length, so "deny 127.0.0.0/8" ties with it and, written first, still
 * names the most common denial.
 */
#include "engine.h"

#include <errno.h>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

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
  h = mix(h ^ s->prefix);
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

/* Adds s to list[0..*k) unless listed already (one address on two
 * interfaces: the first names it); *sum collects the fingerprint. */
static void add(cf_selfaddr *list, size_t *k, const cf_selfaddr *s,
                uint64_t *sum)
{
  size_t j;

  for(j = 0; j < *k; j++)
    if(list[j].v6 == s->v6 && memcmp(list[j].addr, s->addr, 16) == 0)
      return;
  list[(*k)++] = *s;
  *sum += addr_print(s);
}

/* The prefix an address of an interface with flags and an on-link prefix
 * of plen bits makes local besides itself: an IPv4 prefix on a loopback
 * interface (see the top of this file); else 0. */
static uint8_t local_prefix(int v6, unsigned flags, unsigned plen)
{
  return !v6 && (flags & IFF_LOOPBACK) && plen < 32 ? (uint8_t)plen : 0;
}

/* The addresses from one RTM_GETADDR dump, named as getifaddrs names
 * them: the address label, else the interface's name.  getifaddrs also
 * dumps every link with its statistics first, which made it the largest
 * cost of loading a policy with "self" rules.  -1 when netlink does not
 * answer as expected (the caller then asks getifaddrs); else 0 or an
 * errno value. */
#define NL_BUF 32768
static int list_netlink(cf_selfaddr **out, size_t *n, uint64_t *sum)
{
  struct {
    struct nlmsghdr h;
    struct ifaddrmsg m;
  } rq;
  struct sockaddr_nl kernel;
  cf_selfaddr *list = NULL, *grown;
  size_t cap = 0, k = 0;
  char *buf;
  int fd, rc = -1, done = 0;

  fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if(fd < 0)
    return -1;
  buf = malloc(NL_BUF);
  memset(&rq, 0, sizeof(rq));
  rq.h.nlmsg_len = sizeof(rq);
  rq.h.nlmsg_type = RTM_GETADDR;
  rq.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  rq.h.nlmsg_seq = 1;
  rq.m.ifa_family = AF_UNSPEC;
  memset(&kernel, 0, sizeof(kernel));
  kernel.nl_family = AF_NETLINK;
  if(!buf || sendto(fd, &rq, sizeof(rq), 0, (struct sockaddr *)&kernel,
                    sizeof(kernel)) != (ssize_t)sizeof(rq))
    goto out;
  while(!done) {
    struct sockaddr_nl from;
    socklen_t flen = sizeof(from);
    struct nlmsghdr *h;
    ssize_t got = recvfrom(fd, buf, NL_BUF, 0, (struct sockaddr *)&from,
                           &flen);
    size_t left;

    if(got <= 0 || flen != sizeof(from) || from.nl_pid != 0)
      goto out;
    left = (size_t)got;
    for(h = (struct nlmsghdr *)(void *)buf; NLMSG_OK(h, left);
        h = NLMSG_NEXT(h, left)) {
      struct ifaddrmsg *m = NLMSG_DATA(h);
      struct rtattr *a;
      size_t alen;
      const void *addr = NULL, *local = NULL;
      const char *label = NULL;
      cf_selfaddr s;

      if(h->nlmsg_seq != 1)
        goto out;
      if(h->nlmsg_type == NLMSG_DONE) {
        done = 1;
        break;
      }
      if(h->nlmsg_type == NLMSG_ERROR)
        goto out;
      if(h->nlmsg_type != RTM_NEWADDR ||
         h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)) ||
         (m->ifa_family != AF_INET && m->ifa_family != AF_INET6))
        continue;
      alen = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
      for(a = IFA_RTA(m); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
        size_t plen = RTA_PAYLOAD(a);

        if(a->rta_type == IFA_ADDRESS || a->rta_type == IFA_LOCAL) {
          if(plen != (m->ifa_family == AF_INET6 ? 16u : 4u))
            goto out;
          if(a->rta_type == IFA_ADDRESS)
            addr = RTA_DATA(a);
          else
            local = RTA_DATA(a);
        }
        else if(a->rta_type == IFA_LABEL && plen > 0 && plen <= IFNAMSIZ &&
                memchr(RTA_DATA(a), 0, plen))
          label = RTA_DATA(a);
      }
      /* On a point-to-point link IFA_ADDRESS is the peer's. */
      if(local)
        addr = local;
      if(!addr)
        continue;
      memset(&s, 0, sizeof(s));
      s.v6 = m->ifa_family == AF_INET6;
      memcpy(s.addr, addr, s.v6 ? 16 : 4);
      {
        struct ifreq ifr;

        memset(&ifr, 0, sizeof(ifr));
        ifr.ifr_ifindex = (int)m->ifa_index;
        if(ioctl(fd, SIOCGIFNAME, &ifr) == 0) {
          if(!label)
            memcpy(s.ifname, ifr.ifr_name, sizeof(s.ifname) - 1);
          if(ioctl(fd, SIOCGIFFLAGS, &ifr) == 0)
            s.prefix = local_prefix(s.v6, ifr.ifr_flags, m->ifa_prefixlen);
        }
      }
      if(label)
        strncpy(s.ifname, label, sizeof(s.ifname) - 1);
      if(k == cap) {
        cap = cap ? 2 * cap : 8;
        grown = realloc(list, cap * sizeof(*list));
        if(!grown) {
          rc = ENOMEM;
          goto out;
        }
        list = grown;
      }
      add(list, &k, &s, sum);
    }
    if(!done && left)
      goto out;   /* a truncated message */
  }
  rc = 0;
out:
  close(fd);
  free(buf);
  if(rc || !k) {
    free(list);
    list = NULL;
    k = 0;
  }
  *out = list;
  *n = k;
  return rc;
}

static int list_ifaddrs(cf_selfaddr **out, size_t *n, uint64_t *sum)
{
  struct ifaddrs *all, *i;
  cf_selfaddr *list;
  size_t cap = 0, k = 0;

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
      unsigned plen = 0;

      memcpy(&in, i->ifa_addr, sizeof(in));
      memcpy(s.addr, &in.sin_addr, 4);
      if(i->ifa_netmask) {
        uint32_t m;

        memcpy(&in, i->ifa_netmask, sizeof(in));
        for(m = ntohl(in.sin_addr.s_addr); m & 0x80000000u; m <<= 1)
          plen++;
      }
      s.prefix = local_prefix(0, i->ifa_flags, plen);
    }
    else if(i->ifa_addr->sa_family == AF_INET6) {
      struct sockaddr_in6 in6;
      memcpy(&in6, i->ifa_addr, sizeof(in6));
      memcpy(s.addr, &in6.sin6_addr, 16);
      s.v6 = 1;
    }
    else
      continue;
    if(i->ifa_name)
      strncpy(s.ifname, i->ifa_name, sizeof(s.ifname) - 1);
    add(list, &k, &s, sum);
  }
  freeifaddrs(all);
  if(!k) {
    free(list);
    list = NULL;
  }
  *out = list;
  *n = k;
  return 0;
}

int cf_self_list(cf_selfaddr **out, size_t *n, uint64_t *print)
{
  cf_selfaddr *list;
  size_t j;
  uint64_t sum = 0;
  int e;

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
  e = list_netlink(out, n, &sum);
  if(e < 0) {
    sum = 0;
    e = list_ifaddrs(out, n, &sum);
  }
  if(e)
    return e;
  *print = mix(sum + *n);
  return 0;
}

/* ------------------------------------------------------ resolved list */

/* The first plen bits of addr (16 bytes) in out, the rest zero. */
static void prefix_copy(uint8_t *out, const uint8_t *addr, unsigned plen)
{
  unsigned full = plen / 8u, rest = plen % 8u;

  memset(out, 0, 16);
  memcpy(out, addr, full);
  if(rest)
    out[full] = (uint8_t)(addr[full] & (0xffu << (8u - rest)));
}

/* An entry that stands for a prefix rather than one address. */
static int is_prefix(const cf_selfent *e)
{
  return e->plen < (e->v6 ? 128 : 32);
}

/* Prefix entries first (a few, scanned), then single addresses (many,
 * searched); each part by (v6, addr, rule). */
static int ent_cmp(const void *pa, const void *pb)
{
  const cf_selfent *a = pa, *b = pb;
  int c;

  if(is_prefix(a) != is_prefix(b))
    return is_prefix(a) ? -1 : 1;
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
  rs->nselfpfx = 0;
  memset(rs->selffirst, 0, sizeof(rs->selffirst));
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
      s->v6 = list[k].v6;
      s->plen = list[k].prefix ? list[k].prefix : s->v6 ? 128 : 32;
      prefix_copy(s->addr, list[k].addr, s->plen);
      s->rule = (uint32_t)i;
      inet_ntop(list[k].v6 ? AF_INET6 : AF_INET, list[k].addr, a,
                sizeof(a));
      len = strlen(text) + strlen(a) + sizeof(list[k].ifname) + 12;
      s->text = malloc(len);
      if(!s->text)
        goto nomem;
      /* the address as the interface has it: "127.0.0.1/8" when it
       * stands for its prefix */
      if(list[k].prefix)
        snprintf(s->text, len, "%s (%s/%u, %s)", text, a,
                 (unsigned)list[k].prefix,
                 list[k].ifname[0] ? list[k].ifname : "?");
      else
        snprintf(s->text, len, "%s (%s, %s)", text, a,
                 list[k].ifname[0] ? list[k].ifname : "?");
      rs->nselfv = ++n;
      rs->nselfpfx += is_prefix(s);
    }
  }
  free(list);
  if(n > 1)
    qsort(rs->selfv, n, sizeof(*rs->selfv), ent_cmp);
  for(i = 0; i < n; i++) {
    /* every first byte the entry holds (addr has its host bits clear) */
    const cf_selfent *s = &rs->selfv[i];
    unsigned span = s->plen >= 8 ? 1u : 1u << (8u - s->plen), b;

    for(b = s->addr[0]; b < s->addr[0] + span; b++)
      rs->selffirst[s->v6][b / 64u] |= 1ull << (b % 64u);
  }
  return CURLFENCE_OK;
nomem:
  free(list);
  cf_self_free(rs);
  cf_error_set(err, CURLFENCE_E_NOMEM, NULL, 0, 0, "out of memory");
  return CURLFENCE_E_NOMEM;
}

/* Whether entry e holds addr.  Compared in place: the fast path of
 * curlfence_policy_decide() asks this for every address of a policy with
 * self rules (maybe_self in policy.c). */
static int holds(const cf_selfent *e, int v6, const uint8_t *addr)
{
  unsigned full = e->plen / 8u, rest = e->plen % 8u;

  if(e->v6 != (v6 != 0) || memcmp(e->addr, addr, full) != 0)
    return 0;
  return rest == 0 ||
         ((e->addr[full] ^ addr[full]) & (0xffu << (8u - rest)) & 0xffu) == 0;
}

long cf_self_next(const cf_ruleset *rs, int v6, const uint8_t *addr, long e)
{
  size_t i = e < 0 ? 0 : (size_t)e + 1, lo, hi;
  cf_selfent key;

  /* most addresses are no entry's: their first byte says so */
  if(!(rs->selffirst[v6 != 0][addr[0] / 64u] & (1ull << (addr[0] % 64u))))
    return -1;
  for(; i < rs->nselfpfx; i++)
    if(holds(&rs->selfv[i], v6, addr))
      return (long)i;
  if(i > rs->nselfpfx)
    return i < rs->nselfv && holds(&rs->selfv[i], v6, addr) ? (long)i : -1;
  memset(&key, 0, sizeof(key));
  memcpy(key.addr, addr, v6 ? 16 : 4);
  key.v6 = (uint8_t)(v6 != 0);
  key.plen = v6 ? 128 : 32;
  /* the first single address not below (v6, addr, rule 0) */
  lo = rs->nselfpfx;
  hi = rs->nselfv;
  while(lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if(ent_cmp(&rs->selfv[mid], &key) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < rs->nselfv && holds(&rs->selfv[lo], v6, addr) ? (long)lo : -1;
}

void cf_rule_ranked(const cf_ruleset *rs, long i, int v6,
                    const uint8_t *addr, cf_rule *out)
{
  *out = rs->rules[i];
  if(out->self) {
    long e;

    out->v6 = (uint8_t)(v6 != 0);
    out->plen = 0;
    for(e = cf_self_next(rs, v6, addr, -1); e >= 0;
        e = cf_self_next(rs, v6, addr, e))
      if(rs->selfv[e].rule == (uint32_t)i && rs->selfv[e].plen > out->plen)
        out->plen = rs->selfv[e].plen;
    if(!out->plen)
      out->plen = v6 ? 128 : 32;
  }
}

long cf_self_decide(const cf_ruleset *rs, int v6, const uint8_t *addr,
                    unsigned port, long idx, int *allow, long *ent)
{
  long e = rs->nselfv ? cf_self_next(rs, v6, addr, -1) : -1;
  cf_rule best, cand;

  if(ent)
    *ent = -1;
  if(e < 0)
    return idx;
  if(idx >= 0)
    cf_rule_ranked(rs, idx, v6, addr, &best);
  for(; e >= 0; e = cf_self_next(rs, v6, addr, e)) {
    long ri = (long)rs->selfv[e].rule;

    cand = rs->rules[ri];
    cand.v6 = (uint8_t)(v6 != 0);
    cand.plen = rs->selfv[e].plen;
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
