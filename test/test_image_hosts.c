/* SPDX-License-Identifier: MIT */
/*
 * Images of policies with host rules (format version 5): they decide
 * names as the rules text does, their index answers as the reference
 * scan, policies without host rules have an empty section, and every
 * field of a host rule record that is out of place is refused with its
 * offset.  Not in the shared-library run (it reads the format's
 * internals).
 */
#include "engine/engine.h"
#include "engine/image.h"
#include "image_fixture.h"
#include "rand.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TU_SUITE_STATIC_ONLY("image-hosts", NULL);
TU_CASE(tc_imghosts, "image-hosts", 120, image_setup, image_teardown);

static int str_eq(const char *a, const char *b)
{
  return (!a && !b) || (a && b && !strcmp(a, b));
}

static const char *const labels[] = { "a", "b", "ab", "api", "cdn", "x1",
                                      "partner", "example", "test",
                                      "a-very-long-label-that-passes-forty",
                                      "xn--bcher-kva" };
#define NLABELS (sizeof(labels) / sizeof(labels[0]))

static void random_name(uint64_t *seed, char *out, size_t size)
{
  unsigned n = 1 + rnd_below(seed, 4), i;
  size_t off = 0;

  for(i = 0; i < n; i++)
    off += (size_t)snprintf(out + off, size - off, "%s%s", i ? "." : "",
                            labels[rnd_below(seed, NLABELS)]);
}

/* Random host rules (exact names, wildcards, ports, exemptions, denies)
 * among address rules: the image decides every name, address and port
 * as the text does, verdict included, and its index (built at load)
 * answers every step's question as the reference scan over its rules. */
TU_TEST(tc_imghosts, image_hosts_decide_like_text)
{
  static const char *const addrs[] = { "10.0.0.1", "10.1.2.3", "10.2.0.9",
                                       "203.0.113.5", "127.0.0.1",
                                       "2001:db8::1", "2001:db8:1::7",
                                       "0.0.0.0" };
  static const char *const to[] = { " to 10.0.0.0/8", " to 10.1.0.0/16",
                                    " to 2001:db8::/32", " to 127.0.0.1" };
  static const unsigned ports[] = { 80, 443, 8000, 8081, 22 };
  uint64_t seed = 4;
  unsigned round, rounds = tu_quick() ? 15u : 120u;

  for(round = 0; round < rounds; round++) {
    char *text = malloc(64 * 160), name[200];
    size_t off = 0, i;
    unsigned nrules = 1 + rnd_below(&seed, 60);
    curlfence_policy *t, *img;
    curlfence_error err;

    ck_assert_ptr_nonnull(text);
    off += (size_t)snprintf(text, 64 * 160, "default %s\ndeny 10.0.0.0/8\n"
                            "allow 10.2.0.0/16 port 80\n"
                            "deny 127.0.0.0/8\ndeny 2001:db8::/32\n",
                            rnd_below(&seed, 2) ? "allow" : "deny");
    for(i = 0; i < nrules; i++) {
      unsigned kind = rnd_below(&seed, 4);

      random_name(&seed, name, sizeof(name));
      off += (size_t)snprintf(text + off, 64 * 160 - off,
                              "%s host %s%s%s%s\n",
                              kind == 0 ? "deny" : "allow",
                              rnd_below(&seed, 2) ? "*." : "", name,
                              kind == 3 ? to[rnd_below(&seed, 4)] : "",
                              rnd_below(&seed, 3) ? ""
                              : rnd_below(&seed, 2) ? " port 80"
                                                    : " port 443,8000-8080");
    }
    ck_assert_msg(curlfence_policy_load_string(&t, text, off, "r.rules",
                                               &err) == CURLFENCE_OK,
                  "%s\n%s", err.text, text);
    img = via_image(t);
    ck_assert_ptr_nonnull(img->image);
    ck_assert_uint_eq(img->rs.nhosts, t->rs.nhosts);
    for(i = 0; i < 400; i++) {
      const char *addr = addrs[rnd_below(&seed, 8)];
      unsigned port = ports[rnd_below(&seed, 5)];
      curlfence_verdict a, b;
      curlfence_action x, y;
      uint8_t key[4] = { 10, (uint8_t)rnd_below(&seed, 3), 0, 1 };
      cf_hostq q;

      random_name(&seed, name, sizeof(name));
      x = curlfence_policy_decide_name(t, name, addr, port, &a);
      y = curlfence_policy_decide_name(img, name, addr, port, &b);
      ck_assert_msg(x == y && a.is_default == b.is_default &&
                    a.line == b.line && str_eq(a.rule, b.rule) &&
                    str_eq(a.file, b.file) && str_eq(a.reason, b.reason),
                    "%s at %s port %u: text %d (%s, %s), image %d (%s, %s)"
                    "\n%s", name, addr, port, (int)x, a.reason, a.rule,
                    (int)y, b.reason, b.rule, text);
      for(q = CF_HOSTQ_DENY; q <= CF_HOSTQ_ALLOW; q++)
        ck_assert_int_eq(cf_hostidx_find(img->hosts, &img->rs, q, name, 0,
                                         key, port),
                         cf_host_match_linear(&img->rs, q, name, 0, key,
                                              port));
    }
    curlfence_policy_unref(img);
    curlfence_policy_unref(t);
    free(text);
  }
}
END_TEST

/* --------------------------------------------------------- the format */

static unsigned char *img;
static size_t img_len;

static void build(const char *rules)
{
  curlfence_policy *p = tu_load(rules);
  curlfence_error err;

  free(img);
  img = NULL;
  ck_assert_msg(cf_image_build(p, NULL, &img, &img_len, &err) ==
                CURLFENCE_OK, "%s", err.text);
  curlfence_policy_unref(p);
}

/* The offset and record count of section id; 0 when it is not there. */
static size_t section(unsigned id, size_t *count, size_t *entry)
{
  uint32_t n = tu_get32(img, 28), i;

  for(i = 0; i < n; i++) {
    size_t e = HDR_SIZE + (size_t)i * SEC_SIZE;

    if(tu_get32(img, e) == id) {
      if(count)
        *count = (size_t)tu_get64(img, e + 16);
      if(entry)
        *entry = e;
      return (size_t)tu_get64(img, e + 8);
    }
  }
  return 0;
}

static void put32(size_t off, uint32_t v)
{
  memcpy(img + off, &v, 4);
}

static void put64(size_t off, uint64_t v)
{
  memcpy(img + off, &v, 8);
}

static void reseal(void)
{
  put64(8, cf_hash64(img + 16, img_len - 16));
}

/* Load buf as it is: OK, or the error's text (static). */
static const char *load_mem(const unsigned char *buf, size_t len,
                            curlfence_policy **out)
{
  static curlfence_error err;
  curlfence_policy *p = calloc(1, sizeof(*p));

  ck_assert_ptr_nonnull(p);
  if(cf_image_load_mem(p, buf, len, "mem", &err) == CURLFENCE_OK) {
    if(out) {
      *out = p;
      return NULL;
    }
    cf_image_close(p);
    free(p);
    return NULL;
  }
  ck_assert_int_eq(err.code, CURLFENCE_E_IMAGE);
  ck_assert_ptr_null(p->hosts);
  free(p);
  return err.text;
}

static void refused(const char *want)
{
  const char *got;

  reseal();
  got = load_mem(img, img_len, NULL);
  ck_assert_msg(got != NULL, "accepted; want \"%s\"", want);
  ck_assert_str_eq(got, want);
}

static const char host_rules[] =
    "default deny\n"
    "deny 10.0.0.0/8\n"
    "allow host api.partner.example port 443\n"
    "allow host ci.internal to 10.20.0.0/16\n"
    "deny host *.bad.example\n";

/* Every image is version 5 with a host rules section, empty when the
 * policy has none. */
TU_TEST(tc_imghosts, image_hosts_version)
{
  size_t n = 0, e;
  curlfence_policy *p = NULL;
  curlfence_verdict v;

  build("default deny\ndeny 10.0.0.0/8\n");
  ck_assert_uint_eq(tu_get32(img, 16), 5);
  ck_assert_uint_eq(tu_get32(img, 28), 18);
  ck_assert_uint_ne(section(SEC_HOSTS, &n, NULL), 0);
  ck_assert_uint_eq(n, 0);
  ck_assert_ptr_null(load_mem(img, img_len, NULL));
  build(host_rules);
  ck_assert_uint_eq(tu_get32(img, 16), 5);
  ck_assert_uint_eq(tu_get32(img, 28), 18);
  ck_assert_uint_ne(section(SEC_HOSTS, &n, &e), 0);
  ck_assert_uint_eq(n, 3);
  ck_assert_uint_eq(tu_get32(img, e + 4), sizeof(cf_hostrule));
  ck_assert_ptr_null(load_mem(img, img_len, &p));
  ck_assert_ptr_nonnull(p->hosts);
  p->hits = calloc(p->rs.nrules + 2, sizeof(*p->hits));
  ck_assert_ptr_nonnull(p->hits);
  ck_assert_int_eq(curlfence_policy_decide_name(p, "api.partner.example",
                                                "203.0.113.5", 443, &v),
                   CURLFENCE_ALLOW);
  ck_assert_str_eq(v.reason, "host");
  ck_assert_int_eq(curlfence_policy_decide_name(p, "ci.internal",
                                                "10.20.3.4", 80, &v),
                   CURLFENCE_ALLOW);
  ck_assert_str_eq(v.reason, "host-to");
  ck_assert_int_eq(curlfence_policy_decide_name(p, "x.bad.example",
                                                "203.0.113.5", 443, &v),
                   CURLFENCE_DENY);
  ck_assert_str_eq(v.reason, "host-deny");
  {
    /* saved again from the image: the same bytes */
    unsigned char *again = NULL;
    size_t len = 0;
    curlfence_error err;

    ck_assert_int_eq(cf_image_build(p, NULL, &again, &len, &err),
                     CURLFENCE_OK);
    ck_assert_uint_eq(len, img_len);
    ck_assert_int_eq(memcmp(again, img, len), 0);
    free(again);
  }
  free(p->hits);
  cf_image_close(p);
  free(p);
  put32(16, 4);
  refused("mem: offset 16: format version 4; this library reads version 5 "
          "(compile the image again)");
  /* without its host rules: refused, never a policy that silently lacks
   * them */
  put32(16, 5);
  put32(28, 17);
  refused("mem: offset 28: no host rules section");
}
END_TEST

typedef struct damage {
  unsigned rule;          /* which host rule record */
  size_t field, size;     /* where in it, and how many bytes (1 or 4) */
  uint32_t value;
  const char *why;
} damage;

#define F(m) offsetof(cf_hostrule, m)

/* Each field of a host rule record, out of place: refused with the
 * record's offset and what is wrong, and the image as written loads. */
TU_TEST(tc_imghosts, image_hosts_damaged)
{
  static const damage d[] = {
    { 0, F(action), 1, 2, "unknown action" },
    { 0, F(wild), 1, 2, "a flag out of range, or padding that is not "
                        "zero" },
    { 0, F(to), 1, 7, "a flag out of range, or padding that is not zero" },
    { 0, F(v6), 1, 2, "a flag out of range, or padding that is not zero" },
    { 0, F(pad_) + 2, 1, 1, "a flag out of range, or padding that is not "
                            "zero" },
    { 2, F(to), 1, 1, "\"to PREFIX\" on a deny" },
    { 0, F(addr) + 3, 1, 1, "an address without \"to\"" },
    { 0, F(plen), 1, 8, "an address without \"to\"" },
    { 1, F(plen), 1, 33, "prefix length out of range" },
    { 1, F(addr) + 2, 1, 1, "address bits set past the prefix length" },
    { 1, F(plen), 1, 12, "address bits set past the prefix length" },
    { 1, F(addr) + 15, 1, 1, "address bits set past the prefix length" },
    { 0, F(file), 4, 9, "file index past the source files" },
    { 0, F(port_off), 4, 0xfffffff0u, "port ranges past the port ranges" },
    { 0, F(nports), 4, 2, "port ranges past the port ranges" },
    { 0, F(text), 4, 0xffffffffu, "text does not start with the rule's "
                                  "action and \"host\"" },
    { 0, F(text), 4, 0, "text does not start with the rule's action and "
                        "\"host\"" },
    { 2, F(action), 1, 1, "text does not start with the rule's action and "
                          "\"host\"" },
    { 0, F(namelen), 4, 0, "name outside the rule texts, or of a length "
                           "past a name's" },
    { 0, F(namelen), 4, 254, "name outside the rule texts, or of a length "
                             "past a name's" },
    { 0, F(namelen), 4, 5, "name outside the rule texts, or of a length "
                           "past a name's" },
    { 0, F(name), 4, 0xffffffffu, "name outside the rule texts, or of a "
                                  "length past a name's" },
  };
  size_t at, n = 0, i, texts, ntexts = 0;
  char want[300];

  build(host_rules);
  at = section(SEC_HOSTS, &n, NULL);
  ck_assert_uint_eq(n, 3);
  for(i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
    size_t off = at + d[i].rule * sizeof(cf_hostrule) + d[i].field;
    unsigned char keep[4];

    memcpy(keep, img + off, d[i].size);
    if(d[i].size == 1)
      img[off] = (unsigned char)d[i].value;
    else
      put32(off, d[i].value);
    snprintf(want, sizeof(want), "mem: offset %zu: host rule %u: %s",
             at + d[i].rule * sizeof(cf_hostrule), d[i].rule, d[i].why);
    refused(want);
    memcpy(img + off, keep, d[i].size);
  }
  /* the name's text itself: upper case, a trailing dot, an address */
  texts = section(SEC_TEXTS, &ntexts, NULL);
  {
    const cf_hostrule *h = (const cf_hostrule *)(const void *)(img + at);
    size_t name = texts + h->name;

    snprintf(want, sizeof(want), "mem: offset %zu: host rule 0: name not in "
             "canonical form", at);
    img[name] = 'A';
    refused(want);
    img[name] = 'a';
    img[name + h->namelen - 1] = '.';
    refused(want);
    img[name + h->namelen - 1] = 'e';
    memcpy(img + name + h->namelen - 7, "example", 7);
    img[name + h->namelen - 8] = '_';
    refused(want);
    img[name + h->namelen - 8] = '.';
  }
  /* more records than the section holds */
  {
    size_t e;

    section(SEC_HOSTS, NULL, &e);
    put64(e + 16, (uint64_t)-1 / sizeof(cf_hostrule));
    snprintf(want, sizeof(want), "mem: offset %zu: section 17 (host rules): "
             "%llu records of %zu bytes run past the end of the file",
             e + 16,
             (unsigned long long)((uint64_t)-1 / sizeof(cf_hostrule)),
             sizeof(cf_hostrule));
    refused(want);
    put64(e + 16, 3);
  }
  reseal();
  ck_assert_ptr_null(load_mem(img, img_len, NULL));
  free(img);
  img = NULL;
}
END_TEST
