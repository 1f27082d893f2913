/* SPDX-License-Identifier: MIT */
/*
 * gen.c - synthetic tables shaped like the ones curlfence meets.
 *
 * BGP tables are not uniform: prefixes cluster inside allocations, which is
 * what makes compressed tries small.  The generator mimics that by drawing
 * most prefixes inside a pool of /16 "allocations" (IPv4) or /32 "LIR
 * blocks" inside a few /12 "RIR blocks" (IPv6), with prefix lengths in
 * roughly the proportions of a public routing table.
 */
#include "gen.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t gen_rand(uint64_t *s)
{
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static unsigned below(uint64_t *s, unsigned n)
{
  return (unsigned)(gen_rand(s) % n);
}

static void mask(uint8_t *a, unsigned plen, unsigned bytes)
{
  for(unsigned i = 0; i < bytes; i++) {
    unsigned lo = i * 8;
    if(plen <= lo)
      a[i] = 0;
    else if(plen < lo + 8)
      a[i] &= (uint8_t)(0xff00u >> (plen - lo));
  }
}

static void put32(uint8_t *a, uint32_t v)
{
  a[0] = (uint8_t)(v >> 24);
  a[1] = (uint8_t)(v >> 16);
  a[2] = (uint8_t)(v >> 8);
  a[3] = (uint8_t)v;
}

/* Unicast-looking first octet: 1..223. */
static uint32_t rand_unicast4(uint64_t *s)
{
  return (uint32_t)(1 + below(s, 223)) << 24 |
         (uint32_t)(gen_rand(s) & 0xffffff);
}

static unsigned bgp4_plen(uint64_t *s)
{
  unsigned x = below(s, 1000);
  if(x < 580)
    return 24;
  if(x < 640)
    return 23;
  if(x < 720)
    return 22;
  if(x < 780)
    return 21;
  if(x < 830)
    return 20;
  if(x < 870)
    return 19;
  if(x < 900)
    return 18;
  if(x < 930)
    return 17;
  if(x < 980)
    return 16;
  return 9 + below(s, 7);
}

static unsigned bgp6_plen(uint64_t *s)
{
  unsigned x = below(s, 1000);
  if(x < 200)
    return 32;
  if(x < 300)
    return 29 + below(s, 3);
  if(x < 450)
    return 33 + below(s, 8);
  if(x < 950)
    return 44 + below(s, 5);
  return 49 + below(s, 16);
}

gen_rule *gen_rules(gen_kind kind, size_t n, uint64_t seed)
{
  uint64_t s = seed;
  gen_rule *r = calloc(n ? n : 1, sizeof *r);
  size_t npool = n / 16 + 64;
  uint32_t *pool4 = NULL;
  uint8_t(*pool6)[16] = NULL;
  if(!r)
    return NULL;
  if(kind == GEN_BGP4) {
    pool4 = malloc(npool * sizeof *pool4);
    if(!pool4)
      goto fail;
    for(size_t i = 0; i < npool; i++)
      pool4[i] = rand_unicast4(&s) & 0xffff0000u;
  }
  else if(kind == GEN_BGP6) {
    uint8_t rir[24][16];
    npool = n / 8 + 64;
    pool6 = malloc(npool * sizeof *pool6);
    if(!pool6)
      goto fail;
    for(int i = 0; i < 24; i++) {
      memset(rir[i], 0, 16);
      rir[i][0] = (uint8_t)(0x20 | below(&s, 0x10)); /* 2000::/4-ish */
      rir[i][1] = (uint8_t)(below(&s, 16) << 4);     /* a /12 */
    }
    for(size_t i = 0; i < npool; i++) {
      memcpy(pool6[i], rir[below(&s, 24)], 16);
      pool6[i][1] |= (uint8_t)below(&s, 16);
      pool6[i][2] = (uint8_t)gen_rand(&s);
      pool6[i][3] = (uint8_t)gen_rand(&s);
    }
  }
  for(size_t i = 0; i < n; i++) {
    gen_rule *g = &r[i];
    switch(kind) {
    case GEN_BGP4: {
      unsigned plen = bgp4_plen(&s);
      uint32_t a = plen >= 16 ? pool4[below(&s, (unsigned)npool)] |
                                    (uint32_t)(gen_rand(&s) & 0xffff)
                              : rand_unicast4(&s);
      put32(g->addr, a);
      g->plen = (uint8_t)plen;
      g->allow = below(&s, 10) < 7;
      if(below(&s, 100) == 0)
        g->port = 443;
      break;
    }
    case GEN_BLOCK4: {
      unsigned x = below(&s, 100);
      unsigned plen = x < 85 ? 32 : x < 99 ? 24 + below(&s, 8) : 16;
      put32(g->addr, rand_unicast4(&s));
      g->plen = (uint8_t)plen;
      g->allow = 0;
      break;
    }
    case GEN_BGP6: {
      unsigned plen = bgp6_plen(&s);
      memcpy(g->addr, pool6[below(&s, (unsigned)npool)], 16);
      for(int j = 4; j < 8; j++)
        g->addr[j] = (uint8_t)gen_rand(&s);
      if(plen < 32) {
        g->addr[2] = (uint8_t)gen_rand(&s);
        g->addr[3] = (uint8_t)gen_rand(&s);
      }
      g->v6 = 1;
      g->plen = (uint8_t)plen;
      g->allow = below(&s, 10) < 7;
      if(below(&s, 100) == 0)
        g->port = 443;
      break;
    }
    case GEN_POLICY: {
      static const char *const pol[] = {
          "10.0.0.0", "127.0.0.0", "169.254.169.254", "172.16.0.0",
          "192.168.0.0", "10.20.30.40", "100.64.0.0", "0.0.0.0",
          "224.0.0.0", "198.18.0.0"};
      static const uint8_t plens[] = {8, 8, 32, 12, 16, 32, 10, 8, 4, 15};
      size_t k = i % 10;
      inet_pton(AF_INET, pol[k], g->addr);
      g->plen = plens[k];
      g->allow = k == 5;
      g->port = k == 5 ? 8443 : 0;
      break;
    }
    }
    mask(g->addr, g->plen, g->v6 ? 16 : 4);
  }
  free(pool4);
  free(pool6);
  return r;
fail:
  free(r);
  return NULL;
}

int gen_write_file(const char *path, const gen_rule *r, size_t n,
                   int default_allow)
{
  FILE *f = fopen(path, "w");
  char buf[INET6_ADDRSTRLEN];
  if(!f)
    return -1;
  fprintf(f, "# generated by bench/gen.c\ndefault %s\n",
          default_allow ? "allow" : "deny");
  for(size_t i = 0; i < n; i++) {
    inet_ntop(r[i].v6 ? AF_INET6 : AF_INET, r[i].addr, buf, sizeof buf);
    fprintf(f, "%s %s/%u", r[i].allow ? "allow" : "deny", buf, r[i].plen);
    if(r[i].port)
      fprintf(f, " port %u", r[i].port);
    fputc('\n', f);
  }
  return fclose(f) == 0 ? 0 : -1;
}

void gen_addr_inside(const gen_rule *r, uint64_t *s, uint8_t *out)
{
  unsigned bytes = r->v6 ? 16 : 4;
  uint8_t rnd[16];
  for(unsigned i = 0; i < 16; i++)
    rnd[i] = (uint8_t)gen_rand(s);
  for(unsigned i = 0; i < bytes; i++) {
    unsigned lo = i * 8;
    uint8_t keep = r->plen <= lo       ? 0
                   : r->plen >= lo + 8 ? 0xff
                                       : (uint8_t)(0xff00u >> (r->plen - lo));
    out[i] = (uint8_t)((r->addr[i] & keep) | (rnd[i] & ~keep));
  }
}

void gen_addr_random(int v6, uint64_t *s, uint8_t *out)
{
  for(unsigned i = 0; i < 16; i++)
    out[i] = (uint8_t)gen_rand(s);
  if(v6)
    out[0] = (uint8_t)(0x20 | (out[0] & 0x1f));
}

size_t gen_proc_kb(const char *file, const char *key)
{
  FILE *f = fopen(file, "r");
  char line[256];
  size_t v = 0, klen = strlen(key);

  if(!f)
    return 0;
  while(fgets(line, sizeof(line), f))
    if(!strncmp(line, key, klen) && line[klen] == ':') {
      v = (size_t)strtoull(line + klen + 1, NULL, 10) * 1024;
      break;
    }
  fclose(f);
  return v;
}
