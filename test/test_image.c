/* SPDX-License-Identifier: MIT */
/*
 * test_image.c - compiled policy images: round trips, the same answers as
 * the rules text, every rejection with its message, reload and watching,
 * staleness.
 *
 * Damaged images are made by editing a good one: the section table is read
 * back from the documented layout (lib/image.c) and, where the structural
 * checks are the target, the checksum is recomputed after the edit.
 */
#include "engine/engine.h"
#include "testutil.h"
#include "rand.h"

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

static char dir[64], rules_path[128], inc_path[128], img_path[128];

static void setup(void)
{
  strcpy(dir, "/tmp/cf-image-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(rules_path, sizeof(rules_path), "%s/site.rules", dir);
  snprintf(inc_path, sizeof(inc_path), "%s/extra.rules", dir);
  snprintf(img_path, sizeof(img_path), "%s/site.cfimg", dir);
}

static void teardown(void)
{
  char cmd[128];

  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  ck_assert_int_eq(system(cmd), 0);
}

static curlfence_policy *load_ok(const char *path)
{
  curlfence_policy *p = NULL;
  curlfence_error err;

  if(curlfence_policy_load_file(&p, path, &err))
    ck_abort_msg("load %s: %s", path, err.text);
  return p;
}

static void save_ok(const curlfence_policy *p, const char *path)
{
  curlfence_error err;

  if(curlfence_policy_save_image(p, path, &err))
    ck_abort_msg("save %s: %s", path, err.text);
}

/* The whole file at path in memory. */
static unsigned char *slurp(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  unsigned char *b;
  long n;

  ck_assert_ptr_nonnull(f);
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  b = malloc((size_t)n + 1);
  ck_assert_ptr_nonnull(b);
  ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return b;
}

static void spill(const char *path, const unsigned char *b, size_t n)
{
  FILE *f = fopen(path, "wb");

  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(b, 1, n, f), n);
  ck_assert_int_eq(fclose(f), 0);
}

static const char site_rules[] =
  "# a site policy\n"
  "default allow\n"
  "unix deny\n"
  "deny 10.0.0.0/8\n"
  "allow 10.20.0.0/16\n"
  "deny 192.0.2.7\n"
  "allow 198.51.100.0/24 port 443,8000-8080\n"
  "deny 198.51.100.0/24\n"
  "deny 2001:db8::/32\n"
  "allow 2001:db8:1::/48 port 443\n"
  "include extra.rules\n";
static const char extra_rules[] =
  "deny 127.0.0.0/8\n"
  "deny ::1\n"
  "deny 169.254.169.254\n";

static void write_site(void)
{
  tu_write_text(rules_path, site_rules);
  tu_write_text(inc_path, extra_rules);
}

/* Same action and verdict for addr:port from both policies. */
static void same_answer(const curlfence_policy *a, const curlfence_policy *b,
                        const char *addr, unsigned port)
{
  curlfence_verdict va, vb;
  curlfence_action xa = tu_decide(a, addr, port, &va);
  curlfence_action xb = tu_decide(b, addr, port, &vb);

  ck_assert_msg(xa == xb, "%s port %u: %d vs %d", addr, port, xa, xb);
  ck_assert_int_eq(tu_decide(a, addr, port, NULL),
                   tu_decide(b, addr, port, NULL));
  ck_assert_int_eq(va.is_default, vb.is_default);
  ck_assert_uint_eq(va.line, vb.line);
  ck_assert_str_eq(va.rule, vb.rule);
  ck_assert_str_eq(va.reason, vb.reason);
  if(va.file)
    ck_assert_str_eq(va.file, vb.file);
  else
    ck_assert_ptr_null(vb.file);
}

static void free_img(void);

TU_SUITE_STATIC_ONLY("image", NULL);
TU_CASE(tc_image, "image", 60, setup, free_img);

TU_TEST(tc_image, round_trip)
{
  static const char *addrs[] = {
    "10.1.2.3", "10.20.3.4", "192.0.2.7", "192.0.2.8", "198.51.100.9",
    "127.0.0.1", "::ffff:127.0.0.1", "::1", "2001:db8::5", "2001:db8:1::9",
    "2001:db9::1", "169.254.169.254", "93.184.215.14"
  };
  static const unsigned ports[] = { 0, 80, 443, 8000, 8080, 8081 };
  curlfence_policy *text, *img;
  curlfence_verdict v;
  curlfence_rule_stat st[16];
  struct sockaddr_storage ss;
  size_t i, j, n;

  write_site();
  text = load_ok(rules_path);
  save_ok(text, img_path);
  img = load_ok(img_path);
  ck_assert_ptr_nonnull(img->image);
  ck_assert_ptr_null(text->image);
  ck_assert_uint_eq(curlfence_policy_rule_count(img), 10);
  ck_assert_int_eq(curlfence_policy_report_only(img), 0);
  for(i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++)
    for(j = 0; j < sizeof(ports) / sizeof(ports[0]); j++)
      same_answer(text, img, addrs[i], ports[j]);
  ck_assert_int_eq(tu_decide(img, "198.51.100.9", 8080, &v), CURLFENCE_ALLOW);
  ck_assert_str_eq(v.file, rules_path);
  ck_assert_uint_eq(v.line, 7);
  ck_assert_str_eq(v.rule, "allow 198.51.100.0/24 port 443,8000-8080");
  ck_assert_int_eq(tu_decide(img, "127.0.0.1", 80, &v), CURLFENCE_DENY);
  ck_assert_str_eq(v.file, inc_path);
  ck_assert_str_eq(v.rule, "deny 127.0.0.0/8");
  /* unix sockets and the settings' texts */
  memset(&ss, 0, sizeof(ss));
  ss.ss_family = AF_UNIX;
  ck_assert_int_eq(curlfence_policy_decide(img, (struct sockaddr *)&ss,
                                           sizeof(ss), &v), CURLFENCE_DENY);
  ck_assert_str_eq(v.rule, "unix deny");
  ck_assert_uint_eq(v.line, 3);
  n = curlfence_policy_rule_stats(img, st, 16);
  ck_assert_uint_eq(n, 12);
  ck_assert_str_eq(st[0].rule, "deny 10.0.0.0/8");
  ck_assert_str_eq(st[10].rule, "default allow");
  ck_assert_str_eq(st[11].rule, "unix deny");
  ck_assert_uint_eq(st[11].hits, 0);
  /* an image saved from an image is the same policy */
  save_ok(img, img_path);
  curlfence_policy_unref(img);
  img = load_ok(img_path);
  for(i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++)
    same_answer(text, img, addrs[i], 443);
  curlfence_policy_unref(img);
  curlfence_policy_unref(text);
}
END_TEST

TU_TEST(tc_image, settings_and_strings)
{
  static const char txt[] = "mode report\ndeny 0.0.0.0/0\n";
  curlfence_policy *text = tu_load(txt), *img;
  curlfence_verdict v;

  save_ok(text, img_path);
  img = load_ok(img_path);
  ck_assert_int_eq(curlfence_policy_report_only(img), 1);
  ck_assert_int_eq(tu_decide(img, "1.2.3.4", 0, &v), CURLFENCE_DENY);
  ck_assert_str_eq(v.file, "test.rules");
  ck_assert_int_eq(tu_decide(img, "::2", 0, &v), CURLFENCE_DENY);
  ck_assert_str_eq(v.rule, "default deny (built-in)");
  ck_assert_int_eq(curlfence_policy_image_stale(img, NULL), 0);
  curlfence_policy_unref(img);
  curlfence_policy_unref(text);
}
END_TEST

TU_TEST(tc_image, empty_policy)
{
  curlfence_policy *text = tu_load(""), *img;

  save_ok(text, img_path);
  img = load_ok(img_path);
  ck_assert_uint_eq(curlfence_policy_rule_count(img), 0);
  ck_assert_int_eq(tu_decide(img, "1.2.3.4", 80, NULL), CURLFENCE_DENY);
  ck_assert_int_eq(tu_decide(img, "2001:db8::1", 80, NULL), CURLFENCE_DENY);
  curlfence_policy_unref(img);
  curlfence_policy_unref(text);
}
END_TEST

/* ------------------------------------------------ the same answers */

/* A random policy of n rules that nest and touch often (few top
 * prefixes, many lengths), with ports on some; written to path. */
static void random_rules(const char *path, uint64_t seed, size_t n,
                         char (*probe)[64], size_t nprobe)
{
  FILE *f = fopen(path, "w");
  size_t i;

  ck_assert_ptr_nonnull(f);
  fputs(seed & 1 ? "default allow\n" : "default deny\n", f);
  for(i = 0; i < n; i++) {
    uint64_t r = rnd_next(&seed);
    int v6 = (r & 3) == 0, plen;
    uint8_t a[16];
    char buf[64];
    unsigned j;

    for(j = 0; j < 16; j++)
      a[j] = (uint8_t)rnd_next(&seed);
    a[0] = v6 ? 0x20 : (uint8_t)(10 + (a[0] & 1));
    a[1] &= 0x3;
    plen = v6 ? 8 + (int)(rnd_next(&seed) % 121)
              : 8 + (int)(rnd_next(&seed) % 25);
    for(j = 0; j < 16; j++) {
      int lo = (int)j * 8;
      if(plen <= lo)
        a[j] = 0;
      else if(plen < lo + 8)
        a[j] &= (uint8_t)(0xff00u >> (plen - lo));
    }
    inet_ntop(v6 ? AF_INET6 : AF_INET, a, buf, sizeof(buf));
    fprintf(f, "%s %s/%d", (r >> 8) & 1 ? "allow" : "deny", buf, plen);
    if(((r >> 9) & 7) == 0)
      fprintf(f, " port %u,%u-%u", 443u, 8000u + (unsigned)(r >> 20) % 50,
              8050u + (unsigned)(r >> 30) % 50);
    fputc('\n', f);
  }
  ck_assert_int_eq(fclose(f), 0);
  /* probes: addresses inside and just around random rules */
  for(i = 0; i < nprobe; i++) {
    uint8_t a[16];
    int v6 = (rnd_next(&seed) & 3) == 0;
    unsigned j;

    for(j = 0; j < 16; j++)
      a[j] = (uint8_t)rnd_next(&seed);
    a[0] = v6 ? 0x20 : (uint8_t)(10 + (a[0] & 1));
    a[1] &= 0x3;
    if(rnd_next(&seed) & 1) {
      /* zero or saturate a random tail: prefix edges */
      unsigned from = (unsigned)(rnd_next(&seed) % (v6 ? 16 : 4));
      for(j = from; j < 16; j++)
        a[j] = (rnd_next(&seed) & 1) ? 0 : 0xff;
    }
    inet_ntop(v6 ? AF_INET6 : AF_INET, a, probe[i], 64);
  }
}

TU_TEST(tc_image, equal_answers)
{
  static const unsigned ports[] = { 0, 80, 443, 8000, 8049, 8099 };
  unsigned rounds = tu_quick() ? 3 : 12;

  for(unsigned round = 0; round < rounds; round++) {
    char (*probe)[64] = malloc(2000 * sizeof(*probe));
    curlfence_policy *text, *img, *mem;
    curlfence_error err;
    unsigned char *buf;
    size_t len;

    ck_assert_ptr_nonnull(probe);
    random_rules(rules_path, 1000 + round, 50 + 300 * round, probe, 2000);
    text = load_ok(rules_path);
    save_ok(text, img_path);
    img = load_ok(img_path);
    buf = slurp(img_path, &len);
    mem = calloc(1, sizeof(*mem));
    ck_assert_ptr_nonnull(mem);
    if(cf_image_load_mem(mem, buf, len, "mem", &err))
      ck_abort_msg("%s", err.text);
    for(size_t i = 0; i < 2000; i++) {
      same_answer(text, img, probe[i], ports[i % 6]);
      same_answer(text, mem, probe[i], ports[i % 6]);
    }
    cf_image_close(mem);
    free(mem);
    free(buf);
    curlfence_policy_unref(img);
    curlfence_policy_unref(text);
    free(probe);
  }
}
END_TEST

/* ------------------------------------------------------- rejections */

static unsigned char *img;
static size_t img_len;

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
  rejected("offset 16: format version 1; this library reads versions 3 "
           "and 4 (compile the image again)");
  put32(16, 3);
  put32(20, 0x04030201);
  rejected("offset 20: byte order mark 0x04030201: the image was written on "
           "a machine of the other byte order");
  put32(20, 0x01020304);
  put32(24, 4);
  rejected("offset 24: word size 4; this machine's is 8");
  put32(24, 8);
  put32(28, 1000);
  rejected("offset 28: 1000 sections: the section table does not fit");
  put32(28, 16);
  {
    size_t t;
    uint64_t good = get64(8), got;

    section(12, &t, NULL);
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
  e = section(10, &d, &n);
  k = (e - 64) / 24;
  put32(e, 99);
  rejected_resealed("offset %zu: section %zu: unknown section id "
                    "99", e, k);
  put32(e, 8);
  rejected_resealed("offset %zu: section %zu: a second port "
                    "candidates section", e, k);
  put32(e, 10);
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
  r2 = field(10, 40, 2, 0);
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
  section(12, &t, &nt);
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
  /* IPv4 direct array: find an entry with a single value and point it
   * past the rules */
  section(1, &d, &n);
  for(i = 0; i < n; i++)
    if(get32(d + i * 16 + 12) == 0xffffffffu)
      break;
  ck_assert_uint_lt(i, n);
  put32(d + i * 16 + 8, 500);
  rejected_resealed("offset %zu: IPv4 direct array: direct entry "
                    "%zu: a rule index past the rules", d + i * 16, i);
  put32(d + i * 16 + 8, 0);
  put32(d + i * 16 + 12, 12345);   /* a node that does not exist */
  rejected_resealed("offset %zu: IPv4 direct array: direct entry "
                    "%zu: a node index past the nodes", d + i * 16, i);
  put32(d + i * 16 + 12, 0xfffffffeu);   /* flat, runs past the leaves */
  put32(d + i * 16 + 8, 0x7fffffff);
  put64(d + i * 16, 1);
  rejected_resealed("offset %zu: IPv4 direct array: direct entry %zu: "
                    "leaf runs past the end of the leaves", d + i * 16, i);
  put64(d + i * 16, 2);            /* digit 0 finds no run */
  put32(d + i * 16 + 8, 0);
  rejected_resealed("offset %zu: IPv4 direct array: direct entry %zu: "
                    "the first digit without a child starts no run of "
                    "leaves", d + i * 16, i);
  put64(d + i * 16, 0);
  put32(d + i * 16 + 12, 0xffffffffu);
  reseal();
  rejected_len(img_len, CURLFENCE_OK, "");
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
  unsigned char buf[301];
  uint64_t s = 12345;

  for(size_t i = 0; i < sizeof(buf); i++) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    buf[i] = (unsigned char)(s >> 56);
  }
  /* every length: the vector loop, the last words and bytes */
  for(size_t n = 0; n <= sizeof(buf); n++)
    ck_assert_msg(cf_hash64(buf, n) == ref_hash(buf, n), "length %zu", n);
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
END_TEST

/* --------------------------------------------- reload and the watcher */

/* Build an image of text at img_path by way of a temporary rules file
 * and rename(2), as a deployment would. */
static void deploy(const char *text)
{
  char tmp[160];
  curlfence_policy *p;

  tu_write_text(rules_path, text);
  p = load_ok(rules_path);
  snprintf(tmp, sizeof(tmp), "%s.new", img_path);
  save_ok(p, tmp);
  curlfence_policy_unref(p);
  ck_assert_int_eq(rename(tmp, img_path), 0);
}

TU_TEST(tc_image, reload_from_images)
{
  curlfence_policy *p;
  curlfence_guard *g;
  curlfence_error err;
  curlfence_stats st;
  uint64_t gen = 0;
  int i;

  deploy("default allow\ndeny 127.0.0.3\n");
  p = load_ok(img_path);
  ck_assert_int_eq(curlfence_guard_new(&g, p), CURLFENCE_OK);
  curlfence_policy_unref(p);
  deploy("default deny\nallow 127.0.0.3\n");
  ck_assert_int_eq(curlfence_guard_reload(g, &err), CURLFENCE_OK);
  p = curlfence_guard_policy(g, &gen);
  ck_assert_uint_eq(gen, 2);
  ck_assert_ptr_nonnull(p->image);
  ck_assert_int_eq(tu_decide(p, "127.0.0.3", 80, NULL), CURLFENCE_ALLOW);
  curlfence_policy_unref(p);
  /* a damaged image keeps the policy in force (replaced by rename: a
   * mapped image is never written in place) */
  {
    char tmp[160];

    snprintf(tmp, sizeof(tmp), "%s.bad", img_path);
    spill(tmp, (const unsigned char *)"\x89" "CFIMG\r\n", 8);
    ck_assert_int_eq(rename(tmp, img_path), 0);
  }
  ck_assert_int_eq(curlfence_guard_reload(g, &err), CURLFENCE_E_IMAGE);
  p = curlfence_guard_policy(g, &gen);
  ck_assert_uint_eq(gen, 2);
  ck_assert_int_eq(tu_decide(p, "127.0.0.3", 80, NULL), CURLFENCE_ALLOW);
  curlfence_policy_unref(p);

  /* the watcher picks up an image replaced by rename(2) */
  deploy("default deny\nallow 127.0.0.4\n");
  ck_assert_int_eq(curlfence_guard_reload(g, &err), CURLFENCE_OK);
  ck_assert_int_eq(curlfence_guard_watch(g, 10), CURLFENCE_OK);
  deploy("default allow\ndeny 127.0.0.4\n");
  for(i = 0; i < 500; i++) {
    struct timespec ts = { 0, 10000000 };
    curlfence_guard_stats(g, &st);
    if(st.generation == 4)
      break;
    nanosleep(&ts, NULL);
  }
  ck_assert_uint_eq(st.generation, 4);
  p = curlfence_guard_policy(g, NULL);
  ck_assert_int_eq(tu_decide(p, "127.0.0.4", 80, NULL), CURLFENCE_DENY);
  ck_assert_int_eq(tu_decide(p, "127.0.0.5", 80, NULL), CURLFENCE_ALLOW);
  curlfence_policy_unref(p);
  curlfence_guard_free(g);
}
END_TEST

/* ------------------------------------------------------- staleness */

TU_TEST(tc_image, staleness)
{
  static const char same_size[] =
    "deny 127.0.0.0/8\n"
    "deny ::2\n"
    "deny 169.254.169.254\n";
  curlfence_policy *p;
  curlfence_error why;
  struct stat compiled;
  struct timespec times[2] = { { 0, UTIME_NOW }, { 0, UTIME_NOW } };
  char moved[160], want[1000];

  write_site();
  ck_assert_int_eq(stat(inc_path, &compiled), 0);
  p = load_ok(rules_path);
  save_ok(p, img_path);
  curlfence_policy_unref(p);
  p = load_ok(img_path);
  ck_assert_int_eq(curlfence_policy_image_stale(p, &why), 0);
  /* touched, same text: not stale */
  times[0].tv_sec = times[1].tv_sec = 1000000000;
  times[0].tv_nsec = times[1].tv_nsec = 0;
  ck_assert_int_eq(utimensat(AT_FDCWD, inc_path, times, 0), 0);
  ck_assert_int_eq(curlfence_policy_image_stale(p, &why), 0);
  /* other text of the same size, and the time it was compiled at: the
   * content decides, not the time */
  ck_assert_int_eq(strlen(extra_rules), strlen(same_size));
  tu_write_text(inc_path, same_size);
  times[0] = compiled.st_atim;
  times[1] = compiled.st_mtim;
  ck_assert_int_eq(utimensat(AT_FDCWD, inc_path, times, 0), 0);
  ck_assert_int_eq(curlfence_policy_image_stale(p, &why), 1);
  tu_write_text(inc_path, extra_rules);
  ck_assert_int_eq(curlfence_policy_image_stale(p, &why), 0);
  /* other text in an include */
  tu_write_text(inc_path, "deny 127.0.0.0/8\n");
  ck_assert_int_eq(curlfence_policy_image_stale(p, &why), 1);
  snprintf(want, sizeof(want), "%s: changed since %s was compiled",
           inc_path, img_path);
  ck_assert_str_eq(why.text, want);
  ck_assert_int_eq(curlfence_policy_image_stale(NULL, &why), 0);
  tu_write_text(inc_path, extra_rules);
  ck_assert_int_eq(curlfence_policy_image_stale(p, NULL), 0);
  unlink(inc_path);
  ck_assert_int_eq(curlfence_policy_image_stale(p, &why), 1);
  ck_assert_msg(strstr(why.text, "cannot be read: No such file"), "%s",
                why.text);
  curlfence_policy_unref(p);
  /* the image and its rules moved together: still found */
  tu_write_text(inc_path, extra_rules);
  snprintf(moved, sizeof(moved), "%s-moved", dir);
  ck_assert_int_eq(rename(dir, moved), 0);
  snprintf(want, sizeof(want), "%s/site.cfimg", moved);
  p = load_ok(want);
  ck_assert_int_eq(curlfence_policy_image_stale(p, &why), 0);
  curlfence_policy_unref(p);
  ck_assert_int_eq(rename(moved, dir), 0);
  /* saving refuses rules that changed after loading */
  p = load_ok(rules_path);
  tu_write_text(rules_path, "deny 10.0.0.0/8\n");
  ck_assert_int_eq(curlfence_policy_save_image(p, img_path, &why),
                   CURLFENCE_E_INVAL);
  snprintf(want, sizeof(want), "%s: changed since the policy was loaded; "
           "load it again", rules_path);
  ck_assert_str_eq(why.text, want);
  curlfence_policy_unref(p);
}
END_TEST

/* The same rules give the same image bytes whenever and wherever their
 * files were written: no time is recorded, so builds are reproducible. */
TU_TEST(tc_image, no_times)
{
  struct timespec times[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
  curlfence_policy *p;
  unsigned char *first;
  size_t first_len, len;

  write_site();
  p = load_ok(rules_path);
  save_ok(p, img_path);
  curlfence_policy_unref(p);
  first = slurp(img_path, &first_len);
  ck_assert_int_eq(utimensat(AT_FDCWD, rules_path, times, 0), 0);
  ck_assert_int_eq(utimensat(AT_FDCWD, inc_path, times, 0), 0);
  p = load_ok(rules_path);
  save_ok(p, img_path);
  curlfence_policy_unref(p);
  img = slurp(img_path, &len);
  ck_assert_uint_eq(len, first_len);
  ck_assert_msg(memcmp(first, img, len) == 0,
                "two compilations of the same rules differ");
  free(first);
}
END_TEST

TU_TEST(tc_image, save_errors)
{
  curlfence_policy *p = tu_load("deny 10.0.0.0/8\n");
  curlfence_error err;
  char path[200];
  ck_assert_int_eq(curlfence_policy_save_image(NULL, img_path, &err),
                   CURLFENCE_E_INVAL);
  ck_assert_int_eq(curlfence_policy_save_image(p, NULL, &err),
                   CURLFENCE_E_INVAL);
  snprintf(path, sizeof(path), "%s/no/such/dir/x.cfimg", dir);
  ck_assert_int_eq(curlfence_policy_save_image(p, path, &err),
                   CURLFENCE_E_IO);
  ck_assert_msg(strstr(err.text, "cannot resolve the directory"), "%s",
                err.text);
  curlfence_policy_unref(p);
}
END_TEST

static void free_img(void)
{
  free(img);
  img = NULL;
  teardown();
}
