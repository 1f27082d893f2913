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
 * connection's name is read once, a word at a time from its end, which
 * gives the hash of every suffix (h_name); the exact name is probed,
 * then only the suffixes after a dot that are as long as some wildcard's,
 * longest first, so the first rule found is the most specific.  match.c's
 * scan is the reference for its answers.
 */
#include "engine.h"

#include <endian.h>
#include <idn2.h>
#include <libpsl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

/* A name with its rules, on one cache line: what a decision reads of a
 * name that is there is here (its last bytes, as the words h_name reads,
 * and its only rule when it has one), so that a probe reads one slot and
 * one entry, and compares words, not bytes. */
#define TAIL_WORDS 5
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
  uint64_t tail[TAIL_WORDS];  /* words 0.. of the name (h_name) */
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
  uint64_t wlen[4];       /* bit m: a wildcard SUFFIX of m bytes */
  size_t nq[3];           /* rules each cf_hostq can find */
  uint64_t id;            /* this index's, for cf_hostprep memos */
};

/* Index ids: 64 bits, counted from 1, so none is ever given twice. */
static _Atomic uint64_t last_id;

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

/* A name is hashed in 8-byte words taken from its end: word j holds the
 * bytes [len - 8j - 8, len - 8j), the first byte lowest, zeros before
 * the name.  A suffix ends where the name ends, so it has the same words
 * except its first, of which it has only the last bytes: its hash is the
 * state after the words it shares, one step with that word masked, and a
 * mix.  So a name is read once, a word at a time, and each suffix that
 * some wildcard could be costs one step.  Which suffixes those are
 * comes from the lengths the wildcards' suffixes have: a suffix of such
 * a length that starts after a dot.  The hash only spreads names over
 * slots: names are compared byte for byte. */
#define H_SEED 0x243f6a8885a308d3ull
#define H_MUL 0x9e3779b97f4a7c15ull

static inline uint64_t h_step(uint64_t h, uint64_t w)
{
  return (((h << 23) | (h >> 41)) ^ w) * H_MUL;
}

/* A full mix: a name's first bytes are the top of its last word, and a
 * step's multiply carries them only upwards. */
static inline uint64_t h_mix(uint64_t h)
{
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 33);
}

/* A name as the lookups need it (cf_hostprep): its words, the state
 * before each, its key, and a mask of the lengths of its suffixes that
 * follow a dot: bit m is set when byte len - m - 1 is a dot. */
typedef cf_hostprep hname;

/* Word j of the suffix of m bytes: the name's, the first masked. */
static inline uint64_t h_word(const hname *n, size_t m, size_t j)
{
  return j < m / 8 ? n->w[j] : n->w[j] & (~0ull << (64 - 8 * (m % 8)));
}

/* The key of the last m bytes of n's name (1 <= m <= len); "*.S" and S
 * never equal. */
static inline uint64_t h_key(const hname *n, size_t m, int wild)
{
  uint64_t h = n->st[m / 8];

  if(m % 8)
    h = h_step(h, h_word(n, m, m / 8));
  return h_mix(h + m + (wild ? H_MUL : 0));
}

#define ONES 0x0101010101010101ull

/* Reads s[0..len) (1 <= len <= CF_HOST_MAX) into n, with the key of the
 * whole name (as "*." and s when wild). */
/* Bit 7 - b for each byte b of w that is a dot: byte b of word j ends
 * the suffix of 8j + 7 - b bytes before it. */
static inline unsigned dots_of(uint64_t w)
{
  uint64_t d = w ^ (ONES * '.');

  /* the top bit of each byte that is a dot, and no other */
  d = ~(((d & (ONES * 0x7f)) + ONES * 0x7f) | d | (ONES * 0x7f));
  return (unsigned)(((d >> 7) * 0x8040201008040201ull) >> 56);
}

static inline __attribute__((always_inline)) void
h_name(hname *n, const char *s, size_t len, int wild)
{
  size_t j, r = len % 8;
  uint64_t h = H_SEED, w;

  memset(n->dots, 0, sizeof(n->dots));
  n->len = len;
  for(j = 0; j < len / 8; j++) {
    memcpy(&w, s + len - 8 * j - 8, 8);
    w = le64toh(w);
    n->w[j] = w;
    n->st[j] = h;
    h = h_step(h, w);
    n->dots[j / 8] |= (uint64_t)dots_of(w) << (8 * (j % 8));
  }
  n->st[j] = h;
  if(r) {
    /* the first r bytes, at the top of the word */
    if(len >= 8) {
      memcpy(&w, s, 8);
      w = le64toh(w) << (8 * (8 - r));
    }
    else {
      unsigned char b[8] = { 0 };

      memcpy(b + 8 - r, s, r);
      memcpy(&w, b, 8);
      w = le64toh(w);
    }
    n->w[j] = w;
    n->dots[j / 8] |= (uint64_t)dots_of(w) << (8 * (j % 8));
  }
  n->exact = h_key(n, len, wild);
}

static inline size_t slot_of(const cf_hostidx *x, uint64_t key)
{
  return (size_t)key & x->mask;
}

/* The entry of the last m bytes of n's name with key, as "*." and them
 * when wild; NULL: none. */
static inline const entry *probe(const cf_hostidx *x, const cf_ruleset *rs,
                                 const hname *n, size_t m, uint64_t key,
                                 int wild, const char *host)
{
  size_t i = slot_of(x, key), j;
  uint32_t tag = (uint32_t)(key >> 32);

  for(;; i = (i + 1) & x->mask) {
    const slot *s = &x->slots[i];
    const entry *e;

    if(!s->entry)
      return NULL;
    if(s->tag != tag)
      continue;
    e = &x->entries[s->entry - 1];
    if(e->key != key || e->wild != wild || e->len != m)
      continue;
    for(j = 0; j < TAIL_WORDS && 8 * j < m; j++)
      if(e->tail[j] != h_word(n, m, j))
        break;
    if(j < TAIL_WORDS && 8 * j < m)
      continue;
    /* the bytes before the tail: from the rule's own text */
    if(m <= 8 * TAIL_WORDS ||
       !memcmp(rs->texts + rs->hosts[e->first].name,
               host + n->len - m, m - 8 * TAIL_WORDS))
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
  hname hn;

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
  x->id = atomic_fetch_add(&last_id, 1) + 1;
  for(i = 0; i < rs->nhosts; i++) {
    const cf_hostrule *h = &rs->hosts[i];
    const char *name = rs->texts + h->name;
    uint64_t key;
    size_t k;
    entry *e;

    /* canonical: 1..CF_HOST_MAX bytes */
    h_name(&hn, name, h->namelen, h->wild);
    key = hn.exact;
    x->next[i] = NONE;
    x->nq[CF_HOSTQ_DENY] += h->action == CURLFENCE_DENY;
    x->nq[CF_HOSTQ_TO] += h->action == CURLFENCE_ALLOW && h->to;
    x->nq[CF_HOSTQ_ALLOW] += h->action == CURLFENCE_ALLOW;
    if(h->wild)
      x->wlen[h->namelen / 64] |= 1ull << (h->namelen % 64);
    e = (entry *)probe(x, rs, &hn, h->namelen, key, h->wild, name);
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
    for(k = 0; k < TAIL_WORDS && 8 * k < h->namelen; k++)
      e->tail[k] = h_word(&hn, h->namelen, k);
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
static inline long first_fit(const cf_hostidx *x, const cf_ruleset *rs,
                             const entry *e, cf_hostq q, int v6,
                             const uint8_t *addr, unsigned port)
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

/* The lengths of the suffixes of n's name a wildcard of x could have:
 * after a dot, as long as some wildcard's SUFFIX, longest first; below
 * SUFFIX only, so at least one byte and the dot before it. */
typedef struct suffixes {
  const hname *n;
  const cf_hostidx *x;
  size_t b;               /* words of dots[] not yet read */
  uint64_t bits;          /* lengths of word b not yet given */
} suffixes;

static inline void suffixes_start(suffixes *s, const cf_hostidx *x,
                                  const hname *n)
{
  s->n = n;
  s->x = x;
  s->bits = 0;
  s->b = n->len < 3 ? 0 : (n->len - 2) / 64 + 1;
}

/* The next length; 0: none left (no suffix is empty). */
static inline size_t suffixes_next(suffixes *s)
{
  size_t top = s->n->len - 2;
  unsigned i;

  while(!s->bits) {
    if(!s->b)
      return 0;
    s->b--;
    s->bits = s->x->wlen[s->b] & s->n->dots[s->b];
    if(s->b == top / 64 && top % 64 < 63)
      s->bits &= (2ull << (top % 64)) - 1;
  }
  i = 63u - (unsigned)__builtin_clzll(s->bits);
  s->bits &= ~(1ull << i);
  return 64 * s->b + i;
}

/* The first rule of the most specific name that fits q: the exact name,
 * then its suffixes (suffixes_next). */
static inline __attribute__((always_inline)) long
find_q(const cf_hostidx *x, const cf_ruleset *rs, cf_hostq q, const hname *n,
       const char *host, int v6, const uint8_t *addr, unsigned port)
{
  suffixes s;
  size_t m;
  long r;

  r = first_fit(x, rs, probe(x, rs, n, n->len, n->exact, 0, host), q, v6,
                addr, port);
  if(r >= 0)
    return r;
  suffixes_start(&s, x, n);
  while((m = suffixes_next(&s))) {
    r = first_fit(x, rs, probe(x, rs, n, m, h_key(n, m, 1), 1, host), q,
                  v6, addr, port);
    if(r >= 0)
      return r;
  }
  return -1;
}

static inline __attribute__((always_inline)) void
prep(cf_hostprep *n, const char *host)
{
  size_t len = host ? strnlen(host, CF_HOST_MAX + 1) : 0;

  n->host = host;
  n->len = 0;
  n->memo_id = 0;
  n->nhits = 0;
  if(len && len <= CF_HOST_MAX)
    h_name(n, host, len, 0);
}

void cf_hostprep_init(cf_hostprep *n, const char *host)
{
  prep(n, host);
}

/* Every entry n's name hits, most specific first, into n's memo for x;
 * more than the memo holds: none kept, and each lookup probes. */
static void memoise(const cf_hostidx *x, const cf_ruleset *rs,
                    cf_hostprep *n)
{
  const entry *e;
  suffixes s;
  size_t m;

  n->nhits = 0;
  n->memo_id = 0;
  e = probe(x, rs, n, n->len, n->exact, 0, n->host);
  if(e)
    n->hits[n->nhits++] = (uint32_t)(e - x->entries);
  suffixes_start(&s, x, n);
  while((m = suffixes_next(&s))) {
    e = probe(x, rs, n, m, h_key(n, m, 1), 1, n->host);
    if(!e)
      continue;
    if(n->nhits == CF_HOSTPREP_HITS)
      return;
    n->hits[n->nhits++] = (uint32_t)(e - x->entries);
  }
  n->memo_id = x->id;
}

/* The first rule for q among the memoised entries. */
static inline long find_memo(const cf_hostidx *x, const cf_ruleset *rs,
                             cf_hostq q, const cf_hostprep *n, int v6,
                             const uint8_t *addr, unsigned port)
{
  uint32_t k;
  long r;

  for(k = 0; k < n->nhits; k++) {
    r = first_fit(x, rs, &x->entries[n->hits[k]], q, v6, addr, port);
    if(r >= 0)
      return r;
  }
  return -1;
}

long cf_hostidx_find_prep(const cf_hostidx *x, const cf_ruleset *rs,
                          cf_hostq then, cf_hostprep *n, int v6,
                          const uint8_t *addr, unsigned port)
{
  long r = -1;

  if(!x || !n->len || (!x->nq[CF_HOSTQ_DENY] && !x->nq[then]))
    return -1;
  /* entries found in another index (another policy, or this one before
   * a reload) say nothing about x's */
  if(n->memo_id != x->id)
    memoise(x, rs, n);
  if(n->memo_id != x->id) {
    if(x->nq[CF_HOSTQ_DENY])
      r = find_q(x, rs, CF_HOSTQ_DENY, n, n->host, v6, addr, port);
    if(r < 0 && then != CF_HOSTQ_DENY && x->nq[then])
      r = find_q(x, rs, then, n, n->host, v6, addr, port);
    return r;
  }
  if(x->nq[CF_HOSTQ_DENY])
    r = find_memo(x, rs, CF_HOSTQ_DENY, n, v6, addr, port);
  if(r < 0 && then != CF_HOSTQ_DENY && x->nq[then])
    r = find_memo(x, rs, then, n, v6, addr, port);
  return r;
}

long cf_hostidx_find(const cf_hostidx *x, const cf_ruleset *rs, cf_hostq q,
                     const char *host, int v6, const uint8_t *addr,
                     unsigned port)
{
  hname n;

  if(!x || !x->nq[q])
    return -1;
  prep(&n, host);
  if(!n.len)
    return -1;
  /* the exact name's slot, asked for while the rest is decided */
  __builtin_prefetch(&x->slots[slot_of(x, n.exact)]);
  return find_q(x, rs, q, &n, host, v6, addr, port);
}

long cf_hostidx_find_deny(const cf_hostidx *x, const cf_ruleset *rs,
                          cf_hostq then, const char *host, int v6,
                          const uint8_t *addr, unsigned port)
{
  hname n;
  long r = -1;

  if(!x || (!x->nq[CF_HOSTQ_DENY] && !x->nq[then]))
    return -1;
  prep(&n, host);
  if(!n.len)
    return -1;
  /* the exact name's slot, asked for while the rest is decided */
  __builtin_prefetch(&x->slots[slot_of(x, n.exact)]);
  if(x->nq[CF_HOSTQ_DENY])
    r = find_q(x, rs, CF_HOSTQ_DENY, &n, host, v6, addr, port);
  if(r < 0 && then != CF_HOSTQ_DENY && x->nq[then])
    r = find_q(x, rs, then, &n, host, v6, addr, port);
  return r;
}
