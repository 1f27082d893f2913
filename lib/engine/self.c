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

#ifdef CF_TEST_HOOKS
static const cf_selfaddr *injected;
static size_t ninjected;
static int inject_on;

void cf_self_inject(const cf_selfaddr *list, size_t n)
{
  injected = list;
  ninjected = n;
  inject_on = list != NULL;
}
#endif

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

/* The address an RTM_GETADDR answer h names, into s, its interface
 * asked through fd: 1, or 0 for a message that names none, -1 for one
 * that is malformed. */
static int nl_address(int fd, const struct nlmsghdr *h, cf_selfaddr *s)
{
  struct ifaddrmsg *m = NLMSG_DATA(h);
  struct rtattr *a;
  size_t alen;
  const void *addr = NULL, *local = NULL;
  const char *label = NULL;
  struct ifreq ifr;

  if(h->nlmsg_type != RTM_NEWADDR ||
     h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)) ||
     (m->ifa_family != AF_INET && m->ifa_family != AF_INET6))
    return 0;
  alen = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
  for(a = IFA_RTA(m); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
    size_t plen = RTA_PAYLOAD(a);

    if(a->rta_type == IFA_ADDRESS || a->rta_type == IFA_LOCAL) {
      if(plen != (m->ifa_family == AF_INET6 ? 16u : 4u))
        return -1;
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
    return 0;
  memset(s, 0, sizeof(*s));
  s->v6 = m->ifa_family == AF_INET6;
  memcpy(s->addr, addr, s->v6 ? 16 : 4);
  memset(&ifr, 0, sizeof(ifr));
  ifr.ifr_ifindex = (int)m->ifa_index;
  if(ioctl(fd, SIOCGIFNAME, &ifr) == 0) {
    if(!label)
      memcpy(s->ifname, ifr.ifr_name, sizeof(s->ifname) - 1);
    if(ioctl(fd, SIOCGIFFLAGS, &ifr) == 0)
      s->prefix = local_prefix(s->v6, ifr.ifr_flags, m->ifa_prefixlen);
  }
  if(label)
    strncpy(s->ifname, label, sizeof(s->ifname) - 1);
  return 1;
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
  cf_selfaddr *list = NULL;
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
      cf_selfaddr s;
      int got_addr;

      if(h->nlmsg_seq != 1)
        goto out;
      if(h->nlmsg_type == NLMSG_DONE) {
        done = 1;
        break;
      }
      if(h->nlmsg_type == NLMSG_ERROR)
        goto out;
      got_addr = nl_address(fd, h, &s);
      if(got_addr < 0)
        goto out;
      if(!got_addr)
        continue;
      if(cf_grow(&list, &cap, k + 1, sizeof(*list))) {
        rc = ENOMEM;
        goto out;
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
  uint64_t sum = 0;
  int e;

  *out = NULL;
  *n = 0;
  *print = 0;
#ifdef CF_TEST_HOOKS
  if(inject_on) {
    cf_selfaddr *list;
    size_t j;

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
#endif
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
      cf_prefix_mask(s->addr, list[k].addr, s->plen, 16);
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
      rs->nselfpfx += cf_selfent_is_prefix(s);
    }
  }
  free(list);
  if(n > 1)
    qsort(rs->selfv, n, sizeof(*rs->selfv), cf_selfent_cmp);
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
