/* SPDX-License-Identifier: MIT */
/*
 * NAT64 and "self" against the library's internals: the parsed policy's
 * table against the reference matcher, and the watcher's reload when the
 * host's addresses change.  Not in the shared-library run.
 */
#include "engine/engine.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

TU_SUITE_STATIC_ONLY("nat64-self-internal", NULL);
TU_CASE(tc_internal, "internal", 0, NULL, NULL);

/* The parsed policy's table against the reference matcher, on this
 * host's addresses, their NAT64 forms and their neighbours. */
TU_TEST(tc_internal, parsed_differential)
{
  curlfence_policy *p = tu_load("default allow\n"
                                "nat64 64:ff9b::/96\n"
                                "nat64 2001:db8:122::/48\n"
                                "deny self\n"
                                "allow self port 443\n"
                                "deny 0.0.0.0/1 port 22\n"
                                "deny ::/0 port 25\n"
                                "allow 2001:db8::/32 port 8080\n");
  const cf_ruleset *rs = &p->rs;
  size_t i;

  for(i = 0; i < rs->nrules + 2; i++) {
    uint8_t a[16];
    int v6, delta;
    unsigned k;

    memset(a, 0, sizeof(a));
    if(i < rs->nrules) {
      memcpy(a, rs->rules[i].addr, 16);
      v6 = rs->rules[i].v6;
    }
    else {
      v6 = 0;
      memcpy(a, i == rs->nrules ? "\x7f\0\0\x01" : "\x08\x08\x08\x08", 4);
    }
    for(delta = -1; delta <= 1; delta++) {
      static const unsigned ports[] = { 0, 22, 25, 443, 8080 };
      uint8_t b[16], n64[16] = { 0, 0x64, 0xff, 0x9b };

      memcpy(b, a, 16);
      b[v6 ? 15 : 3] = (uint8_t)(b[v6 ? 15 : 3] + delta);
      for(k = 0; k < 5; k++) {
        ck_assert_int_eq(cf_table_lookup(p->table, rs, v6, b, ports[k]),
                         cf_match_linear(rs, v6, b, ports[k]));
        if(v6)
          continue;
        /* the same IPv4 address behind both nat64 prefixes */
        memcpy(n64 + 12, b, 4);
        ck_assert_int_eq(cf_table_lookup(p->table, rs, 1, n64, ports[k]),
                         cf_match_linear(rs, 0, b, ports[k]));
        ck_assert_int_eq(cf_match_linear(rs, 1, n64, ports[k]),
                         cf_match_linear(rs, 0, b, ports[k]));
        {
          uint8_t m[16] = { 0x20, 0x01, 0x0d, 0xb8, 0x01, 0x22 };
          m[6] = b[0];
          m[7] = b[1];
          m[9] = b[2];
          m[10] = b[3];
          ck_assert_int_eq(cf_table_lookup(p->table, rs, 1, m, ports[k]),
                           cf_match_linear(rs, 0, b, ports[k]));
        }
      }
    }
  }
  curlfence_policy_unref(p);
}
END_TEST

/* The watcher reloads a policy with self rules when the host's addresses
 * no longer match the ones it was built from.  Interfaces cannot be
 * changed from a test, so the policy is made to remember other ones. */
static uint64_t reloads_after(curlfence_guard *g, int wait_for, uint64_t n)
{
  curlfence_stats st;
  int i;

  for(i = 0; i < 300; i++) {
    struct timespec ts = { 0, 10000000 };

    curlfence_guard_stats(g, &st);
    if(wait_for && st.reloads >= n)
      break;
    nanosleep(&ts, NULL);
  }
  return st.reloads;
}

static void watch_case(const char *text, uint64_t want)
{
  char path[] = "/tmp/curlfence-self-XXXXXX";
  int fd = mkstemp(path);
  curlfence_policy *p = NULL;
  curlfence_guard *g = NULL;
  curlfence_error err;

  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  ck_assert_msg(curlfence_policy_load_file(&p, path, &err) == CURLFENCE_OK,
                "%s", err.text);
  p->rs.self_print ^= 1;   /* as if an address had changed since */
  ck_assert_int_eq(curlfence_guard_new(&g, p), CURLFENCE_OK);
  ck_assert_int_eq(curlfence_guard_watch(g, 10), CURLFENCE_OK);
  if(want)
    ck_assert_uint_eq(reloads_after(g, 1, want), want);
  /* and no more: the new policy matches the host */
  ck_assert_uint_eq(reloads_after(g, 0, 0), want);
  curlfence_guard_free(g);
  curlfence_policy_unref(p);
  unlink(path);
}

TU_TEST(tc_internal, watch_self)
{
  watch_case("default allow\ndeny self\n", 1);
}
END_TEST

TU_TEST(tc_internal, watch_without_self)
{
  watch_case("default allow\ndeny 10.0.0.0/8\n", 0);
}
END_TEST
