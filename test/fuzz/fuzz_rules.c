/* SPDX-License-Identifier: MIT */
/*
 * Harness: rules text -> curlfence_policy_load_string().
 *
 * Loading must never crash or leak, must fail with a code, a location and
 * a printable message, or succeed with a policy whose compiled table
 * agrees with the reference matcher (cf_match_linear) on fixed probes and
 * at the first address of every rule, and whose host rule index agrees
 * with the host rules' scan (cf_host_match_linear) for the names of its
 * host rules and names below them.
 *
 * Includes are exercised without touching the machine's files: the harness
 * works in a scratch directory of its own that holds a few rules files
 * (one includes another, one itself), and an input that names an include
 * path with a '/' is skipped.  It changes the working directory there, so
 * give libFuzzer absolute corpus and artifact paths (make fuzz-smoke
 * does).
 */
#include "fuzz.h"
#include "engine/engine.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

static char dir[64];

static const struct {
  const char *name, *text;
} files[] = {
  { "a.rules", "deny 10.0.0.0/8\ninclude b.rules\n" },
  { "b.rules", "allow 10.1.0.0/16 port 443,8000-8080\nallow ::/0 port 443\n" },
  { "self.rules", "include self.rules\n" },
  { "d.rules", "default allow\n" },
  { "bad.rules", "deny 10.0.0.1/8\n" },
};

static void cleanup(void)
{
  size_t i;

  for(i = 0; i < sizeof(files) / sizeof(files[0]); i++)
    unlink(files[i].name);
  if(chdir("/") == 0)
    rmdir(dir);
}

static void setup(void)
{
  size_t i;

  snprintf(dir, sizeof(dir), "/tmp/curlfence-fuzz-XXXXXX");
  if(!mkdtemp(dir) || chdir(dir) != 0)
    abort();
  for(i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    FILE *f = fopen(files[i].name, "w");
    if(!f || fputs(files[i].text, f) < 0 || fclose(f) != 0)
      abort();
  }
  atexit(cleanup);
}

/* Whether some line's include names a path with a '/', read the way the
 * parser reads it (or more broadly): such an input could reach any file. */
static int includes_a_path(const char *s, size_t n)
{
  const char *end = s + n;

  while(s < end) {
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    const char *e = nl ? nl : end, *hash = memchr(s, '#', (size_t)(e - s));
    const char *w;

    if(hash)
      e = hash;
    while(s < e && (*s == ' ' || *s == '\t'))
      s++;
    if((size_t)(e - s) > 7 && !memcmp(s, "include", 7) &&
       (s[7] == ' ' || s[7] == '\t')) {
      for(w = s + 7; w < e; w++)
        if(*w == '/')
          return 1;
    }
    s = nl ? nl + 1 : end;
  }
  return 0;
}

static void check_error(curlfence_code rc, const curlfence_policy *p,
                        const curlfence_error *err)
{
  const char *s;

  if(p || err->code != rc || rc <= CURLFENCE_OK || rc >= CURLFENCE_E_LAST ||
     !err->message[0] || !err->text[0]) {
    fprintf(stderr, "bad failure: code %d, err.code %d, text \"%s\"\n", rc,
            err->code, err->text);
    abort();
  }
  for(s = err->text; *s; s++)
    if(*s < 0x20 || *s >= 0x7f) {
      fprintf(stderr, "raw byte 0x%02x in error text\n", (unsigned char)*s);
      abort();
    }
}

/* The compiled table and the reference matcher pick the same rule. */
static void same(const curlfence_policy *p, int v6, const uint8_t *a,
                 unsigned port)
{
  long want = cf_match_linear(&p->rs, v6, a, port);
  int allow = -1;
  long got = cf_table_lookup_action(p->table, &p->rs, v6, a, port, &allow);

  if(want != got ||
     (got >= 0 && allow != (p->rs.rules[got].action == CURLFENCE_ALLOW))) {
    fprintf(stderr, "table says rule %ld (allow %d), reference %ld\n", got,
            allow, want);
    abort();
  }
}

static void decide(const curlfence_policy *p, int family, const void *addr,
                   unsigned port)
{
  struct sockaddr_storage ss;
  curlfence_verdict v;
  socklen_t len;

  memset(&ss, 0, sizeof(ss));
  if(family == AF_INET) {
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    memcpy(&in->sin_addr, addr, 4);
    len = sizeof(*in);
  }
  else if(family == AF_INET6) {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    memcpy(&in6->sin6_addr, addr, 16);
    len = sizeof(*in6);
  }
  else {
    struct sockaddr_un *un = (struct sockaddr_un *)&ss;
    un->sun_family = AF_UNIX;
    strcpy(un->sun_path, "/run/x.sock");
    len = sizeof(*un);
  }
  if(curlfence_policy_decide(p, (struct sockaddr *)&ss, len, &v) !=
     v.action || !v.rule || !v.reason) {
    fprintf(stderr, "decide: verdict inconsistent\n");
    abort();
  }
  if(family != AF_UNIX)
    same(p, family == AF_INET6, addr, port);
}

/* The host rule index and the scan pick the same rule for name. */
static void same_host(const curlfence_policy *p, const char *name)
{
  static const uint8_t a4[][4] = { { 10, 1, 2, 3 }, { 203, 0, 113, 5 } };
  static const unsigned ports[] = { 0, 80, 443 };
  curlfence_verdict v;
  cf_hostq q;
  size_t i, k;

  for(i = 0; i < sizeof(a4) / sizeof(a4[0]); i++)
    for(k = 0; k < sizeof(ports) / sizeof(ports[0]); k++)
      for(q = CF_HOSTQ_DENY; q <= CF_HOSTQ_ALLOW; q++) {
        long want = cf_host_match_linear(&p->rs, q, name, 0, a4[i],
                                         ports[k]);
        long got = cf_hostidx_find(p->hosts, &p->rs, q, name, 0, a4[i],
                                   ports[k]);

        if(want != got) {
          fprintf(stderr, "host index says rule %ld, reference %ld (%s)\n",
                  got, want, name);
          abort();
        }
      }
  if(curlfence_policy_decide_name(p, name, "203.0.113.5", 443, &v) !=
     v.action || !v.rule || !v.reason) {
    fprintf(stderr, "decide_name: verdict inconsistent\n");
    abort();
  }
}

static void probe_hosts(const curlfence_policy *p)
{
  char name[CF_HOST_MAX + 8];
  size_t i;

  for(i = 0; i < p->rs.nhosts && i < 64; i++) {
    const cf_hostrule *h = &p->rs.hosts[i];

    snprintf(name, sizeof(name), "%s", p->rs.texts + h->name);
    same_host(p, name);
    if(h->namelen + 2 <= CF_HOST_MAX) {
      snprintf(name, sizeof(name), "a.%s", p->rs.texts + h->name);
      same_host(p, name);
    }
  }
}

static void probe(const curlfence_policy *p)
{
  static const uint8_t v4[][4] = {
    { 0, 0, 0, 0 }, { 10, 1, 2, 3 }, { 127, 0, 0, 1 }, { 169, 254, 169, 254 },
    { 255, 255, 255, 255 },
  };
  static const uint8_t v6[][16] = {
    { 0 }, { [15] = 1 }, { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 },
    { [10] = 0xff, [11] = 0xff, 10, 0, 0, 1 },
    { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
  };
  static const unsigned ports[] = { 0, 80, 443, 8080, 65535 };
  size_t i, k;

  for(i = 0; i < sizeof(v4) / sizeof(v4[0]); i++)
    for(k = 0; k < sizeof(ports) / sizeof(ports[0]); k++)
      decide(p, AF_INET, v4[i], ports[k]);
  for(i = 0; i < sizeof(v6) / sizeof(v6[0]); i++)
    for(k = 0; k < sizeof(ports) / sizeof(ports[0]); k++)
      decide(p, AF_INET6, v6[i], ports[k]);
  decide(p, AF_UNIX, NULL, 0);
  probe_hosts(p);
  for(i = 0; i < p->rs.nrules && i < 256; i++) {
    const cf_rule *r = &p->rs.rules[i];

    same(p, r->v6, r->addr, 0);
    same(p, r->v6, r->addr, 443);
    if(r->nports) {
      const cf_port_range *pr = p->rs.ports + r->port_off;

      same(p, r->v6, r->addr, pr->lo);
      same(p, r->v6, r->addr, pr->hi < 65535 ? pr->hi + 1u : pr->hi);
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *text;
  curlfence_policy *p = NULL;
  curlfence_error err;
  curlfence_code rc;

  if(!data)               /* libFuzzer's empty input */
    data = (const uint8_t *)"";
  text = (const char *)data;

  if(!dir[0])
    setup();
  if(includes_a_path(text, size))
    return 0;
  memset(&err, 0, sizeof(err));
  rc = curlfence_policy_load_string(&p, text, size, "fuzz.rules", &err);
  if(rc) {
    check_error(rc, p, &err);
    return 0;
  }
  probe(p);
  curlfence_policy_unref(p);
  return 0;
}
