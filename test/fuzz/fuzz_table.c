/* SPDX-License-Identifier: MIT */
/*
 * Harness: the compiled table against the reference matcher.
 *
 * The input is read as a rule set, built by hand as in test/test_table.c
 * (no parser, so prefixes nest and collide more than text would let the
 * fuzzer make them), then probes.  Every probe's deciding rule and action
 * must be the ones cf_match_linear() picks; a mismatch aborts.
 *
 *   byte 0            bit 0: a default is set, bit 1: it allows;
 *                     the rest: number of rules (0..127)
 *   per rule          h: bit 0 IPv6, bit 1 allow, bits 2-3 port ranges,
 *                     bit 4 derive the address from the previous rule's
 *                     (then one byte: which byte to change, one: xor);
 *                     plen byte (mod 33 or 129); address bytes (4 or 16)
 *                     unless derived; 4 bytes per port range (lo, hi)
 *   then probes       h: bit 0 IPv6, bit 1 take the port; address bytes;
 *                     2 port bytes when bit 1
 * Every rule's first and last address, and the ones just outside, are
 * probed too.
 */
#include "fuzz.h"
#include "engine/engine.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RULES 127

typedef struct in {
  const uint8_t *p, *end;
} in;

static int take(in *s, void *out, size_t n)
{
  if((size_t)(s->end - s->p) < n)
    return -1;
  memcpy(out, s->p, n);
  s->p += n;
  return 0;
}

static void mask(uint8_t *a, int v6, unsigned plen)
{
  cf_prefix_mask(a, a, plen, v6 ? 16 : 4);
  if(!v6)
    memset(a + 4, 0, 12);
}

static void step(uint8_t *a, unsigned n, int up)
{
  int i;

  for(i = (int)n - 1; i >= 0; i--) {
    if(up ? ++a[i] != 0 : a[i]-- != 0)
      return;
  }
}

static void same(const cf_ruleset *rs, const cf_table *t, int v6,
                 const uint8_t *a, unsigned port)
{
  long want = cf_match_linear(rs, v6, a, port);
  int allow = -1;
  long got = cf_table_lookup_action(t, rs, v6, a, port, &allow);
  uint32_t want_val = want < 0 ? 0
                      : (uint32_t)(want + 1) |
                            (rs->rules[want].action == CURLFENCE_ALLOW
                                 ? CF_ALLOW : 0);
  uint32_t fast;
  struct sockaddr_in6 s6;
  struct sockaddr_in s4;
  unsigned i;

  /* the public decision's path, reading a sockaddr (the unmapped form:
   * the reference takes IPv4-mapped addresses as IPv6) */
  if(v6) {
    memset(&s6, 0, sizeof(s6));
    s6.sin6_family = AF_INET6;
    s6.sin6_port = htons((uint16_t)port);
    memcpy(&s6.sin6_addr, a, 16);
    fast = memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0
               ? want_val
               : cf_table_find_sa(t, rs->ports, (struct sockaddr *)&s6,
                                  sizeof(s6));
  }
  else {
    memset(&s4, 0, sizeof(s4));
    s4.sin_family = AF_INET;
    s4.sin_port = htons((uint16_t)port);
    memcpy(&s4.sin_addr, a, 4);
    fast = cf_table_find_sa(t, rs->ports, (struct sockaddr *)&s4,
                            sizeof(s4));
  }
  if(want == got && fast == want_val &&
     (got < 0 || allow == (rs->rules[got].action == CURLFENCE_ALLOW)))
    return;
  fprintf(stderr, "mismatch: %s ", v6 ? "IPv6" : "IPv4");
  for(i = 0; i < (v6 ? 16u : 4u); i++)
    fprintf(stderr, "%02x", a[i]);
  fprintf(stderr, " port %u: table rule %ld (allow %d), reference %ld, "
          "%zu rules; sockaddr path %08x\n", port, got, allow, want,
          rs->nrules, (unsigned)fast);
  abort();
}

/* checksrc: allow LONGFUNC the input is decoded into rules and probes in
 * one pass: its byte layout is easiest to follow in one place */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  cf_rule rules[MAX_RULES];
  cf_port_range ports[MAX_RULES * 3];
  cf_ruleset rs;
  cf_table *t = NULL;
  in s;
  uint8_t h, a[16];
  unsigned n, i, k;

  if(!data)               /* libFuzzer's empty input */
    data = (const uint8_t *)"";
  s.p = data;
  s.end = data + size;

  memset(&rs, 0, sizeof(rs));
  if(take(&s, &h, 1))
    return 0;
  rs.dflt.set = h & 1;
  rs.dflt.action = (h >> 1) & 1;
  n = h >> 2;
  rs.rules = rules;
  rs.ports = ports;
  for(i = 0; i < n; i++) {
    cf_rule *r = &rules[i];
    uint8_t plen, where, flip;

    if(take(&s, &h, 1) || take(&s, &plen, 1))
      break;
    memset(r, 0, sizeof(*r));
    r->v6 = h & 1;
    r->action = (h >> 1) & 1;
    r->plen = (uint8_t)(plen % (r->v6 ? 129 : 33));
    if((h & 16) && i > 0) {
      if(take(&s, &where, 1) || take(&s, &flip, 1))
        break;
      memcpy(r->addr, rules[i - 1].addr, 16);
      r->addr[where % (r->v6 ? 16 : 4)] ^= flip;
    }
    else if(take(&s, r->addr, r->v6 ? 16 : 4))
      break;
    mask(r->addr, r->v6, r->plen);
    r->port_off = (uint32_t)rs.nports;
    for(k = 0; k < ((h >> 2) & 3u); k++) {
      uint8_t pb[4];
      unsigned lo, hi;

      if(take(&s, pb, 4))
        break;
      lo = (unsigned)pb[0] << 8 | pb[1];
      hi = (unsigned)pb[2] << 8 | pb[3];
      if(lo == 0)
        lo = 1;
      if(hi < lo)
        hi = lo;
      ports[rs.nports].lo = (uint16_t)lo;
      ports[rs.nports].hi = (uint16_t)hi;
      rs.nports++;
      r->nports++;
    }
    r->line = i + 1;
    rs.nrules++;
  }
  if(cf_table_build(&t, &rs) != CURLFENCE_OK)
    abort();

  for(i = 0; i < rs.nrules; i++) {
    const cf_rule *r = &rules[i];
    unsigned nb = r->v6 ? 16 : 4, bit;
    uint8_t lo[16], hi[16];

    memcpy(lo, r->addr, 16);
    memcpy(hi, r->addr, 16);
    for(bit = r->plen; bit < nb * 8; bit++)
      hi[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
    for(k = 0; k < 4; k++) {
      memcpy(a, k < 2 ? lo : hi, 16);
      if(k == 1)
        step(a, nb, 0);
      if(k == 3)
        step(a, nb, 1);
      same(&rs, t, r->v6, a, 0);
      same(&rs, t, r->v6, a, 443);
      if(r->nports) {
        const cf_port_range *pr = &ports[r->port_off];
        same(&rs, t, r->v6, a, pr->lo);
        same(&rs, t, r->v6, a, pr->hi);
        if(pr->lo > 1)
          same(&rs, t, r->v6, a, pr->lo - 1u);
        if(pr->hi < 65535)
          same(&rs, t, r->v6, a, pr->hi + 1u);
      }
    }
  }
  while(!take(&s, &h, 1)) {
    unsigned port = 0;
    uint8_t pb[2];

    memset(a, 0, sizeof(a));
    if(take(&s, a, h & 1 ? 16 : 4))
      break;
    if((h & 2) && !take(&s, pb, 2))
      port = (unsigned)pb[0] << 8 | pb[1];
    same(&rs, t, h & 1, a, port);
  }
  cf_table_free(t);
  return 0;
}
