/* SPDX-License-Identifier: MIT */
/*
 * The reference matcher: a scan over every rule.
 *
 * It is slow on purpose, in that it has no structure that could be wrong:
 * the compiled table in table.c must give the same answer for every
 * address and port, and the tests check that it does.  "self" rules are
 * matched here like the rest, against the addresses (and loopback
 * prefixes) resolved at load:
 * the table leaves them out and cf_self_decide() ranks them after the
 * lookup, so this is the oracle for that step too.
 */
#include "engine.h"

#include <arpa/inet.h>
#include <string.h>

long cf_nat64_find(const cf_ruleset *rs, const uint8_t *addr)
{
  long best = -1;
  size_t i;

  for(i = 0; i < rs->nnat64; i++)
    if(cf_prefix_equal(rs->nat64[i].prefix, addr, rs->nat64[i].plen) &&
       (best < 0 || rs->nat64[i].plen > rs->nat64[best].plen))
      best = (long)i;
  return best;
}

long cf_nat64_covering(const cf_ruleset *rs, const uint8_t *addr,
                       unsigned plen)
{
  size_t i;

  for(i = 0; i < rs->nnat64; i++)
    if(rs->nat64[i].plen <= plen &&
       cf_prefix_equal(rs->nat64[i].prefix, addr, rs->nat64[i].plen))
      return (long)i;
  return -1;
}

/* The length self rule i ranks as for addr: that of its longest entry
 * holding addr, 0 when none does.  A scan, as everything here. */
static unsigned self_rank(const cf_ruleset *rs, size_t i, int v6,
                          const uint8_t *addr)
{
  unsigned best = 0;
  size_t k;

  for(k = 0; k < rs->nselfv; k++)
    if(rs->selfv[k].rule == i && rs->selfv[k].v6 == (v6 != 0) &&
       cf_prefix_equal(rs->selfv[k].addr, addr, rs->selfv[k].plen) &&
       rs->selfv[k].plen > best)
      best = rs->selfv[k].plen;
  return best;
}

long cf_match_linear(const cf_ruleset *rs, int v6, const uint8_t *addr,
                     unsigned port)
{
  long best = -1, n64;
  cf_rule bestr;
  uint8_t a4[4];
  size_t i;

  /* Inside a nat64 prefix the IPv6 rules do not apply: the destination is
   * the embedded IPv4 address, decided like any other. */
  if(v6 && (n64 = cf_nat64_find(rs, addr)) >= 0) {
    cf_nat64_extract(rs->nat64[n64].plen, addr, a4);
    return cf_match_linear(rs, 0, a4, port);
  }

  for(i = 0; i < rs->nrules; i++) {
    cf_rule r = rs->rules[i];

    if(r.self) {
      r.v6 = (uint8_t)(v6 != 0);
      r.plen = (uint8_t)self_rank(rs, i, v6, addr);
      if(!r.plen)
        continue;
    }
    else if(r.v6 != (v6 != 0) || !cf_prefix_equal(r.addr, addr, r.plen))
      continue;
    if(r.nports && (port == 0 || !cf_rule_port_match(rs, &r, port)))
      continue;
    if(best < 0 || cf_rule_beats(&r, (long)i, &bestr, best) > 0) {
      best = (long)i;
      bestr = r;
    }
  }
  return best;
}

int cf_unspecified_loopback(int v6, const uint8_t *addr, uint8_t *lo)
{
  static const uint8_t zero[16];

  if(memcmp(addr, zero, v6 ? 16 : 4) != 0)
    return 0;
  if(lo) {
    memset(lo, 0, v6 ? 16 : 4);
    if(v6)
      lo[15] = 1;
    else
      lo[0] = 127, lo[3] = 1;
  }
  return 1;
}

long cf_match_connect(const cf_ruleset *rs, int v6, const uint8_t *addr,
                      unsigned port, int *as_loopback)
{
  uint8_t lo[16];
  long own = cf_match_linear(rs, v6, addr, port), other;
  int own_allow = own >= 0 ?
                  rs->rules[own].action == CURLFENCE_ALLOW :
                  rs->dflt.set && rs->dflt.action == CURLFENCE_ALLOW;

  *as_loopback = 0;
  if(!own_allow || !cf_unspecified_loopback(v6, addr, lo))
    return own;
  other = cf_match_linear(rs, v6, lo, port);
  if(other >= 0 ? rs->rules[other].action == CURLFENCE_ALLOW
                : rs->dflt.set && rs->dflt.action == CURLFENCE_ALLOW)
    return own;
  *as_loopback = 1;
  return other;
}

const char *cf_nat64_reason(unsigned plen)
{
  switch(plen) {
  case 32: return "nat64/32";
  case 40: return "nat64/40";
  case 48: return "nat64/48";
  case 56: return "nat64/56";
  case 64: return "nat64/64";
  default: return "nat64/96";
  }
}

int cf_nat64_as_text(const char *reason, const char *addr, char *out,
                     size_t size)
{
  static const unsigned lens[] = { 32, 40, 48, 56, 64, 96 };
  uint8_t a[16], a4[4];
  size_t i;

  if(size)
    out[0] = '\0';
  if(!reason || !addr || size < INET_ADDRSTRLEN)
    return -1;
  if(strcmp(reason, CF_REASON_LOOPBACK) == 0) {
    int v6 = inet_pton(AF_INET6, addr, a) == 1;

    if(!v6 && inet_pton(AF_INET, addr, a) != 1)
      return -1;
    /* ::ffff:0.0.0.0 was decided as IPv4 */
    if(v6 && !memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12)) {
      memmove(a, a + 12, 4);
      v6 = 0;
    }
    if(!cf_unspecified_loopback(v6, a, a))
      return -1;
    inet_ntop(v6 ? AF_INET6 : AF_INET, a, out, (socklen_t)size);
    return 0;
  }
  for(i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
    if(strcmp(reason, cf_nat64_reason(lens[i])) == 0)
      break;
  if(i == sizeof(lens) / sizeof(lens[0]) ||
     inet_pton(AF_INET6, addr, a) != 1)
    return -1;
  cf_nat64_extract(lens[i], a, a4);
  inet_ntop(AF_INET, a4, out, (socklen_t)size);
  return 0;
}

/* How specifically rule h names host: 0 not at all; a wildcard by the
 * length of its suffix (more labels, more bytes); an exact name above
 * every wildcard. */
static size_t host_rank(const cf_ruleset *rs, const cf_hostrule *h,
                        const char *host, size_t len)
{
  const char *name = rs->texts + h->name;

  if(!h->wild)
    return len == h->namelen && !memcmp(host, name, len) ? CF_HOST_MAX + 1
                                                         : 0;
  if(len <= h->namelen + 1 || host[len - h->namelen - 1] != '.' ||
     memcmp(host + len - h->namelen, name, h->namelen))
    return 0;
  return h->namelen;
}

long cf_host_match_linear(const cf_ruleset *rs, cf_hostq q, const char *host,
                          int v6, const uint8_t *addr, unsigned port)
{
  size_t i, len, rank, best_rank = 0;
  long best = -1;

  if(!host)
    return -1;
  len = strnlen(host, CF_HOST_MAX + 1);
  if(!len || len > CF_HOST_MAX)
    return -1;
  for(i = 0; i < rs->nhosts; i++) {
    rank = host_rank(rs, &rs->hosts[i], host, len);
    if(rank > best_rank &&
       cf_hostrule_fits(rs, &rs->hosts[i], q, v6, addr, port)) {
      best = (long)i;
      best_rank = rank;
    }
  }
  return best;
}
