/* SPDX-License-Identifier: MIT */
/*
 * test_image.c - compiled policy images: round trips, the same answers as
 * the rules text, reload and watching, staleness.  Their rejections are
 * in test_image_reject.c.
 */
#include "engine/engine.h"
#include "image_fixture.h"
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

TU_SUITE_STATIC_ONLY("image", NULL);
TU_CASE(tc_image, "image", 60, image_setup, image_teardown);

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
    cf_prefix_mask(a, a, (unsigned)plen, 16);
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
  snprintf(moved, sizeof(moved), "%s-moved", image_dir);
  ck_assert_int_eq(rename(image_dir, moved), 0);
  snprintf(want, sizeof(want), "%s/site.cfimg", moved);
  p = load_ok(want);
  ck_assert_int_eq(curlfence_policy_image_stale(p, &why), 0);
  curlfence_policy_unref(p);
  ck_assert_int_eq(rename(moved, image_dir), 0);
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
  unsigned char *first, *img;
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
  free(img);
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
  snprintf(path, sizeof(path), "%s/no/such/dir/x.cfimg", image_dir);
  ck_assert_int_eq(curlfence_policy_save_image(p, path, &err),
                   CURLFENCE_E_IO);
  ck_assert_msg(strstr(err.text, "cannot resolve the directory"), "%s",
                err.text);
  curlfence_policy_unref(p);
}
END_TEST
