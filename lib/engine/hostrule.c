/* SPDX-License-Identifier: MIT */
/*
 * Host rules: the names they are written with, and the index a decision
 * finds them by.
 *
 * A name in a rule must already be in canonical form (hostname.c): a rule
 * that could be read two ways is refused with the form meant, never
 * converted silently, so the file says exactly what is compared.
 *
 * The index is one open-addressing hash of the names (exact ones and the
 * SUFFIX of "*.SUFFIX" apart) with each name's rules chained in file
 * order; the hash is not trusted: a name is compared byte for byte.  A
 * connection's name is hashed once, from its last byte to its
 * first, which gives the hash of every suffix that starts at a label on
 * the way; the exact name is probed, then only the suffixes of as many
 * labels as some wildcard has, longest first, so the first rule found is
 * the most specific.  match.c's scan is the reference for its answers.
 */
#include "engine.h"

#include <idn2.h>
#include <libpsl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CF_HOST_LABELS 128      /* a 253-byte name has at most 127 */
#define NONE UINT32_MAX

/* A name with its rules, on one cache line: what a decision reads of a
 * name that is there is here (its first bytes, and its only rule when it
 * has one), so that a probe reads one slot and one entry. */
#define INLINE_NAME 40
typedef struct entry {
  uint64_t key;
  uint32_t first;         /* the name's first rule in file order */
  uint16_t len;
  uint8_t wild;
  uint8_t one;            /* 1: first is its only rule, summarised here */
  uint8_t action, to;
  uint16_t nports;        /* of that rule: 0, 1 (lo..hi) or more */
  uint16_t lo, hi;
  uint8_t pad_[2];
  char name[INLINE_NAME]; /* the first bytes of the name */
} entry;

/* A slot: part of the key, to pass over other names without reading
 * their entries, and the entry's index + 1 (0: empty). */
typedef struct slot {
  uint32_t tag;
  uint32_t entry;
} slot;

struct cf_hostidx {
  slot *slots;
  entry *entries;
  size_t mask, nentries;
  uint32_t *next;         /* per host rule: the next one of its name */
  uint64_t wild[2];       /* bit k: a wildcard SUFFIX of k labels */
  size_t nq[3];           /* rules each cf_hostq can find */
};

/* ------------------------------------------------------------ names */

static int is_public_suffix(const char *s)
{
  const psl_ctx_t *psl = psl_builtin();

  /* without the list nothing shows a wildcard is safe: refuse it */
  return !psl || psl_is_public_suffix2(psl, s, PSL_TYPE_ANY |
                                       PSL_TYPE_NO_STAR_RULE);
}

/* The name as A-labels, for one that has other bytes than ASCII. */
static int idn_form(const char *s, char *out)
{
  char *a = NULL;
  int rc = idn2_to_ascii_8z(s, &a, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);

  if(rc != IDN2_OK) {
    free(a);
    return -1;
  }
  rc = cf_host_canon(a, strlen(a), out);
  free(a);
  return rc ? -1 : 0;
}

int cf_hostrule_name(const char *s, size_t len, char *out, int *wild,
                     char *msg, size_t size, unsigned *off)
{
  char written[CF_MAX_LINE + 1], want[CF_HOST_MAX + 1];
  const char *name = s, *star;
  size_t i, nlen = len;
  int rc, ascii = 1;

  *wild = 0;
  *off = 0;
  out[0] = '\0';
  snprintf(written, sizeof(written), "%.*s", (int)len, s);
  if(len == 1 && s[0] == '*') {
    snprintf(msg, size, "\"*\" would match every name (write one name, "
             "or \"*.SUFFIX\" for the names below SUFFIX)");
    return -1;
  }
  if(len >= 2 && s[0] == '*' && s[1] == '.') {
    *wild = 1;
    name += 2;
    nlen -= 2;
    if(!nlen) {
      snprintf(msg, size, "\"*.\" names no suffix (write \"*.SUFFIX\")");
      return -1;
    }
  }
  star = memchr(name, '*', nlen);
  if(star) {
    *off = (unsigned)(star - s);
    snprintf(msg, size, "\"%s\": \"*\" may only stand for whole labels, "
             "first (\"*.SUFFIX\")", written);
    return -1;
  }
  for(i = 0; i < nlen; i++)
    if((unsigned char)name[i] >= 0x80)
      ascii = 0;
  rc = cf_host_canon(name, nlen, out);
  if(!ascii) {
    /* NUL-terminated for libidn2; the line holds no NUL */
    if(idn_form(written + (*wild ? 2 : 0), want) == 0)
      snprintf(msg, size, "host name \"%s\" is not in canonical form "
               "(did you mean %s%s?)", written, *wild ? "*." : "", want);
    else
      snprintf(msg, size, "host name \"%s\" is not a valid "
               "internationalised name (write it in A-labels, xn--)",
               written);
    out[0] = '\0';
    return -1;
  }
  if(rc == CF_HOST_EADDR) {
    snprintf(msg, size, "\"%s\" is an IP address, not a host name (write "
             "an address rule)", written);
    return -1;
  }
  if(rc) {
    snprintf(msg, size, "invalid host name \"%s\": %s", written,
             cf_host_strerror(rc));
    return -1;
  }
  if(strlen(out) != nlen || memcmp(out, name, nlen)) {
    snprintf(msg, size, "host name \"%s\" is not in canonical form (did "
             "you mean %s%s?)", written, *wild ? "*." : "", out);
    out[0] = '\0';
    return -1;
  }
  if(*wild && is_public_suffix(out)) {
    snprintf(msg, size, "\"%s\" would match every name under the public "
             "suffix \"%s\"", written, out);
    out[0] = '\0';
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------ matching */

int cf_hostrule_fits(const cf_ruleset *rs, const cf_hostrule *h, cf_hostq q,
                     int v6, const uint8_t *addr, unsigned port)
{
  int inside;

  if(q == CF_HOSTQ_DENY) {
    if(h->action != CURLFENCE_DENY)
      return 0;
  }
  else {
    if(h->action != CURLFENCE_ALLOW || (q == CF_HOSTQ_TO && !h->to))
      return 0;
    if(h->to) {
      inside = h->v6 == (v6 != 0) && cf_prefix_equal(h->addr, addr, h->plen);
      if(!inside)
        return 0;
    }
  }
  return cf_rule_port_match(rs, &(cf_rule){ .port_off = h->port_off,
                                            .nports = h->nports }, port);
}

/* A hash over the bytes from the last, so that every suffix's hash is a
 * step on the way to the whole name's: a rotate and an add per byte (two
 * cycles on the chain from one byte to the next), and a strong mix only
 * where a suffix starts.  Its only use is spreading names over slots:
 * names are compared byte for byte. */
#define H_SEED 0x243f6a8885a308d3ull
#define H_STEP(h, c) ((((h) << 7) | ((h) >> 57)) + (unsigned char)(c))

static uint64_t h_mix(uint64_t h)
{
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 33);
}

static uint64_t slot_key(uint64_t h, int wild)
{
  /* wildcards and exact names in one table, never equal */
  return h_mix(wild ? h ^ 0x9e3779b97f4a7c15ull : h);
}

static size_t slot_of(const cf_hostidx *x, uint64_t key)
{
  return (size_t)key & x->mask;
}

static const entry *probe(const cf_hostidx *x, const cf_ruleset *rs,
                          uint64_t key, int wild, const char *name,
                          size_t len)
{
  size_t i = slot_of(x, key);
  uint32_t tag = (uint32_t)(key >> 32);

  for(;; i = (i + 1) & x->mask) {
    const slot *s = &x->slots[i];
    const entry *e;

    if(!s->entry)
      return NULL;
    if(s->tag != tag)
      continue;
    e = &x->entries[s->entry - 1];
    if(e->key == key && e->wild == wild && e->len == len &&
       !memcmp(e->name, name, len < INLINE_NAME ? len : INLINE_NAME) &&
       (len <= INLINE_NAME ||
        !memcmp(rs->texts + rs->hosts[e->first].name + INLINE_NAME,
                name + INLINE_NAME, len - INLINE_NAME)))
      return e;
  }
}

static void summarise(entry *e, const cf_ruleset *rs, const cf_hostrule *h)
{
  e->action = h->action;
  e->to = h->to;
  e->nports = h->nports > 1 ? 2 : (uint16_t)h->nports;
  if(h->nports == 1) {
    e->lo = rs->ports[h->port_off].lo;
    e->hi = rs->ports[h->port_off].hi;
  }
}

curlfence_code cf_hostidx_build(cf_hostidx **out, const cf_ruleset *rs)
{
  cf_hostidx *x;
  uint32_t *last;
  size_t cap = 16, i;

  *out = NULL;
  if(!rs->nhosts)
    return CURLFENCE_OK;
  while(cap < rs->nhosts * 2)
    cap *= 2;
  x = calloc(1, sizeof(*x));
  last = malloc(rs->nhosts * sizeof(*last));
  if(x) {
    x->slots = calloc(cap, sizeof(*x->slots));
    x->entries = calloc(rs->nhosts, sizeof(*x->entries));
    x->next = malloc(rs->nhosts * sizeof(*x->next));
  }
  if(!x || !last || !x->slots || !x->entries || !x->next) {
    free(last);
    cf_hostidx_free(x);
    return CURLFENCE_E_NOMEM;
  }
  x->mask = cap - 1;
  for(i = 0; i < rs->nhosts; i++) {
    const cf_hostrule *h = &rs->hosts[i];
    const char *name = rs->texts + h->name;
    uint64_t hv = H_SEED, key;
    size_t k, labels = 1;
    entry *e;

    for(k = h->namelen; k-- > 0;) {
      hv = H_STEP(hv, name[k]);
      labels += name[k] == '.';
    }
    key = slot_key(hv, h->wild);
    x->next[i] = NONE;
    x->nq[CF_HOSTQ_DENY] += h->action == CURLFENCE_DENY;
    x->nq[CF_HOSTQ_TO] += h->action == CURLFENCE_ALLOW && h->to;
    x->nq[CF_HOSTQ_ALLOW] += h->action == CURLFENCE_ALLOW;
    if(h->wild)
      x->wild[labels / 64] |= 1ull << (labels % 64);
    e = (entry *)probe(x, rs, key, h->wild, name, h->namelen);
    if(e) {
      x->next[last[e - x->entries]] = (uint32_t)i;
      last[e - x->entries] = (uint32_t)i;
      e->one = 0;
      continue;
    }
    e = &x->entries[x->nentries];
    e->key = key;
    e->first = (uint32_t)i;
    e->len = (uint16_t)h->namelen;
    e->wild = h->wild;
    e->one = 1;
    memcpy(e->name, name, h->namelen < INLINE_NAME ? h->namelen
                                                   : INLINE_NAME);
    summarise(e, rs, h);
    last[x->nentries] = (uint32_t)i;
    for(k = slot_of(x, key); x->slots[k].entry; k = (k + 1) & x->mask)
      ;
    x->slots[k].tag = (uint32_t)(key >> 32);
    x->slots[k].entry = (uint32_t)++x->nentries;
  }
  free(last);
  *out = x;
  return CURLFENCE_OK;
}

void cf_hostidx_free(cf_hostidx *x)
{
  if(!x)
    return;
  free(x->slots);
  free(x->entries);
  free(x->next);
  free(x);
}

/* The name's first rule that fits q, port and the address; -1: none. */
static long first_fit(const cf_hostidx *x, const cf_ruleset *rs,
                      const entry *e, cf_hostq q, int v6, const uint8_t *addr,
                      unsigned port)
{
  uint32_t i;

  if(!e)
    return -1;
  if(e->one && !e->to && e->nports < 2) {
    /* its only rule, without reading it */
    if(e->action != (q == CF_HOSTQ_DENY ? CURLFENCE_DENY : CURLFENCE_ALLOW) ||
       q == CF_HOSTQ_TO)
      return -1;
    if(e->nports && (port < e->lo || port > e->hi))
      return -1;
    return (long)e->first;
  }
  for(i = e->first; i != NONE; i = x->next[i])
    if(cf_hostrule_fits(rs, &rs->hosts[i], q, v6, addr, port))
      return (long)i;
  return -1;
}

long cf_hostidx_find(const cf_hostidx *x, const cf_ruleset *rs, cf_hostq q,
                     const char *host, int v6, const uint8_t *addr,
                     unsigned port)
{
  uint64_t hv = H_SEED, at[CF_HOST_LABELS];
  size_t len, k, labels = 0, pos[CF_HOST_LABELS];
  long r;

  if(!x || !host || !x->nq[q])
    return -1;
  len = strnlen(host, CF_HOST_MAX + 1);
  if(!len || len > CF_HOST_MAX)
    return -1;
  for(k = len; k-- > 0;) {
    hv = H_STEP(hv, host[k]);
    if(!k || host[k - 1] == '.') {
      /* the suffix of labels + 1 labels starts at k */
      if(++labels >= CF_HOST_LABELS)
        return -1;
      at[labels] = hv;
      pos[labels] = k;
    }
  }
  /* every slot this may read, asked for at once: their misses overlap
   * instead of following one another */
  __builtin_prefetch(&x->slots[slot_of(x, slot_key(hv, 0))]);
  for(k = labels - 1; k >= 1; k--)
    if(x->wild[k / 64] & (1ull << (k % 64)))
      __builtin_prefetch(&x->slots[slot_of(x, slot_key(at[k], 1))]);
  r = first_fit(x, rs, probe(x, rs, slot_key(hv, 0), 0, host, len), q, v6,
                addr, port);
  if(r >= 0)
    return r;
  /* wildcards: below SUFFIX only, so fewer labels than the name */
  for(k = labels - 1; k >= 1; k--) {
    if(!(x->wild[k / 64] & (1ull << (k % 64))))
      continue;
    r = first_fit(x, rs, probe(x, rs, slot_key(at[k], 1), 1, host + pos[k],
                               len - pos[k]),
                  q, v6, addr, port);
    if(r >= 0)
      return r;
  }
  return -1;
}
