/* SPDX-License-Identifier: MIT */
/*
 * Every rejection of a damaged image, with its message.  Damaged images
 * are made by editing a good one: the section table is read back from the
 * documented layout (lib/engine/image.h) and, where the structural checks
 * are the target, the checksum is recomputed after the edit.
 */
#include "engine/engine.h"
#include "image_fixture.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static unsigned char *img;
static size_t img_len;

static void free_img(void)
{
  free(img);
  img = NULL;
  image_teardown();
}

/* A good image of the site policy in img. */
static void make_image(void)
{
  curlfence_policy *p;

  write_site();
  p = load_ok(rules_path);
  save_ok(p, img_path);
  curlfence_policy_unref(p);
  img = slurp(img_path, &img_len);
}

static uint32_t get32(size_t off)
{
  return tu_get32(img, off);
}

static uint64_t get64(size_t off)
{
  return tu_get64(img, off);
}

static void put32(size_t off, uint32_t v)
{
  memcpy(img + off, &v, 4);
}

static void put64(size_t off, uint64_t v)
{
  memcpy(img + off, &v, 8);
}

/* Section id's table entry offset, data offset and record count. */
static size_t section(unsigned id, size_t *data, size_t *count)
{
  uint32_t n = get32(28);

  for(uint32_t i = 0; i < n; i++) {
    size_t e = 64 + (size_t)i * 24;
    if(get32(e) == id) {
      if(data)
        *data = (size_t)get64(e + 8);
      if(count)
        *count = (size_t)get64(e + 16);
      return e;
    }
  }
  ck_abort_msg("no section %u", id);
  return 0;
}

static void reseal(void)
{
  put64(8, cf_hash64(img + 16, img_len - 16));
}

/* Loading img (first len bytes) fails with code and exactly this text
 * after "<path>: ". */
static void rejected_len(size_t len, curlfence_code code, const char *want)
{
  curlfence_policy *p = (curlfence_policy *)1;
  curlfence_error err;
  char full[1700];

  spill(img_path, img, len);
  ck_assert_int_eq(curlfence_policy_load_file(&p, img_path, &err), code);
  if(code == CURLFENCE_OK) {
    curlfence_policy_unref(p);
    return;
  }
  ck_assert_ptr_null(p);
  ck_assert_int_eq(err.code, code);
  snprintf(full, sizeof(full), "%s: %s", img_path, want);
  ck_assert_str_eq(err.text, full);
}

static void rejected(const char *want)
{
  rejected_len(img_len, CURLFENCE_E_IMAGE, want);
}

/* The image, damaged, resealed so that only the damage is wrong, is
 * refused with the text of fmt. */
__attribute__((format(printf, 1, 2)))
static void rejected_resealed(const char *fmt, ...)
{
  char want[300];
  va_list ap;

  reseal();
  va_start(ap, fmt);
  vsnprintf(want, sizeof(want), fmt, ap);
  va_end(ap);
  rejected(want);
}

TU_SUITE_STATIC_ONLY("image-reject", NULL);
TU_CASE(tc_image, "image", 60, image_setup, free_img);

TU_TEST(tc_image, reject_header)
{
  char want[300];

  make_image();
  ck_assert_str_eq(curlfence_strerror(CURLFENCE_E_IMAGE),
                   "damaged or incompatible policy image");
  rejected_len(40, CURLFENCE_E_IMAGE,
               "offset 40: truncated: 40 bytes, the header alone is 64");
  rejected_len(3, CURLFENCE_E_IMAGE,
               "offset 3: truncated: 3 bytes, the header alone is 64");
  snprintf(want, sizeof(want), "offset %zu: truncated: the header says %zu "
           "bytes, the file has %zu", img_len - 100, img_len, img_len - 100);
  rejected_len(img_len - 100, CURLFENCE_E_IMAGE, want);
  img = realloc(img, img_len + 1);
  img[img_len] = 'x';
  snprintf(want, sizeof(want), "offset %zu: the header says %zu bytes, the "
           "file has %zu (trailing data)", img_len, img_len, img_len + 1);
  rejected_len(img_len + 1, CURLFENCE_E_IMAGE, want);
  img[5] = 'X';
  rejected("offset 5: not a curlfence image (bad magic)");
  img[5] = 'G';
  put32(16, 1);
  rejected("offset 16: format version 1; this library reads version 5 "
           "(compile the image again)");
  put32(16, 4);   /* the layout before IPv4 blocks */
  rejected("offset 16: format version 4; this library reads version 5 "
           "(compile the image again)");
  put32(16, 5);
  put32(20, 0x04030201);
  rejected("offset 20: byte order mark 0x04030201: the image was written on "
           "a machine of the other byte order");
  put32(20, 0x01020304);
  put32(24, 4);
  rejected("offset 24: word size 4; this machine's is 8");
  put32(24, 8);
  put32(28, 1000);
  rejected("offset 28: 1000 sections: the section table does not fit");
  put32(28, 18);
  {
    size_t t;
    uint64_t good = get64(8), got;

    section(13, &t, NULL);
    img[t] ^= 0x20;   /* one bit of a rule text */
    got = cf_hash64(img + 16, img_len - 16);
    snprintf(want, sizeof(want), "offset 8: checksum mismatch: the header "
             "says %016llx, the contents give %016llx (the file is damaged)",
             (unsigned long long)good, (unsigned long long)got);
    rejected(want);
    img[t] ^= 0x20;
  }
  img[50] = 1;
  reseal();
  rejected("offset 50: reserved header byte is not zero");
  img[50] = 0;
  reseal();
  rejected_len(img_len, CURLFENCE_OK, "");
}
END_TEST

TU_TEST(tc_image, reject_sections)
{
  size_t e, d, n, k;

  make_image();
  e = section(11, &d, &n);
  k = (e - 64) / 24;
  put32(e, 99);
  rejected_resealed("offset %zu: section %zu: unknown section id "
                    "99", e, k);
  put32(e, 8);
  rejected_resealed("offset %zu: section %zu: a second port "
                    "candidates section", e, k);
  put32(e, 11);
  put32(e + 4, 36);
  rejected_resealed("offset %zu: section %zu (rules): records of "
                    "36 bytes, expected 40", e + 4, k);
  put32(e + 4, 40);
  put64(e + 8, d + 4);
  rejected_resealed("offset %zu: section %zu (rules): offset %zu "
                    "is not aligned", e + 8, k, d + 4);
  put64(e + 8, 64);
  rejected_resealed("offset %zu: section %zu (rules): offset 64 "
                    "is inside the header or the section before", e + 8, k);
  put64(e + 8, d);
  put64(e + 16, n + 100000);
  rejected_resealed("offset %zu: section %zu (rules): %zu records of 40 "
                    "bytes run past the end of the file", e + 16, k,
                    n + 100000);
  put64(e + 16, n);
  reseal();
  rejected_len(img_len, CURLFENCE_OK, "");
}
END_TEST

/* Offset of field at byte fo of record i of section id. */
static size_t field(unsigned id, size_t rsize, size_t i, size_t fo)
{
  size_t d;

  section(id, &d, NULL);
  return d + i * rsize + fo;
}

TU_TEST(tc_image, reject_rules)
{
  size_t r2, t, nt;

  make_image();
  r2 = field(11, 40, 2, 0);
  /* rule 2: file index (offset 28 in cf_rule) */
  put32(r2 + 28, 7);
  rejected_resealed("offset %zu: rule 2: file index past the "
                    "source files", r2);
  put32(r2 + 28, 0);
  put32(r2 + 36, 100000);   /* text */
  rejected_resealed("offset %zu: rule 2: text offset past the "
                    "rule texts", r2);
  put32(r2 + 36, 0);
  put32(r2 + 24, 1);        /* nports: past the port ranges */
  put32(r2 + 20, 3);
  rejected_resealed("offset %zu: rule 2: port ranges past the "
                    "port ranges", r2);
  put32(r2 + 24, 0);
  put32(r2 + 20, 0);
  img[r2 + 17] = 33;        /* plen of an IPv4 rule */
  rejected_resealed("offset %zu: rule 2: family or prefix length "
                    "out of range", r2);
  img[r2 + 17] = 32;
  img[r2 + 18] = 1;         /* allow, but the text says deny */
  rejected_resealed("offset %zu: rule 2: text does not start with "
                    "the rule's action", r2);
  img[r2 + 18] = 2;         /* action */
  rejected_resealed("offset %zu: rule 2: unknown action", r2);
  img[r2 + 18] = 0;
  section(13, &t, &nt);
  img[t + nt - 1] = 'x';
  rejected_resealed("offset %zu: rule texts: the last one is not "
                    "NUL-terminated", t + nt - 1);
  img[t + nt - 1] = 0;
  reseal();
  rejected_len(img_len, CURLFENCE_OK, "");
  /* the table's allow bit disagrees with the deciding rule: the leaf of
   * rule 2 (deny 192.0.2.7) says allow */
  {
    size_t d, n, i;

    section(3, &d, &n);
    for(i = 0; i < n && get32(d + 4 * i) != 3; i++)
      ;
    ck_assert_uint_lt(i, n);
    put32(d + 4 * i, 3 | 0x80000000u);
    rejected_resealed("offset %zu: IPv4 leaves: leaf %zu: an "
                      "action that is not the rule's", d + 4 * i, i);
  }
}
END_TEST

TU_TEST(tc_image, reject_table)
{
  size_t d, n, i;

  make_image();
  /* IPv6 direct array: find an entry with a single value and point it
   * past the rules */
  section(4, &d, &n);
  for(i = 0; i < n; i++)
    if(get32(d + i * 16 + 12) == 0xffffffffu)
      break;
  ck_assert_uint_lt(i, n);
  put32(d + i * 16 + 8, 500);
  rejected_resealed("offset %zu: IPv6 direct array: direct entry "
                    "%zu: a rule index past the rules", d + i * 16, i);
  put32(d + i * 16 + 8, 0);
  put32(d + i * 16 + 12, 12345);   /* a node that does not exist */
  rejected_resealed("offset %zu: IPv6 direct array: direct entry "
                    "%zu: a node index past the nodes", d + i * 16, i);
  put32(d + i * 16 + 12, 0xfffffffeu);   /* flat, runs past the leaves */
  put32(d + i * 16 + 8, 0x7fffffff);
  put64(d + i * 16, 1);
  rejected_resealed("offset %zu: IPv6 direct array: direct entry %zu: "
                    "leaf runs past the end of the leaves", d + i * 16, i);
  put64(d + i * 16, 2);            /* digit 0 finds no run */
  put32(d + i * 16 + 8, 0);
  rejected_resealed("offset %zu: IPv6 direct array: direct entry %zu: "
                    "the first digit without a child starts no run of "
                    "leaves", d + i * 16, i);
  put64(d + i * 16, 0);
  put32(d + i * 16 + 12, 0xffffffffu);
  reseal();
  rejected_len(img_len, CURLFENCE_OK, "");
}
END_TEST

/* The IPv4 direct array (a 4-byte block offset per /8 in this small
 * policy) and its blocks (run bitmap, then run values). */
TU_TEST(tc_image, reject_blocks)
{
  size_t dir, ndir, blk, nblk, b127, b10, v10 = 0, r;
  uint64_t bm;

  make_image();
  section(1, &dir, &ndir);
  section(10, &blk, &nblk);
  ck_assert_uint_eq(ndir, 256);
  /* 127/8 is one rule: a single-value block; 10/8 holds 10.20/16, two
   * digits of 2^18 addresses below the block: a node */
  b127 = get32(dir + 127 * 4);
  b10 = get32(dir + 10 * 4);
  ck_assert_uint_eq(get64(blk + b127 * 4), 1);
  bm = get64(blk + b10 * 4);
  for(r = 0; r < (size_t)__builtin_popcountll(bm) && !v10; r++)
    if((get32(blk + (b10 + 2 + r) * 4) & 0xc0000000u) == 0xc0000000u)
      v10 = blk + (b10 + 2 + r) * 4;
  ck_assert_uint_ne(v10, 0);

  put32(dir + 127 * 4, (uint32_t)nblk - 1);
  rejected_resealed("offset %zu: IPv4 direct array: direct entry 127: "
                    "a block past the blocks", dir + 127 * 4);
  put32(dir + 127 * 4, (uint32_t)b10);   /* shares a block with nodes */
  rejected_resealed("offset %zu: IPv4 blocks: block at unit %zu (direct "
                    "entry 127), run %zu: a block with nodes below it "
                    "that another direct entry names too", v10,
                    b10, (v10 - blk) / 4 - b10 - 2);
  put32(dir + 127 * 4, (uint32_t)b127);

  put64(blk + b127 * 4, 2);              /* digit 0 starts no run */
  rejected_resealed("offset %zu: IPv4 direct array: direct entry 127: "
                    "a block whose first digit starts no run",
                    dir + 127 * 4);
  ck_assert_uint_lt(nblk - b127 - 2, 64);
  put64(blk + b127 * 4, ~(uint64_t)0);   /* 64 runs */
  rejected_resealed("offset %zu: IPv4 direct array: direct entry 127: "
                    "a block whose runs go past the end of the blocks",
                    dir + 127 * 4);
  put64(blk + b127 * 4, 1);

  r = blk + (b127 + 2) * 4;
  put32(r, 500);
  rejected_resealed("offset %zu: IPv4 blocks: block at unit %zu (direct "
                    "entry 127), run 0: a rule index past the rules", r,
                    b127);
  put32(r, 0x40000000u | 77);
  rejected_resealed("offset %zu: IPv4 blocks: block at unit %zu (direct "
                    "entry 127), run 0: a port set index past the port "
                    "sets", r, b127);
  put32(r, 0xc0000000u | 12345);
  rejected_resealed("offset %zu: IPv4 blocks: block at unit %zu (direct "
                    "entry 127), run 0: a node index past the nodes", r,
                    b127);
  put32(r, get32(v10));                  /* 10/8's node */
  rejected_resealed("offset %zu: IPv4 blocks: block at unit %zu (direct "
                    "entry 127), run 0: a node that has another parent", r,
                    b127);
  put32(r, 0);                           /* no rule: fine */
  reseal();
  rejected_len(img_len, CURLFENCE_OK, "");
}
END_TEST

TU_TEST(tc_image, reject_leaves)
{
  size_t d, n;

  make_image();
  /* leaves: a port set that does not exist, an allow bit on a deny rule */
  section(3, &d, &n);
  ck_assert_uint_gt(n, 1);
  {
    uint32_t keep = get32(d);

    put32(d, 0x40000000u | 77);
    rejected_resealed("offset %zu: IPv4 leaves: leaf 0: a port "
                      "set index past the port sets", d);
    put32(d, 0xc0000000u);
    rejected_resealed("offset %zu: IPv4 leaves: leaf 0: a NAT64 "
                      "record in the IPv4 family", d);
    put32(d, keep);
  }
  /* port candidates: a rule without ports */
  section(8, &d, &n);
  ck_assert_uint_gt(n, 0);
  put32(d, 0);
  rejected_resealed("offset %zu: port candidates: candidate 0 "
                    "(rule 0): a rule without ports", d);
}
END_TEST

TU_TEST(tc_image, reject_nodes)
{
  curlfence_policy *p;
  size_t d, n;

  /* A /32 inside a /24 puts nodes below the direct array. */
  tu_write_text(rules_path,
                "deny 10.0.0.0/8\nallow 10.1.2.3\nallow 10.1.2.64/26"
                "\ndeny 2001:db8::/32\nallow 2001:db8::1\n");
  p = load_ok(rules_path);
  save_ok(p, img_path);
  curlfence_policy_unref(p);
  img = slurp(img_path, &img_len);
  section(5, &d, &n);     /* IPv6 nodes: a chain down to the /128 */
  ck_assert_uint_gt(n, 2);
  put32(d + 16, 0);       /* node 0's children start at itself: a loop */
  rejected_resealed("offset %zu: IPv6 nodes: node 0: children "
                    "outside the nodes after it", d);
  put32(d + 16, 1);
  put64(d + 24 + 8, get64(d + 24 + 8) | get64(d + 24));  /* node 1 */
  rejected_resealed("offset %zu: IPv6 nodes: node 1: a digit both "
                    "leads to a node and starts a run of leaves", d + 24);
}
END_TEST

/* The checksum as lib/image.c defines it, one word at a time, for the
 * vector loop to be held to. */
static uint64_t rotl64(uint64_t x, unsigned r)
{
  return x << r | x >> (64 - r);
}

static uint64_t ref_hash(const unsigned char *p, size_t n)
{
  const uint64_t k1 = 0x9e3779b97f4a7c15ull, k2 = 0x5a8279996ed9eba1ull,
                 k3 = 0x8f1bbcdcca62c1d7ull;
  uint64_t a[4] = {k1, k2, k3, ~k1}, b[4] = {0, 0, 0, 0}, h;
  size_t i, w = 0;

  for(i = 0; i < n; i += 8, w++) {
    unsigned char last[8] = {0};
    uint64_t x;
    /* a tail of fewer than four words goes to lanes 0, 1, ... */
    unsigned j = (n - n % 32) > i ? (unsigned)(w % 4)
                                  : (unsigned)((i - (n - n % 32)) / 8);
    memcpy(last, p + i, n - i < 8 ? n - i : 8);
    memcpy(&x, last, 8);
    a[j] += x;
    b[j] += a[j];
  }
  h = (uint64_t)n * k3;
  for(i = 0; i < 4; i++) {
    h = rotl64((h ^ a[i]) * k1, 27);
    h = rotl64((h ^ b[i]) * k2, 31);
  }
  h ^= h >> 31;
  h *= k2;
  h ^= h >> 29;
  h *= k3;
  return h ^ h >> 32;
}

TU_TEST(tc_image, checksum)
{
  _Alignas(16) unsigned char buf[301 + 16];
  uint64_t s = 12345;

  for(size_t i = 0; i < sizeof(buf); i++) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    buf[i] = (unsigned char)(s >> 56);
  }
  /* every length: the vector loops, the last words and bytes; from every
   * alignment, as the aligned loop runs only on 16-byte aligned data */
  for(size_t at = 0; at < 16; at++)
    for(size_t n = 0; n <= 301; n++)
      ck_assert_msg(cf_hash64(buf + at, n) == ref_hash(buf + at, n),
                    "length %zu at %zu", n, at);
  /* damage the checksum must see: any one bit, and two words that trade
   * places in a lane */
  {
    uint64_t good = cf_hash64(buf, 256), w1, w2;

    for(size_t bit = 0; bit < 256 * 8; bit++) {
      buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
      ck_assert_msg(cf_hash64(buf, 256) != good, "bit %zu", bit);
      buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    }
    memcpy(&w1, buf + 8, 8);
    memcpy(&w2, buf + 40, 8);
    memcpy(buf + 8, &w2, 8);
    memcpy(buf + 40, &w1, 8);
    ck_assert(cf_hash64(buf, 256) != good);
  }
}
END_TEST

TU_TEST(tc_image, not_an_image)
{
  curlfence_policy *p = NULL;
  curlfence_error err;

  /* A text that happens to start with the image's first byte is judged as
   * an image: a rules file cannot start with it. */
  tu_write_text(rules_path, "\x89PNG\r\n\x1a\n and more");
  ck_assert_int_eq(curlfence_policy_load_file(&p, rules_path, &err),
                   CURLFENCE_E_IMAGE);
  ck_assert_str_eq(err.message, "offset 1: not a curlfence image (bad magic)");
  tu_write_text(rules_path, "deny 10.0.0.0/8\n");
  p = load_ok(rules_path);
  ck_assert_ptr_null(p->image);
  curlfence_policy_unref(p);
}
