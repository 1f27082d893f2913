/* SPDX-License-Identifier: MIT */
/*
 * fuzz_image.c - libFuzzer harness for compiled policy images.
 *
 * Input: one flags byte, then the image.  The image is copied into a heap
 * block of exactly its size, so AddressSanitizer sees any read past the
 * end, and loaded with cf_image_load_mem().  Flags bit 0 set: the checksum
 * is recomputed first, so the mutations reach the structural checks
 * instead of stopping at the checksum.
 *
 * What must hold:
 *  - no crash, no read outside the image (ASan), every lookup ends;
 *  - checksum left alone: an image is accepted only if it is one of the
 *    seeds' images byte for byte, and then it answers exactly like the
 *    rules text it was compiled from, verdicts included;
 *  - checksum recomputed (a deliberate edit, not damage): whatever is
 *    accepted is self-consistent: the fast path (no verdict) and the
 *    verdict agree, a verdict's text starts with its action, a rule with
 *    ports decides only for a port it lists, and the deciding rule is of
 *    the address's family; a name decided by a host rule has a verdict
 *    whose text is that kind of host rule, and the image's host rule
 *    index answers as the scan over its host rules (cf_host_match_linear).
 *    (Whether an edited table still matches the rules beside it cannot
 *    be known without compiling them again.)
 *
 * Names are asked of every image, with every probe address: the seeds'
 * images of host rules answer them as their rules text.
 *
 * Seeds: test/fuzz/corpus/image/, written by running this harness on any
 * input with CURLFENCE_FUZZ_WRITE_SEEDS=DIR (the sources listed below);
 * write them again when the image format changes.
 */
#include "engine/engine.h"
#include "fuzz.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

static const char *const sources[] = {
    "default allow\nunix deny\ndeny 10.0.0.0/8\nallow 10.20.0.0/16\n"
    "deny 192.0.2.7\nallow 198.51.100.0/24 port 443,8000-8080\n"
    "deny 198.51.100.0/24\ndeny 2001:db8::/32\n"
    "allow 2001:db8:1::/48 port 443\ndeny 2001:db8:1:2::1\n",
    "mode report\ndefault deny\nallow 0.0.0.0/0 port 80\n"
    "allow 203.0.113.0/24\ndeny 203.0.113.128/25 port 1-1024\n"
    "allow ::/0 port 443\ndeny fe80::/10\n",
    "",
    "default deny\ndeny 10.0.0.0/8\ndeny 2001:db8::/32\n"
    "allow host api.partner.example port 443\n"
    "allow host *.partner.example port 80,8000-8080\n"
    "deny host bad.partner.example\n"
    "allow host ci.internal to 10.20.0.0/16\n"
    "allow host *.v6.example to 2001:db8:1::/48 port 443\n"
    "deny host *.a-name-longer-than-forty-bytes-inline.example\n"
    "allow host *.example\n",
};
#define NSRC (sizeof sources / sizeof sources[0])

static struct {
  curlfence_policy *text;
  unsigned char *img;
  size_t len;
} seed[NSRC];

static const char *const probes[] = {
    "10.1.2.3", "10.20.3.4", "192.0.2.7", "192.0.2.8", "198.51.100.9",
    "203.0.113.5", "203.0.113.200", "0.0.0.0", "255.255.255.255",
    "2001:db8::5", "2001:db8:1::9", "2001:db8:1:2::1", "fe80::1", "::",
    "ffff::1", "::ffff:10.1.2.3"};
static const unsigned ports[] = {0, 80, 443, 1000, 8080, 65535};
static const char *const names[] = {
    NULL, "api.partner.example", "x.partner.example", "bad.partner.example",
    "partner.example", "ci.internal", "a.v6.example", "example",
    "x.a-name-longer-than-forty-bytes-inline.example", "q.example",
    "API.Partner.Example."};

static socklen_t addr_of(struct sockaddr_storage *ss, const char *a,
                         unsigned port)
{
  memset(ss, 0, sizeof *ss);
  if(strchr(a, ':')) {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    inet_pton(AF_INET6, a, &in6->sin6_addr);
    return sizeof *in6;
  }
  struct sockaddr_in *in = (struct sockaddr_in *)ss;
  in->sin_family = AF_INET;
  in->sin_port = htons((uint16_t)port);
  inet_pton(AF_INET, a, &in->sin_addr);
  return sizeof *in;
}

static void same(int ok, const char *what)
{
  if(!ok) {
    fprintf(stderr, "fuzz_image: %s\n", what);
    abort();
  }
}

/* Equal but for the checksum and the compile time. */
static int same_image(const unsigned char *a, const unsigned char *b,
                      size_t len)
{
  return len >= 64 && !memcmp(a, b, 8) && !memcmp(a + 16, b + 16, 24) &&
         !memcmp(a + 48, b + 48, len - 48);
}

static int str_eq(const char *a, const char *b)
{
  return (!a && !b) || (a && b && !strcmp(a, b));
}

/* The seeds' policies and images, made once (the replay driver of make
 * check has no initialisation hook). */
static void init(void)
{
  const char *dir = getenv("CURLFENCE_FUZZ_WRITE_SEEDS");
  for(size_t i = 0; i < NSRC; i++) {
    curlfence_error err;
    if(curlfence_policy_load_string(&seed[i].text, sources[i],
                                    strlen(sources[i]), "seed.rules", &err) ||
       cf_image_build(seed[i].text, NULL, &seed[i].img, &seed[i].len,
                      &err)) {
      fprintf(stderr, "fuzz_image: seed %zu: %s\n", i, err.text);
      abort();
    }
    if(dir) {
      /* two seeds per image: checksum kept, checksum recomputed */
      for(int flag = 0; flag < 2; flag++) {
        char path[4096];
        FILE *f;
        unsigned char b = (unsigned char)flag;
        snprintf(path, sizeof path, "%s/seed-%zu-%s", dir, i,
                 flag ? "resealed" : "as-is");
        f = fopen(path, "wb");
        if(!f || fwrite(&b, 1, 1, f) != 1 ||
           fwrite(seed[i].img, 1, seed[i].len, f) != seed[i].len ||
           fclose(f))
          abort();
      }
    }
  }
}

/* Names at every probe address: host rule verdicts name a host rule,
 * the index agrees with the scan, an unchanged image with its text. */
static void check_names(const curlfence_policy *p, int exact,
                        const curlfence_policy *text)
{
  for(size_t n = 0; n < sizeof names / sizeof names[0]; n++)
    for(size_t a = 0; a < sizeof probes / sizeof probes[0]; a++) {
      unsigned port = ports[(n + a) % (sizeof ports / sizeof ports[0])];
      curlfence_verdict v, tv;
      curlfence_action got =
          curlfence_policy_decide_name(p, names[n], probes[a], port, &v);
      same(v.rule && v.reason, "a name's verdict without a rule text");
      if(!strncmp(v.reason, "host", 4))
        same(!strncmp(v.rule, got ? "allow host " : "deny host ",
                      got ? 11 : 10),
             "a host verdict's text is not a host rule of its action");
      if(exact) {
        curlfence_action t =
            curlfence_policy_decide_name(text, names[n], probes[a], port,
                                         &tv);
        same(t == got && str_eq(v.rule, tv.rule) &&
                 str_eq(v.reason, tv.reason) && v.line == tv.line,
             "an unchanged image decides a name unlike its rules");
      }
    }
  if(p->rs.nhosts) {
    static const uint8_t key[4] = {10, 20, 0, 1};
    for(size_t n = 1; n < sizeof names / sizeof names[0] - 1; n++)
      for(cf_hostq q = CF_HOSTQ_DENY; q <= CF_HOSTQ_ALLOW; q++)
        same(cf_hostidx_find(p->hosts, &p->rs, q, names[n], 0, key, 443) ==
                 cf_host_match_linear(&p->rs, q, names[n], 0, key, 443),
             "the image's host index disagrees with the scan");
  }
}

static void check_consistent(const curlfence_policy *p, int exact,
                             const curlfence_policy *text)
{
  check_names(p, exact, text);
  for(size_t a = 0; a < sizeof probes / sizeof probes[0]; a++)
    for(size_t b = 0; b < sizeof ports / sizeof ports[0]; b++) {
      struct sockaddr_storage ss;
      socklen_t len = addr_of(&ss, probes[a], ports[b]);
      curlfence_verdict v, tv;
      curlfence_action fast, slow;
      fast = curlfence_policy_decide(p, (struct sockaddr *)&ss, len, NULL);
      slow = curlfence_policy_decide(p, (struct sockaddr *)&ss, len, &v);
      same(fast == slow, "the fast path and the verdict disagree");
      same(v.rule && v.reason, "a verdict without a rule text");
      (void)strlen(v.rule);
      if(v.file)
        (void)strlen(v.file);
      if(!strcmp(v.reason, "rule"))
        same(!strncmp(v.rule, slow ? "allow " : "deny ", slow ? 6 : 5),
             "a verdict's text is not its action");
      if(exact) {
        curlfence_action t =
            curlfence_policy_decide(text, (struct sockaddr *)&ss, len, &tv);
        same(t == slow, "an unchanged image decides unlike its rules");
        same(str_eq(v.rule, tv.rule) && str_eq(v.file, tv.file) &&
                 v.line == tv.line && v.is_default == tv.is_default,
             "an unchanged image's verdict differs from its rules'");
      }
    }
  {
    struct sockaddr_un un;
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    curlfence_verdict v;
    curlfence_policy_decide(p, (struct sockaddr *)&un, sizeof un, &v);
    (void)strlen(v.rule);
  }
  {
    curlfence_rule_stat st[64];
    size_t n = curlfence_policy_rule_stats(p, st, 64);
    for(size_t i = 0; i < n && i < 64; i++) {
      (void)strlen(st[i].rule);
      if(st[i].file)
        (void)strlen(st[i].file);
    }
  }
  (void)curlfence_policy_report_only(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  curlfence_policy *p;
  curlfence_error err;
  unsigned char *img;
  size_t len;
  int reseal;

  if(!seed[0].img)
    init();
  if(size < 1)
    return 0;
  reseal = data[0] & 1;
  len = size - 1;
  img = malloc(len ? len : 1);
  if(!img)
    return 0;
  memcpy(img, data + 1, len);
  if(reseal && len >= 16) {
    uint64_t h = cf_hash64(img + 16, len - 16);
    memcpy(img + 8, &h, 8);
  }
  p = calloc(1, sizeof *p);
  if(!p) {
    free(img);
    return 0;
  }
  if(cf_image_load_mem(p, img, len, "fuzz", &err) == CURLFENCE_OK) {
    const curlfence_policy *text = NULL;
    for(size_t i = 0; i < NSRC; i++)
      if(seed[i].len == len && same_image(seed[i].img, img, len))
        text = seed[i].text;
    if(!reseal)
      same(text != NULL, "a changed image passed its checksum");
    p->hits = calloc(p->rs.nrules + 2, sizeof *p->hits);
    if(p->hits)
      check_consistent(p, text != NULL, text);
    free(p->hits);
    cf_image_close(p);
  }
  else {
    same(err.code == CURLFENCE_E_IMAGE || err.code == CURLFENCE_E_NOMEM,
         "a rejection with another code");
    same(!strncmp(err.text, "fuzz: offset ", 13) ||
             err.code == CURLFENCE_E_NOMEM,
         "a rejection without an offset");
  }
  free(p);
  free(img);
  return 0;
}
