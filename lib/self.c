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
#include <ifaddrs.h>
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

int cf_self_list(cf_selfaddr **out, size_t *n, uint64_t *print)
{
  struct ifaddrs *all, *i;
  cf_selfaddr *list;
  size_t cap = 0, k = 0, j;
  uint64_t sum = 0;

  *out = NULL;
  *n = 0;
  *print = 0;
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
