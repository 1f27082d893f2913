/* SPDX-License-Identifier: MIT */
/*
 * image.c - compiled policy images: a policy written once as one
 * position-independent file, mapped read-only by every process that loads
 * it and used in place.  This file has the format, its checksum and the
 * staleness of an image's sources; image_load.c maps and checks images,
 * image_write.c writes them, image.h holds what the three share.
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
 *   1-10  the table's arrays, exactly as table.c lays them out (direct
 *         entries, nodes and leaves per family, port sets, candidates,
 *         NAT64 records, IPv4 blocks): indices, never pointers, so they
 *         are used where they are mapped
 *   11    rules (cf_rule), 12 port ranges, 13 rule texts (NUL-terminated)
 *   14    source files: name and path for staleness (offsets into the
 *         strings), size and cf_hash64 of their text; the 8 bytes
 *         between size and hash are zero (images of format 2 written
 *         before 0.2.0 hold a modification time there, which readers
 *         ignore)
 *   15    the three settings (default, unix, mode)
 *   16    strings: file names, source paths, setting texts
 *   17    nat64 prefixes (cf_nat64, 32 bytes: prefix, length, file, line,
 *         column), in file order; the NAT64 records of the table must be
 *         exactly the ones these give (table_view.c, cf_table_view)
 *   18    host rules (cf_hostrule, 52 bytes), in file order, their texts
 *         and names among the rule texts; required, empty without host
 *         rules.  Their index (hostrule.c) is built again at load:
 *         checking a stored one would mean following every hash and chain
 *         to show no rule is unreachable, which is the build's work
 *
 * "self" rules are stored as written ("deny self port 22": address,
 * family and prefix length 0) and never in the table: the addresses they
 * name are the loading host's, resolved at every load (self.c), so an
 * image compiled on one machine decides by the addresses of the one that
 * loads it.
 *
 * Version 2 added the NAT64 records and prefixes (1 refused nat64 and
 * self rules).  Version 3 changed the checksum (see below).  Version 4
 * added the host rules (and a policy without any was written as version
 * 3).  Version 5 has the IPv4 table in blocks (the direct array's
 * entries are 4 bytes, section 10 the blocks) and the host rules section
 * in every image; earlier versions are refused.
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
 * text, file and action, every host rule's fields and canonical name,
 * every node's children and leaf runs, every IPv4 block, every leaf
 * value and port set (table_view.c).  After that no index is checked
 * again.  Cost: one pass over the file for the checksum plus one over the
 * table and the rules, O(size), no allocation proportional to the image
 * except one byte per rule and per node and one bit per 4 bytes of IPv4
 * blocks, freed before returning, and the host rules' index, kept with
 * the policy.
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
 * lane change its b.  It is two instructions per 32 bytes with AVX2
 * (four lanes per instruction, the load folded into the add; glibc says
 * whether the CPU has it), and with SSE2 alone about 7 on aligned data
 * (an image's is) and 10 otherwise, where the previous multiply-per-word
 * form (version 2) was seven per 8 bytes: loading a 1M-rule image spent a
 * quarter of its instructions there.  It guards against damage
 * (truncation, bit flips, partial copies), not against someone who wants
 * to forge an image: an image is trusted like a rules file.
 */
#include "image.h"

#include <errno.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
/* AVX2 where glibc says the CPU has it (as table.h asks for POPCNT,
 * without libgcc's constructor): the four lanes in one register. */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__has_include)
#if __has_include(<sys/platform/x86.h>)
#include <immintrin.h>
#include <sys/platform/x86.h>
#define CF_HASH_AVX2 1
#endif
#endif
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const unsigned char cf_image_magic[8] = {0x89, 'C', 'F', 'I', 'M', 'G',
                                         '\r', '\n'};

/* ------------------------------------------------------------- hash */

#define K1 0x9e3779b97f4a7c15ull
#define K2 0x5a8279996ed9eba1ull
#define K3 0x8f1bbcdcca62c1d7ull

static uint64_t rotl(uint64_t x, unsigned r)
{
  return x << r | x >> (64 - r);
}

static uint64_t word(const unsigned char *p)
{
  uint64_t w;
  memcpy(&w, p, 8);
  return w;
}

#ifdef __SSE2__
/* One step of cf_hash64 over the 32 bytes at q, 16-byte aligned. */
static inline void step_aligned(__m128i *a01, __m128i *a23, __m128i *b01,
                                __m128i *b23, const unsigned char *q)
{
  *a01 = _mm_add_epi64(*a01, _mm_load_si128((const __m128i *)
                                            (const void *)q));
  *a23 = _mm_add_epi64(*a23, _mm_load_si128((const __m128i *)
                                            (const void *)(q + 16)));
  *b01 = _mm_add_epi64(*b01, *a01);
  *b23 = _mm_add_epi64(*b23, *a23);
}
#endif

#ifdef CF_HASH_AVX2
/* cf_hash64's steps over p[0..n) with AVX2, from and into a[4] and b[4];
 * returns the bytes done (whole steps).  The adds take unaligned loads
 * as operands: 2 instructions per 32 bytes. */
__attribute__((target("avx2")))
static size_t steps_avx2(const unsigned char *p, size_t n, uint64_t *a,
                         uint64_t *b)
{
  __m256i va = _mm256_loadu_si256((const __m256i *)(const void *)a);
  __m256i vb = _mm256_loadu_si256((const __m256i *)(const void *)b);
  size_t i = 0;
  for(; i + 128 <= n; i += 128) {
    const __m256i *q = (const __m256i *)(const void *)(p + i);
    va = _mm256_add_epi64(va, _mm256_loadu_si256(q));
    vb = _mm256_add_epi64(vb, va);
    va = _mm256_add_epi64(va, _mm256_loadu_si256(q + 1));
    vb = _mm256_add_epi64(vb, va);
    va = _mm256_add_epi64(va, _mm256_loadu_si256(q + 2));
    vb = _mm256_add_epi64(vb, va);
    va = _mm256_add_epi64(va, _mm256_loadu_si256(q + 3));
    vb = _mm256_add_epi64(vb, va);
  }
  for(; i + 32 <= n; i += 32) {
    va = _mm256_add_epi64(va, _mm256_loadu_si256((const __m256i *)
                                                 (const void *)(p + i)));
    vb = _mm256_add_epi64(vb, va);
  }
  _mm256_storeu_si256((__m256i *)(void *)a, va);
  _mm256_storeu_si256((__m256i *)(void *)b, vb);
  return i;
}
#endif

/* Four lanes of two 64-bit sums each, Fletcher-like: word i of the data
 * goes to lane i % 4, whose a += word and b += a.  SSE2 (always there on
 * x86-64) does two lanes per instruction; the plain loop gives the same
 * sums elsewhere. */
uint64_t cf_hash64(const void *data, size_t n)
{
  const unsigned char *p = data;
  uint64_t a[4] = {K1, K2, K3, ~K1}, b[4] = {0, 0, 0, 0}, h;
  size_t i = 0;
#ifdef CF_HASH_AVX2
  if(n >= 32 && CPU_FEATURE_ACTIVE(AVX2))
    i = steps_avx2(p, n, a, b);
#endif
#ifdef __SSE2__
  if(n - i >= 32) {
    __m128i a01 = _mm_loadu_si128((const __m128i *)(const void *)a);
    __m128i a23 = _mm_loadu_si128((const __m128i *)(const void *)(a + 2));
    __m128i b01 = _mm_setzero_si128(), b23 = _mm_setzero_si128();
    /* Where the data is 16-byte aligned (an image's from offset 16 always
     * is), four steps at a time with aligned loads, which the adds take
     * as operands: about 7 instructions per 32 bytes instead of 10. */
    if(((uintptr_t)p & 15) == 0)
      for(; i + 128 <= n; i += 128) {
        step_aligned(&a01, &a23, &b01, &b23, p + i);
        step_aligned(&a01, &a23, &b01, &b23, p + i + 32);
        step_aligned(&a01, &a23, &b01, &b23, p + i + 64);
        step_aligned(&a01, &a23, &b01, &b23, p + i + 96);
      }
    for(; i + 32 <= n; i += 32) {
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
  for(; i + 32 <= n; i += 32)
    for(unsigned j = 0; j < 4; j++) {
      a[j] += word(p + i + 8 * j);
      b[j] += a[j];
    }
  /* the last words, then the last bytes zero-padded, in lane order */
  for(unsigned j = 0; i < n; i += 8, j++) {
    unsigned char last[8] = {0};
    memcpy(last, p + i, n - i < 8 ? n - i : 8);
    a[j] += word(last);
    b[j] += a[j];
  }
  h = (uint64_t)n * K3;
  for(unsigned j = 0; j < 4; j++) {
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

/* ----------------------------------------------------------- sources */

/* Where source record s of the image at image_path is now. */
char *cf_image_source_path(const char *image_path, const char *rel)
{
  const char *slash = image_path ? strrchr(image_path, '/') : NULL;
  size_t dl = slash ? (size_t)(slash - image_path) + 1 : 0;
  char *out;
  if(rel[0] == '/' || !dl)
    return strdup(rel);
  out = malloc(dl + strlen(rel) + 1);
  if(!out)
    return NULL;
  memcpy(out, image_path, dl);
  strcpy(out + dl, rel);
  return out;
}

/* The content hash of the file at path, and its stat.  Read, not mapped:
 * every guarded program checks the default image's rules at start-up, and
 * a mapping of a file that someone truncates meanwhile raises SIGBUS in
 * that program.  A file that shrinks while read hashes what was there,
 * which differs from the image's hash unless the text is the same. */
int cf_image_hash_file(const char *path, uint64_t *hash, struct stat *st)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY), e = 0;
  char *buf;
  size_t want, got = 0;
  if(fd < 0)
    return errno;
  if(fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
    e = errno ? errno : EINVAL;
    close(fd);
    return e;
  }
  want = (size_t)st->st_size;
  buf = malloc(want ? want : 1);
  if(!buf) {
    close(fd);
    return ENOMEM;
  }
  while(got < want) {
    ssize_t n = read(fd, buf + got, want - got);
    if(n < 0 && errno == EINTR)
      continue;
    if(n < 0) {
      e = errno;
      break;
    }
    if(n == 0)
      break;
    got += (size_t)n;
  }
  close(fd);
  if(!e)
    *hash = cf_hash64(buf, got);
  free(buf);
  return e;
}

int cf_image_stale(const curlfence_policy *p, curlfence_error *why)
{
  const cf_image *im = p ? p->image : NULL;
  if(why)
    memset(why, 0, sizeof *why);
  if(!im)
    return 0;
  for(size_t i = 0; i < im->nsrc; i++) {
    const cf_img_src *s = &im->src[i];
    const char *name = im->strings + s->name;
    struct stat st;
    uint64_t h = 0;
    char *path;
    int e;
    if(!(s->flags & SRC_FILE))
      continue;
    path = cf_image_source_path(p->source, im->strings + s->path);
    if(!path) {
      cf_error_set(why, CURLFENCE_E_NOMEM, NULL, 0, 0, "out of memory");
      return 1;
    }
    /* Only the text counts, never a time: a copy or checkout that kept
     * the text is not stale, and an edit that kept size and time is.
     * Another size is stale without reading further. */
    e = stat(path, &st) == 0 && (uint64_t)st.st_size != s->size
            ? 0 : cf_image_hash_file(path, &h, &st);
    if(e || (uint64_t)st.st_size != s->size || h != s->hash) {
      if(e)
        cf_error_set(why, CURLFENCE_E_IMAGE, name, 0, 0,
                     "compiled into the image, but \"%s\" cannot be read: %s",
                     path, strerror(e));
      else if(strcmp(path, name) != 0)
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

int cf_image_compiled_from(const curlfence_policy *p, const char *path)
{
  const cf_image *im = p ? p->image : NULL;
  struct stat a, b;
  char *src;
  int same;
  /* The first source is the file the compile started from; the others
   * are what it included. */
  if(!im || !im->nsrc || !(im->src[0].flags & SRC_FILE))
    return 0;
  src = cf_image_source_path(p->source, im->strings + im->src[0].path);
  if(!src)
    return 0;
  same = stat(src, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
         a.st_ino == b.st_ino;
  free(src);
  return same;
}

CURLFENCE_API int
curlfence_policy_image_stale(const curlfence_policy *policy,
                             curlfence_error *why)
{
  return cf_image_stale(policy, why);
}
