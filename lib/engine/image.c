/* SPDX-License-Identifier: MIT */
/*
 * image.c - compiled policy images: a policy written once as one
 * position-independent file, mapped read-only by every process that loads
 * it and used in place.
 *
 * ------------------------------------------------------------------------
 * LAYOUT (all integers in the byte order of the machine that wrote it)
 * ------------------------------------------------------------------------
 *
 *   offset  size
 *        0     8  magic "\x89CFIMG\r\n" (the high byte and the line end
 *                 catch text-mode transfers and files that are not images)
 *        8     8  checksum: cf_hash64 of bytes [16, file size)
 *       16     4  format version (CF_IMAGE_VERSION)
 *       20     4  byte order: 0x01020304 as the writer stores it
 *       24     4  word size: sizeof(void *) of the writer
 *       28     4  number of sections
 *       32     8  file size
 *       40    24  zero (no time of any kind: the same policy compiled
 *                 anywhere, at any time, gives the same bytes)
 *       64  24*n  section table: { u32 id, u32 record size, u64 offset,
 *                 u64 record count }, in ascending offset order
 *
 * Then the sections, each at a multiple of 64 bytes, never overlapping;
 * the writer puts what decisions read first (the table, the port ranges).
 * Every section listed in sec_info[] must be present exactly once; an
 * unknown id is refused (a newer writer's data could change decisions, so
 * it is never skipped).  Sections hold arrays of fixed-size records:
 *
 *   1-9   the table's arrays, exactly as table.c lays them out (direct
 *         entries, nodes and leaves per family, port sets, candidates,
 *         NAT64 records): indices, never pointers, so they are used
 *         where they are mapped
 *   10    rules (cf_rule), 11 port ranges, 12 rule texts (NUL-terminated)
 *   13    source files: name and path for staleness (offsets into the
 *         strings), size and cf_hash64 of their text; the 8 bytes
 *         between size and hash are zero (images of format 2 written
 *         before 0.2.0 hold a modification time there, which readers
 *         ignore)
 *   14    the three settings (default, unix, mode)
 *   15    strings: file names, source paths, setting texts
 *   16    nat64 prefixes (cf_nat64, 32 bytes: prefix, length, file, line,
 *         column), in file order; the NAT64 records of the table must be
 *         exactly the ones these give (table.c, cf_table_view)
 *
 * "self" rules are stored as written ("deny self port 22": address,
 * family and prefix length 0) and never in the table: the addresses they
 * name are the loading host's, resolved at every load (self.c), so an
 * image compiled on one machine decides by the addresses of the one that
 * loads it.
 *
 * Version 2 added the NAT64 records and prefixes (1 refused nat64 and
 * self rules).  Version 3 changed the checksum (see below).
 *
 * New data (say a table of fixed-size records) is a new section id and a
 * new row in sec_info[], plus a version bump for readers that must refuse
 * it.
 *
 * ------------------------------------------------------------------------
 * LOADING AND COSTS
 * ------------------------------------------------------------------------
 *
 * The file is mapped MAP_SHARED and PROT_READ: processes that load the
 * same image share its pages.  Loading checks, once, everything a lookup
 * or a verdict can follow: header fields, the checksum over the whole
 * file, each section's bounds and record size, every rule's port range,
 * text, file and action, every node's children and leaf runs, every leaf
 * value and port set (table.c, cf_table_view).  After that no index is
 * checked again.  Cost: one pass over the file for the checksum plus one
 * over the table and the rules, O(size), no allocation proportional to
 * the image except one byte per rule and per node, freed before returning.
 *
 * The rules, texts and names are only read for verdicts (port candidates
 * carry their ranges and action), so after the checks the mapping of
 * those pages is dropped (MADV_DONTNEED):
 * they stay in the page cache and come back on first use, and a process
 * that only decides keeps only the table mapped.  Hit counters, the file
 * name array and the settings live in ordinary memory.
 *
 * The checksum, cf_hash64: four lanes take 32 bytes per step, word j of
 * a step going to lane j, which keeps two 64-bit sums (Fletcher-like):
 * a += word, b += a; the last bytes are zero-padded into the next lane.
 * Then the lanes and the length are folded with multiplies and rotations
 * and the result mixed with shifts and multiplies.  A change confined to
 * one word always changes its lane's a; words that trade places in a
 * lane change its b.  It is three instructions per 16 bytes with SSE2
 * (two lanes per instruction), where the previous multiply-per-word form
 * (version 2) was seven per 8 bytes: loading a 1M-rule image spent a
 * quarter of its instructions there.  It guards against damage (truncation, bit flips, partial
 * copies), not against someone who wants to forge an image: an image is
 * trusted like a rules file.
 */
#include "engine.h"

#include <errno.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define CF_IMAGE_VERSION 3u
#define CF_BYTE_ORDER 0x01020304u
#define HDR_SIZE 64u
#define SEC_SIZE 24u
#define SEC_ALIGN 64u
#define MAX_SECTIONS 64u

static const unsigned char magic[8] = {0x89, 'C', 'F', 'I', 'M', 'G', '\r',
                                       '\n'};

enum {
  SEC_RULES = CF_PART_N + 1, SEC_PORTS, SEC_TEXTS, SEC_SOURCES,
  SEC_SETTINGS, SEC_STRINGS, SEC_NAT64, SEC_END
};
#define NSEC (SEC_END - 1)

/* A source file as recorded. */
typedef struct cf_img_src {
  uint32_t name;     /* strings: as named in messages */
  uint32_t path;     /* strings: relative to the image's directory, or
                        absolute */
  uint32_t flags;    /* SRC_FILE: read from a file (size..hash valid) */
  uint32_t pad;
  uint64_t size;
  uint64_t zero;     /* written as 0, never read */
  uint64_t hash;
} cf_img_src;
#define SRC_FILE 1u

typedef struct cf_img_set {
  uint8_t set, action, pad[2];
  uint32_t file, line;
  uint32_t text;     /* strings */
} cf_img_set;

_Static_assert(sizeof(cf_rule) == 40, "cf_rule is 40 bytes in images");
_Static_assert(sizeof(cf_port_range) == 4, "port ranges are 4 bytes");
_Static_assert(sizeof(cf_img_src) == 40, "source records are 40 bytes");
_Static_assert(sizeof(cf_img_set) == 16, "settings are 16 bytes");
_Static_assert(sizeof(cf_nat64) == 32, "nat64 prefixes are 32 bytes");

static const char *const sec_name[SEC_END] = {
    "", "IPv4 direct array", "IPv4 nodes", "IPv4 leaves",
    "IPv6 direct array", "IPv6 nodes", "IPv6 leaves", "port sets",
    "port candidates", "NAT64 records", "rules", "port ranges",
    "rule texts", "source files", "settings", "strings", "nat64 prefixes"};

static size_t sec_size(unsigned id) {
  switch (id) {
  case SEC_RULES: return sizeof(cf_rule);
  case SEC_PORTS: return sizeof(cf_port_range);
  case SEC_TEXTS: return 1;
  case SEC_SOURCES: return sizeof(cf_img_src);
  case SEC_SETTINGS: return sizeof(cf_img_set);
  case SEC_STRINGS: return 1;
  case SEC_NAT64: return sizeof(cf_nat64);
  default: return id >= 1 && id <= CF_PART_N ? cf_table_part_size(id - 1) : 0;
  }
}

/* What a loaded image keeps besides the policy's own fields. */
struct cf_image {
  const unsigned char *base;
  size_t len;
  int mapped;
  const cf_img_src *src;
  size_t nsrc;
  const char *strings;
};

/* ------------------------------------------------------------- hash */

#define K1 0x9e3779b97f4a7c15ull
#define K2 0x5a8279996ed9eba1ull
#define K3 0x8f1bbcdcca62c1d7ull

static uint64_t rotl(uint64_t x, unsigned r) {
  return x << r | x >> (64 - r);
}

static uint64_t word(const unsigned char *p) {
  uint64_t w;
  memcpy(&w, p, 8);
  return w;
}

/* Four lanes of two 64-bit sums each, Fletcher-like: word i of the data
 * goes to lane i % 4, whose a += word and b += a.  SSE2 (always there on
 * x86-64) does two lanes per instruction; the plain loop gives the same
 * sums elsewhere. */
uint64_t cf_hash64(const void *data, size_t n) {
  const unsigned char *p = data;
  uint64_t a[4] = {K1, K2, K3, ~K1}, b[4] = {0, 0, 0, 0}, h;
  size_t i = 0;
#ifdef __SSE2__
  if (n >= 32) {
    __m128i a01 = _mm_loadu_si128((const __m128i *)(const void *)a);
    __m128i a23 = _mm_loadu_si128((const __m128i *)(const void *)(a + 2));
    __m128i b01 = _mm_setzero_si128(), b23 = _mm_setzero_si128();
    for (; i + 32 <= n; i += 32) {
      a01 = _mm_add_epi64(a01, _mm_loadu_si128((const __m128i *)
                                               (const void *)(p + i)));
      a23 = _mm_add_epi64(a23, _mm_loadu_si128((const __m128i *)
                                               (const void *)(p + i + 16)));
      b01 = _mm_add_epi64(b01, a01);
      b23 = _mm_add_epi64(b23, a23);
    }
    _mm_storeu_si128((__m128i *)(void *)a, a01);
    _mm_storeu_si128((__m128i *)(void *)(a + 2), a23);
    _mm_storeu_si128((__m128i *)(void *)b, b01);
    _mm_storeu_si128((__m128i *)(void *)(b + 2), b23);
  }
#endif
  for (; i + 32 <= n; i += 32)
    for (unsigned j = 0; j < 4; j++) {
      a[j] += word(p + i + 8 * j);
      b[j] += a[j];
    }
  /* the last words, then the last bytes zero-padded, in lane order */
  for (unsigned j = 0; i < n; i += 8, j++) {
    unsigned char last[8] = {0};
    memcpy(last, p + i, n - i < 8 ? n - i : 8);
    a[j] += word(last);
    b[j] += a[j];
  }
  h = (uint64_t)n * K3;
  for (unsigned j = 0; j < 4; j++) {
    h = (h ^ a[j]) * K1;
    h = rotl(h, 27);
    h = (h ^ b[j]) * K2;
    h = rotl(h, 31);
  }
  h ^= h >> 31;
  h *= K2;
  h ^= h >> 29;
  h *= K3;
  return h ^ h >> 32;
}

/* ----------------------------------------------------------- loading */

typedef struct loader {
  const unsigned char *base;
  size_t len;
  const char *name;
  curlfence_error *err;
  const unsigned char *sec[SEC_END];
  size_t cnt[SEC_END];
  size_t off[SEC_END];
  uint32_t nself;      /* self rules seen */
} loader;

static const uint8_t zero16[16];

static curlfence_code reject(loader *l, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static curlfence_code reject(loader *l, size_t off, const char *fmt, ...) {
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  cf_error_set(l->err, CURLFENCE_E_IMAGE, l->name, 0, 0, "offset %zu: %s",
               off, msg);
  return CURLFENCE_E_IMAGE;
}

static uint32_t rd32(const unsigned char *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

static uint64_t rd64(const unsigned char *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

static curlfence_code check_header(loader *l) {
  const unsigned char *b = l->base;
  uint64_t size, sum;
  uint32_t v, nsec;
  size_t end = 0;

  if (l->len < sizeof magic || memcmp(b, magic, sizeof magic) != 0) {
    size_t i = 0;
    while (i < l->len && i < sizeof magic && b[i] == magic[i])
      i++;
    if (i == l->len)
      return reject(l, l->len, "truncated: %zu bytes, the header alone is "
                    "%u", l->len, HDR_SIZE);
    return reject(l, i, "not a curlfence image (bad magic)");
  }
  if (l->len < HDR_SIZE)
    return reject(l, l->len, "truncated: %zu bytes, the header alone is %u",
                  l->len, HDR_SIZE);
  if ((v = rd32(b + 16)) != CF_IMAGE_VERSION)
    return reject(l, 16, "format version %u; this library reads version %u "
                  "(compile the image again)", v, CF_IMAGE_VERSION);
  if ((v = rd32(b + 20)) != CF_BYTE_ORDER)
    return reject(l, 20, "byte order mark 0x%08x: the image was written on "
                  "a machine of the other byte order", v);
  if ((v = rd32(b + 24)) != sizeof(void *))
    return reject(l, 24, "word size %u; this machine's is %zu", v,
                  sizeof(void *));
  size = rd64(b + 32);
  if (size != l->len)
    return reject(l, size < l->len ? (size_t)size : l->len,
                  size > l->len ? "truncated: the header says %llu bytes, "
                                  "the file has %llu"
                                : "the header says %llu bytes, the file has "
                                  "%llu (trailing data)",
                  (unsigned long long)size, (unsigned long long)l->len);
  nsec = rd32(b + 28);
  if (nsec > MAX_SECTIONS || HDR_SIZE + (size_t)nsec * SEC_SIZE > l->len)
    return reject(l, 28, "%u sections: the section table does not fit",
                  nsec);
  if ((sum = cf_hash64(b + 16, l->len - 16)) != rd64(b + 8))
    return reject(l, 8, "checksum mismatch: the header says %016llx, the "
                  "contents give %016llx (the file is damaged)",
                  (unsigned long long)rd64(b + 8), (unsigned long long)sum);
  for (unsigned i = 48; i < HDR_SIZE; i++)
    if (b[i])
      return reject(l, i, "reserved header byte is not zero");
  end = HDR_SIZE + (size_t)nsec * SEC_SIZE;
  for (uint32_t i = 0; i < nsec; i++) {
    const unsigned char *e = b + HDR_SIZE + (size_t)i * SEC_SIZE;
    size_t at = HDR_SIZE + (size_t)i * SEC_SIZE;
    uint32_t id = rd32(e), rsize = rd32(e + 4);
    uint64_t off = rd64(e + 8), cnt = rd64(e + 16);

    if (id == 0 || id >= SEC_END)
      return reject(l, at, "section %u: unknown section id %u", i, id);
    if (l->sec[id])
      return reject(l, at, "section %u: a second %s section", i,
                    sec_name[id]);
    if (rsize != sec_size(id))
      return reject(l, at + 4, "section %u (%s): records of %u bytes, "
                    "expected %zu", i, sec_name[id], rsize, sec_size(id));
    if (off % 8 || off < end || off > l->len)
      return reject(l, at + 8, "section %u (%s): offset %llu is %s", i,
                    sec_name[id], (unsigned long long)off,
                    off % 8 ? "not aligned"
                            : off < end ? "inside the header or the section "
                                          "before"
                                        : "past the end of the file");
    if (cnt > (l->len - off) / rsize)
      return reject(l, at + 16, "section %u (%s): %llu records of %u bytes "
                    "run past the end of the file", i, sec_name[id],
                    (unsigned long long)cnt, rsize);
    l->sec[id] = b + off;
    l->off[id] = (size_t)off;
    l->cnt[id] = (size_t)cnt;
    end = (size_t)off + (size_t)cnt * rsize;
  }
  for (unsigned id = 1; id < SEC_END; id++)
    if (!l->sec[id])
      return reject(l, 28, "no %s section", sec_name[id]);
  return CURLFENCE_OK;
}

/* A string offset in a block of n bytes that ends with a NUL. */
static int str_ok(uint32_t off, size_t n) {
  return off < n;
}

static curlfence_code check_block(loader *l, unsigned id) {
  size_t n = l->cnt[id];
  if (n > UINT32_MAX)
    return reject(l, l->off[id], "%s: %zu bytes, at most 4 GiB",
                  sec_name[id], n);
  if (n && l->sec[id][n - 1] != '\0')
    return reject(l, l->off[id] + n - 1, "%s: the last one is not "
                  "NUL-terminated", sec_name[id]);
  return CURLFENCE_OK;
}

/* The nat64 prefixes: lengths RFC 6052 defines, host bits clear, padding
 * zero, a known file.  The parser refuses overlapping prefixes; so does
 * this, since the table's records are checked against these. */
static curlfence_code check_nat64(loader *l, size_t nsrc) {
  const cf_nat64 *d = (const cf_nat64 *)l->sec[SEC_NAT64];
  size_t n = l->cnt[SEC_NAT64];
  for (size_t i = 0; i < n; i++) {
    unsigned plen = d[i].plen, full = plen / 8;
    const char *why = NULL;
    if (plen != 32 && plen != 40 && plen != 48 && plen != 56 && plen != 64 &&
        plen != 96)
      why = "a prefix length other than 32, 40, 48, 56, 64 or 96";
    else if (memcmp(d[i].prefix + full, zero16, 16 - full))
      why = "address bits set past the prefix length";
    else if (d[i].pad_[0] || d[i].pad_[1] || d[i].pad_[2])
      why = "padding is not zero";
    else if (d[i].file >= nsrc)
      why = "file index past the source files";
    for (size_t j = 0; j < i && !why; j++) {
      unsigned pl = d[j].plen < plen ? d[j].plen : plen;
      if (!memcmp(d[j].prefix, d[i].prefix, pl / 8))
        why = "overlaps an earlier prefix";
    }
    if (why)
      return reject(l, l->off[SEC_NAT64] + i * sizeof *d,
                    "nat64 prefix %zu: %s", i, why);
  }
  return CURLFENCE_OK;
}

_Static_assert(CF_KIND_ALLOW == 1 && CF_KIND_PORTS == 2 && CF_KIND_V6 == 4 &&
               CF_KIND_SELF == 8, "check_ruleset builds kinds from flags");

/* Whether the NUL-terminated text at off of the n bytes at b starts with
 * the len bytes of word (no NUL among them): inlined with a constant len
 * it is a compare or two, where a strncmp call was a third of the checks
 * of a rule. */
static inline int text_starts(const unsigned char *b, size_t n,
                              size_t off, const char *word, size_t len) {
  return b && off < n && n - off > len && memcmp(b + off, word, len) == 0;
}

/* Rules, ports, sources and settings; kind gets one CF_KIND_* per rule. */
static curlfence_code check_ruleset(loader *l, uint8_t *kind) {
  const cf_rule *r = (const cf_rule *)l->sec[SEC_RULES];
  const cf_port_range *pr = (const cf_port_range *)l->sec[SEC_PORTS];
  const cf_img_src *src = (const cf_img_src *)l->sec[SEC_SOURCES];
  const cf_img_set *set = (const cf_img_set *)l->sec[SEC_SETTINGS];
  size_t nrules = l->cnt[SEC_RULES], nports = l->cnt[SEC_PORTS];
  size_t ntexts = l->cnt[SEC_TEXTS], nstr = l->cnt[SEC_STRINGS];
  size_t nsrc = l->cnt[SEC_SOURCES];
  curlfence_code rc;

  if ((rc = check_block(l, SEC_TEXTS)) || (rc = check_block(l, SEC_STRINGS)))
    return rc;
  for (size_t i = 0; i < nports; i++)
    if (pr[i].lo == 0 || pr[i].lo > pr[i].hi)
      return reject(l, l->off[SEC_PORTS] + i * sizeof *pr,
                    "port range %zu: %u-%u", i, pr[i].lo, pr[i].hi);
  if (nsrc > UINT32_MAX)
    return reject(l, l->off[SEC_SOURCES], "%zu source files", nsrc);
  for (size_t i = 0; i < nsrc; i++)
    if (!str_ok(src[i].name, nstr) || !str_ok(src[i].path, nstr) ||
        src[i].flags > SRC_FILE)
      return reject(l, l->off[SEC_SOURCES] + i * sizeof *src,
                    "source file %zu: %s", i,
                    src[i].flags > SRC_FILE ? "unknown flags"
                                            : "name outside the strings");
  if (l->cnt[SEC_SETTINGS] != 3)
    return reject(l, l->off[SEC_SETTINGS], "%zu settings, expected 3",
                  l->cnt[SEC_SETTINGS]);
  for (size_t i = 0; i < 3; i++)
    if (set[i].set > 1 || set[i].action > 1 ||
        (set[i].set && (set[i].file >= nsrc || !str_ok(set[i].text, nstr))))
      return reject(l, l->off[SEC_SETTINGS] + i * sizeof *set,
                    "setting %zu: flag, action, file or text out of range",
                    i);
  if (nrules >= 0x3fffffffu)
    return reject(l, l->off[SEC_RULES], "%zu rules, too many", nrules);
  if ((rc = check_nat64(l, nsrc)))
    return rc;
  for (size_t i = 0; i < nrules; i++) {
    const cf_rule *x = &r[i];
    const char *why = NULL;
    if (x->v6 > 1 || x->plen > (x->v6 ? 128 : 32))
      why = "family or prefix length out of range";
    else if (x->action > 1)
      why = "unknown action";
    else if (x->self && (x->v6 || x->plen || memcmp(x->addr, zero16, 16)))
      why = "a \"self\" rule with an address";
    else if (x->file >= nsrc)
      why = "file index past the source files";
    else if (!str_ok(x->text, ntexts))
      why = "text offset past the rule texts";
    else if (x->action ? !text_starts(l->sec[SEC_TEXTS], ntexts, x->text,
                                      "allow ", 6)
                       : !text_starts(l->sec[SEC_TEXTS], ntexts, x->text,
                                      "deny ", 5))
      why = "text does not start with the rule's action";
    else if ((uint64_t)x->port_off + x->nports > nports)
      why = "port ranges past the port ranges";
    if (why)
      return reject(l, l->off[SEC_RULES] + i * sizeof *x, "rule %zu: %s", i,
                    why);
    l->nself += x->self;
    /* the flags are 0 or 1 by now, each a bit of its own */
    kind[i] = (uint8_t)(x->action | (x->nports != 0) << 1 | x->v6 << 2 |
                        x->self << 3);
  }
  return CURLFENCE_OK;
}

static void image_free(cf_image *im) {
  if (!im)
    return;
  if (im->mapped)
    munmap((void *)(uintptr_t)im->base, im->len);
  free(im);
}

/* Check buf[0..len) and make p use it in place.  st: the file's stat, for
 * the watcher; NULL for memory. */
static curlfence_code load(curlfence_policy *p, cf_image *im,
                           const char *name, const struct stat *st,
                           curlfence_error *err) {
  loader l;
  uint8_t *kind = NULL;
  cf_table_parts tp;
  cf_table_fault flt;
  cf_ruleset *rs = &p->rs;
  const cf_img_set *set;
  curlfence_code rc;
  size_t nsrc;

  memset(&l, 0, sizeof l);
  l.base = im->base;
  l.len = im->len;
  l.name = name;
  l.err = err;
  if ((rc = check_header(&l)))
    return rc;
  kind = malloc(l.cnt[SEC_RULES] ? l.cnt[SEC_RULES] : 1);
  if (!kind)
    goto nomem;
  if ((rc = check_ruleset(&l, kind))) {
    free(kind);
    return rc;
  }
  for (unsigned i = 0; i < CF_PART_N; i++) {
    tp.p[i] = l.sec[i + 1];
    tp.n[i] = l.cnt[i + 1];
  }
  rs->rules = (cf_rule *)(uintptr_t)l.sec[SEC_RULES];
  rs->nrules = l.cnt[SEC_RULES];
  rs->ports = (cf_port_range *)(uintptr_t)l.sec[SEC_PORTS];
  rs->nports = l.cnt[SEC_PORTS];
  rs->nat64 = (cf_nat64 *)(uintptr_t)l.sec[SEC_NAT64];
  rs->nnat64 = l.cnt[SEC_NAT64];
  rs->nself = l.nself;
  rc = cf_table_view(&p->table, &tp, rs, kind, &flt);
  free(kind);
  if (rc == CURLFENCE_E_NOMEM)
    goto nomem;
  if (rc)
    return reject(&l, l.off[flt.part + 1] + flt.elem *
                          cf_table_part_size(flt.part),
                  "%s: %s", sec_name[flt.part + 1], flt.why);

  nsrc = l.cnt[SEC_SOURCES];
  im->src = (const cf_img_src *)l.sec[SEC_SOURCES];
  im->nsrc = nsrc;
  im->strings = (const char *)l.sec[SEC_STRINGS];
  rs->texts = (char *)(uintptr_t)l.sec[SEC_TEXTS];
  rs->ntexts = l.cnt[SEC_TEXTS];
  /* The files a policy was read from are what the watcher looks at: the
   * rules files named in verdicts are not read here, the image is (last,
   * after every index a rule can hold). */
  rs->files = calloc(nsrc + 1, sizeof *rs->files);
  rs->stamps = calloc(nsrc + 1, sizeof *rs->stamps);
  if (!rs->files || !rs->stamps)
    goto nomem;
  for (size_t i = 0; i < nsrc; i++)
    rs->files[i] = (char *)(uintptr_t)(im->strings + im->src[i].name);
  rs->nfiles = nsrc;
  if (st) {
    rs->files[nsrc] = p->source;
    cf_stamp_from_stat(&rs->stamps[nsrc], st);
    rs->nfiles++;
  }
  set = (const cf_img_set *)l.sec[SEC_SETTINGS];
  {
    cf_setting *to[3] = {&rs->dflt, &rs->unix_, &rs->mode};
    for (int i = 0; i < 3; i++) {
      to[i]->set = set[i].set;
      to[i]->action = set[i].action;
      to[i]->file = set[i].file;
      to[i]->line = set[i].line;
      to[i]->text = set[i].set ? (char *)(uintptr_t)(im->strings +
                                                     set[i].text)
                               : NULL;
    }
  }
  /* the loading host's addresses, never the compiling one's */
  if ((rc = cf_self_resolve(rs, err))) {
    p->image = im;
    return rc;
  }
#ifdef MADV_DONTNEED
  if (im->mapped) {
    /* Everything after the table and the port ranges is read only for
     * verdicts: let go of those pages (they stay cached) so a process
     * that only decides keeps only what decisions read. */
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    size_t from = l.off[SEC_RULES];
    for (unsigned id = SEC_RULES; id < SEC_END; id++)
      if (id != SEC_PORTS && id != SEC_NAT64 && l.off[id] < from)
        from = l.off[id];
    from = (from + pg - 1) / pg * pg;
    if (from < im->len)
      (void)madvise((void *)(uintptr_t)(im->base + from), im->len - from,
                    MADV_DONTNEED);
  }
#endif
  p->image = im;
  return CURLFENCE_OK;
nomem:
  cf_error_set(err, CURLFENCE_E_NOMEM, NULL, 0, 0, "out of memory");
  return CURLFENCE_E_NOMEM;
}

/* Undo load(): the policy's arrays point into the image. */
void cf_image_close(curlfence_policy *p) {
  cf_ruleset *rs = &p->rs;
  if (!p->image)
    return;
  free(rs->files);
  free(rs->stamps);
  cf_self_free(rs);
  memset(rs, 0, sizeof *rs);
  cf_table_free(p->table);
  p->table = NULL;
  image_free(p->image);
  p->image = NULL;
}

static curlfence_code fail_load(curlfence_policy *p, cf_image *im,
                                curlfence_code rc) {
  if (p->image)
    cf_image_close(p);
  else {
    cf_table_free(p->table);
    p->table = NULL;
    free(p->rs.files);
    free(p->rs.stamps);
    cf_self_free(&p->rs);
    memset(&p->rs, 0, sizeof p->rs);
    image_free(im);
  }
  return rc;
}

int cf_image_probe(const char *path) {
  unsigned char first;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY), r;
  if (fd < 0)
    return 0;
  r = pread(fd, &first, 1, 0) == 1 && first == magic[0];
  close(fd);
  return r;
}

curlfence_code cf_image_load(curlfence_policy *p, const char *path,
                             int *is_image, cf_stamp *opened,
                             curlfence_error *err) {
  struct stat st;
  unsigned char first;
  cf_image *im;
  void *m;
  int fd, e;
  curlfence_code rc;

  *is_image = 0;
  /* Anything that cannot be opened or is not a regular file is left to
   * the rules reader, which says why in the usual words. */
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0)
    return CURLFENCE_OK;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      pread(fd, &first, 1, 0) != 1 || first != magic[0]) {
    close(fd);
    return CURLFENCE_OK;
  }
  *is_image = 1;
  cf_stamp_from_stat(opened, &st);
  im = calloc(1, sizeof *im);
  if (!im) {
    close(fd);
    cf_error_set(err, CURLFENCE_E_NOMEM, NULL, 0, 0, "out of memory");
    return CURLFENCE_E_NOMEM;
  }
  if ((uintmax_t)st.st_size > SIZE_MAX) {
    close(fd);
    free(im);
    cf_error_set(err, CURLFENCE_E_LIMIT, path, 0, 0, "image too large");
    return CURLFENCE_E_LIMIT;
  }
  im->len = (size_t)st.st_size;
  m = mmap(NULL, im->len, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
  e = errno;
  close(fd);
  if (m == MAP_FAILED) {
    free(im);
    cf_error_set(err, CURLFENCE_E_IO, path, 0, 0, "cannot map image: %s",
                 strerror(e));
    return CURLFENCE_E_IO;
  }
  im->base = m;
  im->mapped = 1;
  rc = load(p, im, path, &st, err);
  return rc ? fail_load(p, im, rc) : CURLFENCE_OK;
}

curlfence_code cf_image_load_mem(curlfence_policy *p, const void *buf,
                                 size_t len, const char *name,
                                 curlfence_error *err) {
  cf_image *im = calloc(1, sizeof *im);
  curlfence_code rc;
  if (!im) {
    cf_error_set(err, CURLFENCE_E_NOMEM, NULL, 0, 0, "out of memory");
    return CURLFENCE_E_NOMEM;
  }
  im->base = buf;
  im->len = len;
  rc = load(p, im, name ? name : "<image>", NULL, err);
  return rc ? fail_load(p, im, rc) : CURLFENCE_OK;
}

/* ----------------------------------------------------------- sources */

/* dir and file are absolute and clean (realpath); the path of file as
 * seen from dir. */
static char *relative(const char *dir, const char *file) {
  size_t dl = strlen(dir), common = 1, ups = 0, i;
  char *out, *o;
  if (dl > 1) {
    /* the longest common prefix ending at a separator; the end of dir
     * counts as one */
    for (i = 0; i <= dl; i++) {
      char dc = i < dl ? dir[i] : '/';
      if (dc != file[i])
        break;
      if (dc == '/')
        common = i + 1;
    }
    if (common <= dl) {
      ups = 1;
      for (i = common; i < dl; i++)
        ups += dir[i] == '/';
    }
  }
  out = o = malloc(3 * ups + strlen(file + common) + 1);
  if (!out)
    return NULL;
  for (i = 0; i < ups; i++, o += 3)
    memcpy(o, "../", 3);
  strcpy(o, file + common);
  return out;
}

/* Where source record s of the image at image_path is now. */
static char *source_path(const char *image_path, const char *rel) {
  const char *slash = image_path ? strrchr(image_path, '/') : NULL;
  size_t dl = slash ? (size_t)(slash - image_path) + 1 : 0;
  char *out;
  if (rel[0] == '/' || !dl)
    return strdup(rel);
  out = malloc(dl + strlen(rel) + 1);
  if (!out)
    return NULL;
  memcpy(out, image_path, dl);
  strcpy(out + dl, rel);
  return out;
}

/* Read the whole file at path: its hash and stat.  0, or an errno. */
/* The content hash of the file at path, and its stat.  Read, not mapped:
 * every guarded program checks the default image's rules at start-up, and
 * a mapping of a file that someone truncates meanwhile raises SIGBUS in
 * that program.  A file that shrinks while read hashes what was there,
 * which differs from the image's hash unless the text is the same. */
static int hash_file(const char *path, uint64_t *hash, struct stat *st) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY), e = 0;
  char *buf;
  size_t want, got = 0;
  if (fd < 0)
    return errno;
  if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
    e = errno ? errno : EINVAL;
    close(fd);
    return e;
  }
  want = (size_t)st->st_size;
  buf = malloc(want ? want : 1);
  if (!buf) {
    close(fd);
    return ENOMEM;
  }
  while (got < want) {
    ssize_t n = read(fd, buf + got, want - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      e = errno;
      break;
    }
    if (n == 0)
      break;
    got += (size_t)n;
  }
  close(fd);
  if (!e)
    *hash = cf_hash64(buf, got);
  free(buf);
  return e;
}

static int64_t mtime_ns(const struct stat *st) {
  return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

int cf_image_stale(const curlfence_policy *p, curlfence_error *why) {
  const cf_image *im = p ? p->image : NULL;
  if (why)
    memset(why, 0, sizeof *why);
  if (!im)
    return 0;
  for (size_t i = 0; i < im->nsrc; i++) {
    const cf_img_src *s = &im->src[i];
    const char *name = im->strings + s->name;
    struct stat st;
    uint64_t h = 0;
    char *path;
    int e;
    if (!(s->flags & SRC_FILE))
      continue;
    path = source_path(p->source, im->strings + s->path);
    if (!path) {
      cf_error_set(why, CURLFENCE_E_NOMEM, NULL, 0, 0, "out of memory");
      return 1;
    }
    /* Only the text counts, never a time: a copy or checkout that kept
     * the text is not stale, and an edit that kept size and time is.
     * Another size is stale without reading further. */
    e = stat(path, &st) == 0 && (uint64_t)st.st_size != s->size
            ? 0 : hash_file(path, &h, &st);
    if (e || (uint64_t)st.st_size != s->size || h != s->hash) {
      if (e)
        cf_error_set(why, CURLFENCE_E_IMAGE, name, 0, 0,
                     "compiled into the image, but \"%s\" cannot be read: %s",
                     path, strerror(e));
      else if (strcmp(path, name) != 0)
        cf_error_set(why, CURLFENCE_E_IMAGE, name, 0, 0,
                     "changed since %s was compiled (read as \"%s\")",
                     p->source ? p->source : "the image", path);
      else
        cf_error_set(why, CURLFENCE_E_IMAGE, name, 0, 0,
                     "changed since %s was compiled",
                     p->source ? p->source : "the image");
      free(path);
      return 1;
    }
    free(path);
  }
  return 0;
}

int cf_image_compiled_from(const curlfence_policy *p, const char *path) {
  const cf_image *im = p ? p->image : NULL;
  struct stat a, b;
  char *src;
  int same;
  /* The first source is the file the compile started from; the others
   * are what it included. */
  if (!im || !im->nsrc || !(im->src[0].flags & SRC_FILE))
    return 0;
  src = source_path(p->source, im->strings + im->src[0].path);
  if (!src)
    return 0;
  same = stat(src, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
         a.st_ino == b.st_ino;
  free(src);
  return same;
}

/* ----------------------------------------------------------- writing */

typedef struct strbuf {
  char *s;
  size_t n, cap;
} strbuf;

/* Append s with its NUL; returns the offset, or UINT32_MAX on failure. */
static uint32_t str_add(strbuf *b, const char *s) {
  size_t n = strlen(s) + 1, off = b->n;
  if (b->n + n > UINT32_MAX - 1)
    return UINT32_MAX;
  if (cf_grow(&b->s, &b->cap, b->n + n, 1))
    return UINT32_MAX;
  memcpy(b->s + b->n, s, n);
  b->n += n;
  return (uint32_t)off;
}

/* The source records of p, paths relative to image_dir (absolute, or NULL
 * to keep them absolute). */
static curlfence_code sources(const curlfence_policy *p,
                              const char *image_dir, cf_img_src *out,
                              strbuf *str, curlfence_error *err) {
  const cf_image *im = p->image;
  size_t n = im ? im->nsrc : p->rs.nfiles;
  for (size_t i = 0; i < n; i++) {
    cf_img_src *s = &out[i];
    const char *name = im ? im->strings + im->src[i].name : p->rs.files[i];
    char *where = NULL, *real, *rel;
    memset(s, 0, sizeof *s);
    if (im && (im->src[i].flags & SRC_FILE)) {
      where = source_path(p->source, im->strings + im->src[i].path);
      s->flags = SRC_FILE;
      s->size = im->src[i].size;
      s->hash = im->src[i].hash;
    } else if (!im && p->rs.stamps[i].valid) {
      const cf_stamp *st0 = &p->rs.stamps[i];
      struct stat st;
      int e;
      where = strdup(name);
      if (!where)
        goto nomem;
      /* The text is read again for its hash; it must still be what was
       * compiled. */
      e = hash_file(where, &s->hash, &st);
      if (e || (uint64_t)st.st_size != st0->size ||
          mtime_ns(&st) != st0->mtime_ns || (uint64_t)st.st_ino != st0->ino) {
        cf_error_set(err, e ? CURLFENCE_E_IO : CURLFENCE_E_INVAL, name, 0, 0,
                     e ? "cannot read it again for its hash: %s"
                       : "%schanged since the policy was loaded; load it "
                         "again",
                     e ? strerror(e) : "");
        free(where);
        return e ? CURLFENCE_E_IO : CURLFENCE_E_INVAL;
      }
      s->flags = SRC_FILE;
      s->size = (uint64_t)st.st_size;
    }
    s->name = str_add(str, name);
    rel = NULL;
    if (where) {
      real = realpath(where, NULL);
      rel = real && image_dir ? relative(image_dir, real) : NULL;
      if (real && !rel) {
        rel = real;
        real = NULL;
      }
      free(real);
      if (!rel) {
        rel = where;
        where = NULL;
      }
    }
    s->path = str_add(str, rel ? rel : "");
    free(rel);
    free(where);
    if (s->name == UINT32_MAX || s->path == UINT32_MAX)
      goto nomem;
  }
  return CURLFENCE_OK;
nomem:
  cf_error_set(err, CURLFENCE_E_NOMEM, NULL, 0, 0, "out of memory");
  return CURLFENCE_E_NOMEM;
}

/* What decisions read comes first: the table, then the port ranges. */
static const unsigned char file_order[NSEC] = {
    1, 2, 3, 4, 5, 6, 7, 8, 9, SEC_PORTS, SEC_NAT64, SEC_RULES, SEC_TEXTS,
    SEC_SOURCES, SEC_SETTINGS, SEC_STRINGS};

static size_t align_up(size_t n, size_t a) {
  return (n + a - 1) / a * a;
}

curlfence_code cf_image_build(const curlfence_policy *p,
                              const char *image_dir, unsigned char **out,
                              size_t *outlen, curlfence_error *err) {
  const void *data[SEC_END];
  size_t cnt[SEC_END], off[SEC_END], total;
  cf_table_parts tp;
  cf_img_set set[3];
  const cf_setting *from[3];
  strbuf str = {NULL, 0, 0};
  cf_img_src *src = NULL;
  size_t nsrc = p->image ? p->image->nsrc : p->rs.nfiles;
  unsigned char *b, *e;
  curlfence_code rc;
  uint32_t u;
  uint64_t w;

  *out = NULL;
  src = calloc(nsrc ? nsrc : 1, sizeof *src);
  if (!src)
    goto nomem;
  rc = sources(p, image_dir, src, &str, err);
  if (rc) {
    free(src);
    free(str.s);
    return rc;
  }
  from[0] = &p->rs.dflt;
  from[1] = &p->rs.unix_;
  from[2] = &p->rs.mode;
  memset(set, 0, sizeof set);
  for (int i = 0; i < 3; i++) {
    set[i].set = from[i]->set;
    set[i].action = from[i]->action;
    set[i].file = from[i]->file;
    set[i].line = from[i]->line;
    if (from[i]->set && (set[i].text = str_add(&str, from[i]->text)) ==
                            UINT32_MAX)
      goto nomem;
  }
  cf_table_get_parts(p->table, &tp);
  for (unsigned i = 0; i < CF_PART_N; i++) {
    data[i + 1] = tp.p[i];
    cnt[i + 1] = tp.n[i];
  }
  data[SEC_RULES] = p->rs.rules;
  cnt[SEC_RULES] = p->rs.nrules;
  data[SEC_PORTS] = p->rs.ports;
  cnt[SEC_PORTS] = p->rs.nports;
  data[SEC_TEXTS] = p->rs.texts;
  cnt[SEC_TEXTS] = p->rs.ntexts;
  data[SEC_SOURCES] = src;
  cnt[SEC_SOURCES] = nsrc;
  data[SEC_SETTINGS] = set;
  cnt[SEC_SETTINGS] = 3;
  data[SEC_STRINGS] = str.s;
  cnt[SEC_STRINGS] = str.n;
  data[SEC_NAT64] = p->rs.nat64;
  cnt[SEC_NAT64] = p->rs.nnat64;
  total = align_up(HDR_SIZE + NSEC * SEC_SIZE, SEC_ALIGN);
  for (unsigned i = 0; i < NSEC; i++) {
    unsigned id = file_order[i];
    off[id] = total;
    total = align_up(total + cnt[id] * sec_size(id), SEC_ALIGN);
  }
  b = calloc(1, total);
  if (!b)
    goto nomem;
  memcpy(b, magic, sizeof magic);
  u = CF_IMAGE_VERSION;
  memcpy(b + 16, &u, 4);
  u = CF_BYTE_ORDER;
  memcpy(b + 20, &u, 4);
  u = sizeof(void *);
  memcpy(b + 24, &u, 4);
  u = NSEC;
  memcpy(b + 28, &u, 4);
  w = total;
  memcpy(b + 32, &w, 8);
  e = b + HDR_SIZE;
  for (unsigned i = 0; i < NSEC; i++, e += SEC_SIZE) {
    unsigned id = file_order[i];
    u = id;
    memcpy(e, &u, 4);
    u = (uint32_t)sec_size(id);
    memcpy(e + 4, &u, 4);
    w = off[id];
    memcpy(e + 8, &w, 8);
    w = cnt[id];
    memcpy(e + 16, &w, 8);
    if (cnt[id])
      memcpy(b + off[id], data[id], cnt[id] * sec_size(id));
  }
  w = cf_hash64(b + 16, total - 16);
  memcpy(b + 8, &w, 8);
  free(src);
  free(str.s);
  *out = b;
  *outlen = total;
  return CURLFENCE_OK;
nomem:
  free(src);
  free(str.s);
  cf_error_set(err, CURLFENCE_E_NOMEM, NULL, 0, 0, "out of memory");
  return CURLFENCE_E_NOMEM;
}

static int write_all(int fd, const unsigned char *b, size_t n) {
  while (n) {
    ssize_t w = write(fd, b, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return w < 0 ? errno : EIO;
    b += w;
    n -= (size_t)w;
  }
  return 0;
}

CURLFENCE_API curlfence_code curlfence_policy_save_image(
    const curlfence_policy *policy, const char *path, curlfence_error *err) {
  char *tmp = NULL, *dir = NULL, *slash;
  unsigned char *img = NULL;
  size_t len = 0;
  curlfence_code rc;
  int fd = -1, e;

  if (!policy || !path || !*path) {
    cf_error_set(err, CURLFENCE_E_INVAL, NULL, 0, 0, "NULL argument");
    return CURLFENCE_E_INVAL;
  }
  /* Source paths are kept relative to the image's directory, so an image
   * shipped next to its rules finds them wherever both are copied. */
  dir = strdup(path);
  if (!dir)
    goto nomem;
  slash = strrchr(dir, '/');
  if (slash == dir)
    slash[1] = '\0';
  else if (slash)
    *slash = '\0';
  {
    char *real = realpath(slash ? dir : ".", NULL);
    if (!real) {
      e = errno;
      cf_error_set(err, CURLFENCE_E_IO, path, 0, 0,
                   "cannot resolve the directory: %s", strerror(e));
      free(dir);
      return CURLFENCE_E_IO;
    }
    free(dir);
    dir = real;
  }
  rc = cf_image_build(policy, dir, &img, &len, err);
  free(dir);
  if (rc)
    return rc;
  tmp = malloc(strlen(path) + 8);
  if (!tmp) {
    free(img);
    goto nomem;
  }
  sprintf(tmp, "%s.XXXXXX", path);
  fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0) {
    e = errno;
    goto io;
  }
  if ((e = write_all(fd, img, len)) != 0)
    goto io;
  if (fchmod(fd, 0444) != 0 || fsync(fd) != 0) {
    e = errno;
    goto io;
  }
  if (close(fd) != 0) {
    fd = -1;
    e = errno;
    goto io;
  }
  fd = -1;
  if (rename(tmp, path) != 0) {
    e = errno;
    goto io;
  }
  free(tmp);
  free(img);
  if (err)
    memset(err, 0, sizeof *err);
  return CURLFENCE_OK;
io:
  if (fd >= 0)
    close(fd);
  if (tmp)
    unlink(tmp);
  cf_error_set(err, CURLFENCE_E_IO, path, 0, 0, "cannot write the image: %s",
               strerror(e));
  free(tmp);
  free(img);
  return CURLFENCE_E_IO;
nomem:
  cf_error_set(err, CURLFENCE_E_NOMEM, NULL, 0, 0, "out of memory");
  return CURLFENCE_E_NOMEM;
}

CURLFENCE_API int curlfence_policy_image_stale(const curlfence_policy *policy,
                                               curlfence_error *why) {
  return cf_image_stale(policy, why);
}
