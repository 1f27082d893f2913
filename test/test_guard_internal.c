/* SPDX-License-Identifier: MIT */
/*
 * The guard's checks without libcurl (cf_guard_prereq): counters that many
 * threads update at once, how the pre-request check reads libcurl's
 * address text, and when a check reads and parses the connection's name.
 * Nothing here opens a socket.
 */
#include "testutil.h"
#include "guard/guard.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Every inet_pton() of this program passes through here, so a test can
 * see how many the pre-request check makes. */
static atomic_int pton_calls;

int inet_pton(int af, const char *src, void *dst)
{
  static int (*real)(int, const char *, void *);

  if(!real)
    *(void **)&real = dlsym(RTLD_NEXT, "inet_pton");
  atomic_fetch_add(&pton_calls, 1);
  return real(af, src, dst);
}

/* ------------------------------------------------------------- counters */

#define NTHREADS 20     /* more than CF_SHARDS: some threads share one */
#define PER_THREAD 3000

typedef struct worker {
  curlfence_guard *g;
  int id;
  int wrong;
  pthread_t t;
} worker;

/* Odd threads ask for the denied host, even ones for the allowed one;
 * every fifth request of an even thread reaches the default. */
static void *work(void *arg)
{
  worker *w = arg;

  for(int i = 0; i < PER_THREAD; i++) {
    const char *peer = w->id % 2 ? "10.1.2.3" :
                       i % 5 ? "10.9.9.9" : "10.7.0.1";
    int want = w->id % 2 ? CURL_PREREQFUNC_ABORT
               : i % 5   ? CURL_PREREQFUNC_OK
                         : CURL_PREREQFUNC_ABORT;

    if(cf_guard_prereq(w->g, peer, "10.0.0.2", 443, 40000, 0, NULL) != want)
      w->wrong++;
  }
  return NULL;
}

TU_SUITE_STATIC_ONLY("guard_internal", NULL);
TU_CASE(tc_checks, "checks", 120, NULL, NULL);

TU_TEST(tc_checks, test_counts_exact_across_threads)
{
  curlfence_policy *p = tu_load("default deny\n"
                                "deny 10.1.0.0/16\n"
                                "allow 10.9.0.0/16\n");
  curlfence_rule_stat rs[4];
  curlfence_stats st;
  curlfence_guard *g;
  worker w[NTHREADS];
  const uint64_t per = PER_THREAD, half = NTHREADS / 2;

  ck_assert_int_eq(curlfence_guard_new(&g, p), CURLFENCE_OK);
  for(int i = 0; i < NTHREADS; i++) {
    w[i] = (worker){ g, i, 0, 0 };
    ck_assert_int_eq(pthread_create(&w[i].t, NULL, work, &w[i]), 0);
  }
  for(int i = 0; i < NTHREADS; i++) {
    pthread_join(w[i].t, NULL);
    ck_assert_int_eq(w[i].wrong, 0);
  }
  ck_assert_int_eq(curlfence_guard_stats(g, &st), CURLFENCE_OK);
  ck_assert_uint_eq(st.allowed, half * per * 4 / 5);
  ck_assert_uint_eq(st.denied, half * per + half * per / 5);
  ck_assert_uint_eq(st.reported, 0);
  /* the rules in file order, then the default and the unix setting */
  ck_assert_uint_eq(curlfence_policy_rule_stats(p, rs, 4), 4);
  ck_assert_uint_eq(rs[0].hits, half * per);
  ck_assert_uint_eq(rs[1].hits, half * per * 4 / 5);
  ck_assert_uint_eq(rs[2].hits, half * per / 5);
  ck_assert_uint_eq(rs[3].hits, 0);
  curlfence_guard_free(g);
  curlfence_policy_unref(p);
}
END_TEST

/* "default deny", a deny and an allow (the workers' two networks), then
 * nr more deny rules. */
static curlfence_policy *many_rules(int nr)
{
  size_t cap = 32 * (size_t)nr + 128, len = 0;
  char *text = malloc(cap);
  curlfence_policy *p;

  ck_assert_ptr_nonnull(text);
  len += (size_t)snprintf(text, cap, "default deny\ndeny 10.1.0.0/16\n"
                          "allow 10.9.0.0/16\n");
  for(int i = 0; i < nr; i++)
    len += (size_t)snprintf(text + len, cap - len, "deny 11.%d.%d.0/24\n",
                            i / 256, i % 256);
  p = tu_load(text);
  free(text);
  return p;
}

/* A policy with many rules keeps a copy of its hits per CPU, and a copy
 * per shard of the line with the default's counter (lib/shard.c): both
 * still count every thread's decisions. */
TU_TEST(tc_checks, test_counts_many_rules)
{
  const int nr = 9000;    /* more counters than CF_SHARDS copies may take */
  size_t n;
  curlfence_rule_stat *rs;
  curlfence_policy *p = many_rules(nr);
  curlfence_guard *g;
  worker w[4];
  const uint64_t per = PER_THREAD;

  ck_assert_int_eq(curlfence_guard_new(&g, p), CURLFENCE_OK);
  for(int i = 0; i < 4; i++) {
    w[i] = (worker){ g, i, 0, 0 };
    ck_assert_int_eq(pthread_create(&w[i].t, NULL, work, &w[i]), 0);
  }
  for(int i = 0; i < 4; i++) {
    pthread_join(w[i].t, NULL);
    ck_assert_int_eq(w[i].wrong, 0);
  }
  n = (size_t)nr + 2 + 2;
  rs = calloc(n, sizeof(*rs));
  ck_assert_ptr_nonnull(rs);
  ck_assert_uint_eq(curlfence_policy_rule_stats(p, rs, n), n);
  ck_assert_uint_eq(rs[0].hits, 2 * per);
  ck_assert_uint_eq(rs[1].hits, 2 * per * 4 / 5);
  ck_assert_uint_eq(rs[2].hits, 0);
  ck_assert_uint_eq(rs[n - 2].hits, 2 * per / 5);   /* the default */
  ck_assert_uint_eq(rs[n - 1].hits, 0);
  free(rs);
  curlfence_guard_free(g);
  curlfence_policy_unref(p);
}
END_TEST

/* The cache lines a decision on shard k writes, into lines (room for
 * max): its reader count, its guard counters and p's hit counters. */
static size_t written_lines(curlfence_guard *g, const curlfence_policy *p,
                            unsigned k, uintptr_t *lines, size_t max)
{
  const uintptr_t mask = ~(uintptr_t)(CF_CACHE_LINE - 1);
  uintptr_t c = (uintptr_t)&g->count[k];
  size_t n = 0, i;

  ck_assert_uint_ge(max, 2 + sizeof(g->count[k]) / CF_CACHE_LINE +
                             p->rs.nrules + 2);
  lines[n++] = (uintptr_t)&g->live.readers[k] & mask;
  for(i = 0; i < sizeof(g->count[k]); i += CF_CACHE_LINE)
    lines[n++] = (c + i) & mask;
  for(i = 0; i < p->rs.nrules + 2; i++)
    lines[n++] = (uintptr_t)cf_counter(p->hits, p->hit_stride, p->hit_shards,
                                       k, i) & mask;
  return n;
}

static int line_cmp(const void *a, const void *b)
{
  uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

  return x < y ? -1 : x > y;
}

/* Two threads deciding at once on two CPUs write no cache line in common
 * (the check path's counters are per shard and padded), whatever the
 * size of the policy and whichever rules they hit: a line written from
 * two cores moves between them on every write, and two threads then
 * decided slower than one. */
static void lines_apart(const curlfence_policy *p)
{
  long ncpu = sysconf(_SC_NPROCESSORS_CONF);
  unsigned nsh = ncpu < 1 ? 1 : ncpu > CF_SHARDS ? CF_SHARDS
                                                 : (unsigned)ncpu;
  size_t max = 64 + p->rs.nrules + 2, na, nb, i, j;
  uintptr_t *a = malloc(max * sizeof(*a)), *b = malloc(max * sizeof(*b));
  curlfence_guard *g;

  ck_assert_ptr_nonnull(a);
  ck_assert_ptr_nonnull(b);
  ck_assert_int_eq(curlfence_guard_new(&g, (curlfence_policy *)p),
                   CURLFENCE_OK);
  for(unsigned x = 0; x < nsh; x++) {
    na = written_lines(g, p, x, a, max);
    qsort(a, na, sizeof(*a), line_cmp);
    for(unsigned y = x + 1; y < nsh; y++) {
      nb = written_lines(g, p, y, b, max);
      qsort(b, nb, sizeof(*b), line_cmp);
      for(i = j = 0; i < na && j < nb;) {
        if(a[i] == b[j])
          ck_abort_msg("shards %u and %u both write the line at %#lx "
                       "(policy of %zu rules)", x, y, (unsigned long)a[i],
                       p->rs.nrules);
        if(a[i] < b[j])
          i++;
        else
          j++;
      }
    }
  }
  curlfence_guard_free(g);
  free(a);
  free(b);
}

TU_TEST(tc_checks, test_shards_write_apart)
{
  curlfence_policy *small = many_rules(0), *large = many_rules(9000);

  lines_apart(small);
  lines_apart(large);
  curlfence_policy_unref(small);
  curlfence_policy_unref(large);
}
END_TEST

/* A reload between two rounds: each policy counts only its own decisions,
 * and the guard's totals cover both. */
TU_TEST(tc_checks, test_counts_follow_policy)
{
  curlfence_policy *a = tu_load("default deny\nallow 10.9.0.0/16\n");
  curlfence_policy *b = tu_load("default deny\nallow 10.9.0.0/16\n");
  curlfence_rule_stat rs[3];
  curlfence_stats st;
  curlfence_guard *g;
  worker w[4];

  ck_assert_int_eq(curlfence_guard_new(&g, a), CURLFENCE_OK);
  for(int round = 0; round < 2; round++) {
    for(int i = 0; i < 4; i++) {
      w[i] = (worker){ g, 2 * i, 0, 0 };
      ck_assert_int_eq(pthread_create(&w[i].t, NULL, work, &w[i]), 0);
    }
    for(int i = 0; i < 4; i++)
      pthread_join(w[i].t, NULL);
    if(!round)
      ck_assert_int_eq(curlfence_guard_set_policy(g, b), CURLFENCE_OK);
  }
  ck_assert_int_eq(curlfence_guard_stats(g, &st), CURLFENCE_OK);
  ck_assert_uint_eq(st.allowed + st.denied, 2 * 4 * PER_THREAD);
  ck_assert_uint_eq(curlfence_policy_rule_stats(a, rs, 3), 3);
  ck_assert_uint_eq(rs[0].hits + rs[1].hits, 4 * PER_THREAD);
  ck_assert_uint_eq(curlfence_policy_rule_stats(b, rs, 3), 3);
  ck_assert_uint_eq(rs[0].hits + rs[1].hits, 4 * PER_THREAD);
  curlfence_guard_free(g);
  curlfence_policy_unref(a);
  curlfence_policy_unref(b);
}
END_TEST

/* ------------------------------------------------------ pre-request text */

/* What the pre-request check decides for libcurl's text, and how many
 * inet_pton() calls it made. */
static int prereq(curlfence_guard *g, const char *peer, const char *local,
                  int local_port, int *calls)
{
  int rc;

  atomic_store(&pton_calls, 0);
  rc = cf_guard_prereq(g, peer, local, 443, local_port, 0, NULL);
  *calls = atomic_load(&pton_calls);
  return rc;
}

TU_TEST(tc_checks, test_prereq_text)
{
  curlfence_policy *p = tu_load("default deny\n"
                                "allow 10.9.0.0/16\n"
                                "allow 2001:db8::/32\n"
                                "unix allow\n");
  curlfence_guard *g;
  int calls;

  ck_assert_int_eq(curlfence_guard_new(&g, p), CURLFENCE_OK);
  /* IPv4, the common case, is read without any library call */
  ck_assert_int_eq(prereq(g, "10.9.1.2", "10.0.0.2", 40000, &calls),
                   CURL_PREREQFUNC_OK);
  ck_assert_int_eq(calls, 0);
  ck_assert_int_eq(prereq(g, "10.8.1.2", "10.0.0.2", 40000, &calls),
                   CURL_PREREQFUNC_ABORT);
  /* IPv6: each text once */
  ck_assert_int_eq(prereq(g, "2001:db8::1", "2001:db8::2", 40000, &calls),
                   CURL_PREREQFUNC_OK);
  ck_assert_int_le(calls, 2);
  ck_assert_int_eq(prereq(g, "2001:db9::1", "2001:db8::2", 40000, &calls),
                   CURL_PREREQFUNC_ABORT);
  /* what inet_pton() rejects is no IPv4 address here either: with an IP
   * local side, the connection is denied as not covered */
  static const char *const not4[] = {
    "010.9.1.2", "10.9.1", "10.9.1.2.3", "10.9.1.256", "10.9.1.2 ",
    "10.9..2", "1.2.3.4x", ".10.9.1.2", "10.9.1.2.", "0x0a.9.1.2",
    "10.9.1.1234", "", "-1.9.1.2"
  };
  for(size_t i = 0; i < sizeof(not4) / sizeof(not4[0]); i++) {
    uint8_t buf[4];

    ck_assert_int_eq(inet_pton(AF_INET, not4[i], buf), 0);
    if(not4[i][0])
      ck_assert_msg(prereq(g, not4[i], "10.0.0.2", 40000, &calls) ==
                        CURL_PREREQFUNC_ABORT, "%s", not4[i]);
  }
  ck_assert_int_eq(prereq(g, "0.0.0.0", "10.0.0.2", 40000, &calls),
                   CURL_PREREQFUNC_ABORT);
  ck_assert_int_eq(prereq(g, "10.9.255.0", "10.0.0.2", 40000, &calls),
                   CURL_PREREQFUNC_OK);
  /* families that differ: neither IP nor unix */
  ck_assert_int_eq(prereq(g, "10.9.1.2", "2001:db8::2", 40000, &calls),
                   CURL_PREREQFUNC_ABORT);
  ck_assert_int_eq(prereq(g, "2001:db8::1", "10.0.0.2", 40000, &calls),
                   CURL_PREREQFUNC_ABORT);
  /* no local address and no local port: a unix socket, whatever its name
   * looks like */
  ck_assert_int_eq(prereq(g, "10.8.1.2", "", 0, &calls), CURL_PREREQFUNC_OK);
  ck_assert_int_eq(prereq(g, "10.8.1.2", "", 40000, &calls),
                   CURL_PREREQFUNC_ABORT);
  ck_assert_int_eq(prereq(g, "10.8.1.2", "x", 0, &calls), CURL_PREREQFUNC_OK);
  curlfence_guard_free(g);
  curlfence_policy_unref(p);
}
END_TEST

/* ---------------------------------------------------------------- names */

/* A handle for the checks' names without libcurl's transfers: its
 * CURLINFO_EFFECTIVE_URL is url, and the URL API is libcurl's, with the
 * parses counted. */
typedef struct fake_handle {
  const char *url;
} fake_handle;

static int url_parses;

static CURLcode fake_getinfo(CURL *h, CURLINFO info, ...)
{
  va_list ap;
  char **out;

  va_start(ap, info);
  out = va_arg(ap, char **);
  va_end(ap);
  if(info != CURLINFO_EFFECTIVE_URL)
    return CURLE_UNKNOWN_OPTION;
  *out = (char *)((fake_handle *)h)->url;
  return CURLE_OK;
}

static CURLUcode counted_set(CURLU *u, CURLUPart what, const char *part,
                             unsigned int flags)
{
  if(what == CURLUPART_URL)
    url_parses++;
  return curl_url_set(u, what, part, flags);
}

static const cf_urlapi counted_api = {
  fake_getinfo, curl_url, counted_set, curl_url_get, curl_url_cleanup,
  curl_free
};

typedef struct seen_name {
  int events;
  char host[64], url[128];
} seen_name;

static int see_name(const curlfence_event *ev, void *data)
{
  seen_name *s = data;
  const char *host = NULL, *url = NULL;

  s->events++;
  curlfence_event_name(ev, &host, &url);
  snprintf(s->host, sizeof(s->host), "%s", host ? host : "(none)");
  snprintf(s->url, sizeof(s->url), "%s", url ? url : "(none)");
  return 0;
}

/* The pre-request check of fake handle h to peer, port 443, with h's name
 * (and memo, when not NULL). */
static int named_check(curlfence_guard *g, fake_handle *h,
                       cf_name_memo *memo, const char *peer)
{
  cf_name n;
  int rc;

  ck_assert_int_eq(cf_name_of(&counted_api, (CURL *)h, &n), 0);
  cf_name_remember(&n, memo);
  rc = cf_guard_prereq(g, peer, "10.0.0.2", 443, 40000, 0, &n);
  cf_name_free(&n);
  return rc;
}

TU_CASE(tc_names, "names", 60, NULL, NULL);

/* A policy without host rules never needs the name to decide: the URL is
 * parsed only for an event that shows it. */
TU_TEST(tc_names, test_name_parsed_only_when_needed)
{
  curlfence_policy *p = tu_load("default deny\nallow 10.9.0.0/16\n");
  fake_handle h = { "https://User@A.Example./x/y?q=1#f" };
  seen_name s = { 0 };
  curlfence_guard *g;

  ck_assert_int_eq(curlfence_guard_new(&g, p), CURLFENCE_OK);
  url_parses = 0;
  ck_assert_int_eq(named_check(g, &h, NULL, "10.9.1.2"), CURL_PREREQFUNC_OK);
  ck_assert_int_eq(named_check(g, &h, NULL, "10.8.1.2"),
                   CURL_PREREQFUNC_ABORT);
  ck_assert_int_eq(url_parses, 0);
  /* denials are audited: the event still has the name and the URL */
  ck_assert_int_eq(curlfence_guard_set_audit(g, see_name, &s, 0),
                   CURLFENCE_OK);
  ck_assert_int_eq(named_check(g, &h, NULL, "10.9.1.2"), CURL_PREREQFUNC_OK);
  ck_assert_int_eq(url_parses, 0);
  ck_assert_int_eq(s.events, 0);
  ck_assert_int_eq(named_check(g, &h, NULL, "10.8.1.2"),
                   CURL_PREREQFUNC_ABORT);
  ck_assert_int_eq(s.events, 1);
  ck_assert_str_eq(s.host, "a.example");
  ck_assert_str_eq(s.url, "https://a.example:443/x/y");
  ck_assert_int_eq(url_parses, 1);
  /* every decision audited: every check reads the name */
  ck_assert_int_eq(curlfence_guard_set_audit(g, see_name, &s,
                                             CURLFENCE_AUDIT_ALL),
                   CURLFENCE_OK);
  ck_assert_int_eq(named_check(g, &h, NULL, "10.9.1.2"), CURL_PREREQFUNC_OK);
  ck_assert_int_eq(s.events, 2);
  ck_assert_str_eq(s.host, "a.example");
  ck_assert_int_eq(url_parses, 2);
  curlfence_guard_free(g);
  curlfence_policy_unref(p);
}
END_TEST

/* The memo answers for the same URL only. */
TU_TEST(tc_names, test_name_memo_same_url_only)
{
  curlfence_policy *p = tu_load("default deny\nallow host a.example\n");
  fake_handle h = { "http://a.example/" };
  cf_name_memo memo = { 0 };
  char url[64];
  curlfence_guard *g;

  ck_assert_int_eq(curlfence_guard_new(&g, p), CURLFENCE_OK);
  url_parses = 0;
  ck_assert_int_eq(named_check(g, &h, &memo, "10.8.1.2"),
                   CURL_PREREQFUNC_OK);
  ck_assert_int_eq(named_check(g, &h, &memo, "10.8.1.3"),
                   CURL_PREREQFUNC_OK);
  ck_assert_int_eq(url_parses, 1);
  /* the same text at another address (libcurl reuses its buffer) */
  snprintf(url, sizeof(url), "%s", h.url);
  h.url = url;
  ck_assert_int_eq(named_check(g, &h, &memo, "10.8.1.2"),
                   CURL_PREREQFUNC_OK);
  ck_assert_int_eq(url_parses, 1);
  /* a redirect to another name is named afresh */
  snprintf(url, sizeof(url), "http://b.example/");
  ck_assert_int_eq(named_check(g, &h, &memo, "10.8.1.2"),
                   CURL_PREREQFUNC_ABORT);
  ck_assert_int_eq(url_parses, 2);
  snprintf(url, sizeof(url), "http://a.example/");
  ck_assert_int_eq(named_check(g, &h, &memo, "10.8.1.2"),
                   CURL_PREREQFUNC_OK);
  ck_assert_int_eq(url_parses, 3);
  /* an address URL has no name, remembered as such */
  snprintf(url, sizeof(url), "http://10.8.1.2/");
  ck_assert_int_eq(named_check(g, &h, &memo, "10.8.1.2"),
                   CURL_PREREQFUNC_ABORT);
  ck_assert_int_eq(named_check(g, &h, &memo, "10.8.1.2"),
                   CURL_PREREQFUNC_ABORT);
  ck_assert_int_eq(url_parses, 4);
  cf_name_memo_free(&memo);
  curlfence_guard_free(g);
  curlfence_policy_unref(p);
}
END_TEST

/* The open check of a connection decided without the name (no host
 * rules); a reload then brings host rules in before the pre-request
 * check: that check reads the name, and the rules use it. */
TU_TEST(tc_names, test_name_used_after_reload_brings_host_rules)
{
  curlfence_policy *a = tu_load("default deny\nallow 10.8.1.2\n");
  curlfence_policy *b = tu_load("default deny\nallow host a.example\n");
  fake_handle h = { "http://a.example/" }, other = { "http://b.example/" };
  cf_name_memo memo = { 0 }, memo2 = { 0 };
  curlfence_guard *g;

  ck_assert_int_eq(curlfence_guard_new(&g, a), CURLFENCE_OK);
  url_parses = 0;
  ck_assert_int_eq(named_check(g, &h, &memo, "10.8.1.2"),
                   CURL_PREREQFUNC_OK);
  ck_assert_int_eq(named_check(g, &other, &memo2, "10.8.1.2"),
                   CURL_PREREQFUNC_OK);
  ck_assert_int_eq(url_parses, 0);
  ck_assert_int_eq(curlfence_guard_set_policy(g, b), CURLFENCE_OK);
  /* 10.8.1.2 has no address rule now: only the name allows it */
  ck_assert_int_eq(named_check(g, &h, &memo, "10.8.1.2"),
                   CURL_PREREQFUNC_OK);
  ck_assert_int_eq(named_check(g, &other, &memo2, "10.8.1.2"),
                   CURL_PREREQFUNC_ABORT);
  ck_assert_int_eq(url_parses, 2);
  cf_name_memo_free(&memo);
  cf_name_memo_free(&memo2);
  curlfence_guard_free(g);
  curlfence_policy_unref(a);
  curlfence_policy_unref(b);
}
END_TEST

/* The memo carries the name prepared for the host rules, with the index
 * entries it hits in the policy it was decided on; after a reload the
 * name is decided on the new policy's rules, where entry 0 is another
 * name. */
TU_TEST(tc_names, test_name_memo_prepared_per_policy)
{
  curlfence_policy *a = tu_load("default deny\nallow host a.example\n");
  curlfence_policy *b = tu_load("default deny\nallow host b.example\n"
                                "allow host a.example port 1\n");
  fake_handle h = { "http://a.example/" };
  cf_name_memo memo = { 0 };
  curlfence_guard *g;

  ck_assert_int_eq(curlfence_guard_new(&g, a), CURLFENCE_OK);
  ck_assert_int_eq(named_check(g, &h, &memo, "10.8.1.2"),
                   CURL_PREREQFUNC_OK);
  ck_assert_str_eq(memo.prep.host, "a.example");
  ck_assert_uint_eq(memo.prep.nhits, 1);
  ck_assert_uint_ne(memo.prep.memo_id, 0);
  ck_assert_int_eq(named_check(g, &h, &memo, "10.8.1.3"),
                   CURL_PREREQFUNC_OK);
  ck_assert_int_eq(curlfence_guard_set_policy(g, b), CURLFENCE_OK);
  ck_assert_int_eq(named_check(g, &h, &memo, "10.8.1.2"),
                   CURL_PREREQFUNC_ABORT);
  cf_name_memo_free(&memo);
  curlfence_guard_free(g);
  curlfence_policy_unref(a);
  curlfence_policy_unref(b);
}
END_TEST

/* ------------------------------------------------------ cheap decisions */

/* The guards decide without the verdict and count by rule and reason: the
 * cheap decision gives the action, the rule counted and the reason word
 * of the full one, for every kind of policy and address. */
TU_CASE(tc_cheap, "cheap decisions", 60, NULL, NULL);

TU_TEST(tc_cheap, test_decide_without_verdict_counts_alike)
{
  static const char *const policies[] = {
    "default deny\nallow 10.9.0.0/16\nallow 10.8.0.0/16 port 443\n"
    "deny 10.8.1.0/24 port 443\nallow 2001:db8::/32\n",
    "default allow\nnat64 64:ff9b::/96\ndeny 127.0.0.0/8\n"
    "deny 10.8.0.0/16 port 80\n",
    "default allow\ndeny self\nallow 10.9.0.0/16\n",
    "default deny\nallow host a.example\ndeny host b.example\n"
    "allow 10.9.0.0/16\nallow host c.example to 10.8.0.0/16\n"
    "deny 10.8.0.0/16\n",
  };
  static const char *const addrs[] = {
    "10.9.1.2", "10.8.1.5", "10.8.2.5", "10.7.0.1", "127.0.0.1",
    "0.0.0.0", "::", "::ffff:0.0.0.0", "::ffff:10.9.1.2", "::1",
    "64:ff9b::7f00:1", "64:ff9b::a08:105", "2001:db8::1", "2001:db9::1",
  };
  static const char *const hosts[] = { NULL, "a.example", "b.example",
                                       "c.example" };
  static const unsigned ports[] = { 443, 80, 0 };

  for(size_t p = 0; p < sizeof(policies) / sizeof(policies[0]); p++) {
    curlfence_policy *pol = tu_load(policies[p]);

    for(size_t a = 0; a < sizeof(addrs) / sizeof(addrs[0]); a++)
      for(size_t h = 0; h < sizeof(hosts) / sizeof(hosts[0]); h++)
        for(size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
          struct sockaddr_storage ss;
          socklen_t len = tu_sockaddr(&ss, addrs[a], ports[i]);
          cf_decision cheap, full;

          memset(&cheap, 0, sizeof(cheap));
          memset(&full, 0, sizeof(full));
          cf_dest_init(&cheap.dest, (struct sockaddr *)&ss, len);
          cf_dest_init(&full.dest, (struct sockaddr *)&ss, len);
          cheap.dest.host = full.dest.host = hosts[h];
          cf_decide(pol, &cheap, 0);
          cf_decide(pol, &full, 1);
          ck_assert_msg(cheap.action == full.action &&
                            cheap.hit == full.hit && cheap.verdict.reason &&
                            !strcmp(cheap.verdict.reason,
                                    full.verdict.reason),
                        "policy %zu, %s port %u, host %s: %d/%ld/%s, "
                        "full %d/%ld/%s", p, addrs[a], ports[i],
                        hosts[h] ? hosts[h] : "-", cheap.action, cheap.hit,
                        cheap.verdict.reason ? cheap.verdict.reason : "-",
                        full.action, full.hit, full.verdict.reason);
        }
    curlfence_policy_unref(pol);
  }
}
END_TEST

/* A guard remembers per CPU the last decision the table alone did not make
 * (cf_memo): its checks answer, count and name the reason exactly as
 * deciding afresh does, for every kind of policy, address, port and name,
 * also across policy switches (the memo is keyed by generation). */
/* The host's own addresses as the memo tests see them, whatever the
 * machine (or network namespace) they run in has. */
static const cf_selfaddr memo_self[] = {
  { { 127, 0, 0, 1 }, 0, 8, "lo" },
  { { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 }, 1, 0, "lo" },
};

TU_TEST(tc_cheap, test_guard_memo_decides_alike)
{
  static const char *const policies[] = {
    "default allow\ndeny self\nallow 127.0.0.1 port 443\n",
    "default allow\nnat64 64:ff9b::/96\ndeny 127.0.0.0/8\n"
    "deny 10.8.0.0/16 port 80\n",
    "default deny\nallow self port 80\nallow 10.9.0.0/16\n",
    "default deny\nallow host a.example\ndeny host b.example\n"
    "allow 10.9.0.0/16\nallow host c.example to 10.8.0.0/16\n"
    "deny 10.8.0.0/16\ndeny self\n",
    "default allow\ndeny self\nallow 127.0.0.1 port 443\n",
  };
  static const char *const addrs[] = {
    "127.0.0.1", "127.0.0.2", "0.0.0.0", "::", "::1", "::ffff:127.0.0.1",
    "10.8.1.5", "10.9.1.2", "64:ff9b::7f00:1", "64:ff9b::a08:105",
  };
  static const char *const hosts[] = { NULL, "a.example", "b.example",
                                       "c.example" };
  static const unsigned ports[] = { 443, 80 };
  curlfence_guard *g = NULL;

  cf_self_inject(memo_self, 2);
  for(size_t p = 0; p < sizeof(policies) / sizeof(policies[0]); p++) {
    curlfence_policy *pol = tu_load(policies[p]);
    size_t nrs = curlfence_policy_rule_stats(pol, NULL, 0), r;
    uint64_t *want = calloc(nrs, sizeof(*want));
    curlfence_rule_stat *rs = calloc(nrs, sizeof(*rs));
    cf_guard_counts before, after;
    uint64_t reasons[CF_REASON_N] = { 0 };

    ck_assert_ptr_nonnull(want);
    ck_assert_ptr_nonnull(rs);
    if(!g)
      ck_assert_int_eq(curlfence_guard_new(&g, pol), CURLFENCE_OK);
    else
      ck_assert_int_eq(curlfence_guard_set_policy(g, pol), CURLFENCE_OK);
    cf_guard_counters(g, &before);
    for(size_t a = 0; a < sizeof(addrs) / sizeof(addrs[0]); a++)
      for(size_t h = 0; h < sizeof(hosts) / sizeof(hosts[0]); h++)
        for(size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
          struct sockaddr_storage ss;
          socklen_t len = tu_sockaddr(&ss, addrs[a], ports[i]);
          cf_sockcall call = { (struct sockaddr *)&ss, len,
                               CURLFENCE_CHECK_CONNECT, -1, hosts[h] };
          cf_decision full;

          memset(&full, 0, sizeof(full));
          cf_dest_init(&full.dest, (struct sockaddr *)&ss, len);
          full.dest.host = hosts[h];
          cf_decide(pol, &full, 1);
          /* twice: the second may come from the memo */
          for(int k = 0; k < 2; k++)
            ck_assert_msg(cf_guard_socket(g, &call, 0) == full.action,
                          "policy %zu, %s port %u, host %s, check %d", p,
                          addrs[a], ports[i], hosts[h] ? hosts[h] : "-", k);
          if(full.hit >= 0)
            want[full.hit] += 2;
          reasons[cf_reason_index(full.verdict.reason)] += 2;
        }
    cf_guard_counters(g, &after);
    for(r = 0; r < CF_REASON_N; r++) {
      uint64_t n = 0;

      for(int o = 0; o < CF_OUTCOME_N; o++)
        n += after.decisions[o][CURLFENCE_CHECK_CONNECT][r] -
             before.decisions[o][CURLFENCE_CHECK_CONNECT][r];
      ck_assert_msg(n == reasons[r], "policy %zu: reason %s counted %llu, "
                    "not %llu", p, cf_reason_names[r], (unsigned long long)n,
                    (unsigned long long)reasons[r]);
    }
    ck_assert_uint_eq(curlfence_policy_rule_stats(pol, rs, nrs), nrs);
    for(r = 0; r < nrs; r++)
      ck_assert_msg(rs[r].hits == want[r], "policy %zu: entry %zu hit %llu "
                    "times, not %llu", p, r, (unsigned long long)rs[r].hits,
                    (unsigned long long)want[r]);
    free(want);
    free(rs);
    curlfence_policy_unref(pol);
  }
  cf_self_inject(NULL, 0);
  curlfence_guard_free(g);
}
END_TEST

/* The memo is what answers a repeated check of a self address (the
 * decision that ranks self rules), and only for the same destination and
 * policy: an answer planted in it is given back for the same address and
 * port, never for another port or after a switch to an equal policy. */
TU_TEST(tc_cheap, test_guard_memo_used)
{
  curlfence_policy *p, *q;
  struct sockaddr_storage ss;
  socklen_t len = tu_sockaddr(&ss, "127.0.0.1", 80);
  cf_sockcall call = { (struct sockaddr *)&ss, len, CURLFENCE_CHECK_CONNECT,
                       -1, NULL };
  cpu_set_t was, one;
  curlfence_guard *g;
  int planted = 0;

  cf_self_inject(memo_self, 2);
  p = tu_load("default allow\ndeny self\n");
  q = tu_load("default allow\ndeny self\n");
  cf_self_inject(NULL, 0);
  /* one CPU, so that every check reads the same shard's memo */
  ck_assert_int_eq(sched_getaffinity(0, sizeof(was), &was), 0);
  CPU_ZERO(&one);
  CPU_SET(sched_getcpu(), &one);
  ck_assert_int_eq(sched_setaffinity(0, sizeof(one), &one), 0);
  ck_assert_int_eq(curlfence_guard_new(&g, p), CURLFENCE_OK);
  ck_assert_int_eq(cf_guard_socket(g, &call, 0), CURLFENCE_DENY);
  for(unsigned k = 0; k < CF_SHARDS; k++)
    if(atomic_load(&g->memo[k].gen) == 1) {
      atomic_store(&g->memo[k].action, CURLFENCE_ALLOW);
      planted++;
    }
  ck_assert_int_eq(planted, 1);
  ck_assert_int_eq(cf_guard_socket(g, &call, 0), CURLFENCE_ALLOW);
  ((struct sockaddr_in *)&ss)->sin_port = htons(81);
  ck_assert_int_eq(cf_guard_socket(g, &call, 0), CURLFENCE_DENY);
  ((struct sockaddr_in *)&ss)->sin_port = htons(80);
  ck_assert_int_eq(curlfence_guard_set_policy(g, q), CURLFENCE_OK);
  ck_assert_int_eq(cf_guard_socket(g, &call, 0), CURLFENCE_DENY);
  ck_assert_int_eq(sched_setaffinity(0, sizeof(was), &was), 0);
  curlfence_guard_free(g);
  curlfence_policy_unref(p);
  curlfence_policy_unref(q);
}
END_TEST
