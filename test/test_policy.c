/* SPDX-License-Identifier: MIT */
/* Decision semantics of a loaded policy. */
#include "testutil.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

TU_SUITE("policy", NULL);
TU_CASE(tc_semantics, "semantics", 0, NULL, NULL);

TU_TEST(tc_semantics, test_longest_prefix)
{
  curlfence_policy *p = tu_load("default allow\n"
                                "deny 10.0.0.0/8\n"
                                "allow 10.20.0.0/16\n"
                                "deny 10.20.30.0/24\n"
                                "allow 2001:db8::/32\n"
                                "deny 2001:db8:bad::/48\n");
  curlfence_verdict v;

  ck_assert_int_eq(tu_decide(p, "10.1.1.1", 80, &v), CURLFENCE_DENY);
  ck_assert_uint_eq(v.line, 2);
  ck_assert_int_eq(tu_decide(p, "10.20.1.1", 80, &v), CURLFENCE_ALLOW);
  ck_assert_uint_eq(v.line, 3);
  ck_assert_int_eq(tu_decide(p, "10.20.30.1", 80, &v), CURLFENCE_DENY);
  ck_assert_uint_eq(v.line, 4);
  ck_assert_int_eq(tu_decide(p, "11.0.0.1", 80, &v), CURLFENCE_ALLOW);
  ck_assert_int_eq(v.is_default, 1);
  ck_assert_int_eq(tu_decide(p, "2001:db8:bad::1", 443, &v), CURLFENCE_DENY);
  ck_assert_uint_eq(v.line, 6);
  ck_assert_int_eq(tu_decide(p, "2001:db8:bad0::1", 443, &v),
                   CURLFENCE_ALLOW);
  ck_assert_uint_eq(v.line, 5);
  curlfence_policy_unref(p);
}
END_TEST

TU_TEST(tc_semantics, test_order_independent)
{
  curlfence_policy *a = tu_load("allow 10.20.0.0/16\ndeny 10.0.0.0/8\n");
  curlfence_policy *b = tu_load("deny 10.0.0.0/8\nallow 10.20.0.0/16\n");

  ck_assert_int_eq(tu_decide(a, "10.20.0.1", 1, NULL), CURLFENCE_ALLOW);
  ck_assert_int_eq(tu_decide(b, "10.20.0.1", 1, NULL), CURLFENCE_ALLOW);
  ck_assert_int_eq(tu_decide(a, "10.21.0.1", 1, NULL), CURLFENCE_DENY);
  ck_assert_int_eq(tu_decide(b, "10.21.0.1", 1, NULL), CURLFENCE_DENY);
  curlfence_policy_unref(a);
  curlfence_policy_unref(b);
}
END_TEST

TU_TEST(tc_semantics, test_port_specificity)
{
  curlfence_policy *p = tu_load("default deny\n"
                                "deny 198.51.100.0/24\n"
                                "allow 198.51.100.0/24 port 443,8000-8080\n"
                                "deny 198.51.100.7 port 443\n"
                                "allow 198.51.100.7\n");
  curlfence_verdict v;

  /* Same prefix: the rule naming ports wins over the portless one. */
  ck_assert_int_eq(tu_decide(p, "198.51.100.1", 443, &v), CURLFENCE_ALLOW);
  ck_assert_uint_eq(v.line, 3);
  ck_assert_int_eq(tu_decide(p, "198.51.100.1", 8000, &v), CURLFENCE_ALLOW);
  ck_assert_int_eq(tu_decide(p, "198.51.100.1", 8080, &v), CURLFENCE_ALLOW);
  ck_assert_int_eq(tu_decide(p, "198.51.100.1", 8081, &v), CURLFENCE_DENY);
  ck_assert_uint_eq(v.line, 2);
  ck_assert_int_eq(tu_decide(p, "198.51.100.1", 80, &v), CURLFENCE_DENY);
  /* Longer prefix beats ports on a shorter one. */
  ck_assert_int_eq(tu_decide(p, "198.51.100.7", 443, &v), CURLFENCE_DENY);
  ck_assert_uint_eq(v.line, 4);
  ck_assert_int_eq(tu_decide(p, "198.51.100.7", 8000, &v), CURLFENCE_ALLOW);
  ck_assert_uint_eq(v.line, 5);
  /* Port 0 (unknown) matches only rules without ports. */
  ck_assert_int_eq(tu_decide(p, "198.51.100.1", 0, &v), CURLFENCE_DENY);
  ck_assert_uint_eq(v.line, 2);
  curlfence_policy_unref(p);
}
END_TEST

TU_TEST(tc_semantics, test_deny_wins_tie)
{
  curlfence_policy *p = tu_load("allow 192.0.2.0/24\ndeny 192.0.2.0/24\n"
                                "allow 192.0.2.0/24 port 80\n"
                                "deny 192.0.2.0/24 port 80-81\n"
                                "allow 2001:db8::/32\ndeny 2001:db8::/32\n");
  curlfence_verdict v;

  ck_assert_int_eq(tu_decide(p, "192.0.2.1", 22, &v), CURLFENCE_DENY);
  ck_assert_uint_eq(v.line, 2);
  ck_assert_int_eq(tu_decide(p, "192.0.2.1", 80, &v), CURLFENCE_DENY);
  ck_assert_uint_eq(v.line, 4);
  ck_assert_int_eq(tu_decide(p, "2001:db8::1", 80, &v), CURLFENCE_DENY);
  ck_assert_uint_eq(v.line, 6);
  curlfence_policy_unref(p);
}
END_TEST

TU_TEST(tc_semantics, test_default_action)
{
  curlfence_policy *d = tu_load("allow 192.0.2.0/24\n");
  curlfence_policy *a = tu_load("default allow\ndeny 192.0.2.0/24\n");
  curlfence_verdict v;

  ck_assert_int_eq(tu_decide(d, "8.8.8.8", 53, &v), CURLFENCE_DENY);
  ck_assert_int_eq(v.is_default, 1);
  ck_assert_ptr_null(v.file);
  ck_assert_str_eq(v.rule, "default deny (built-in)");
  ck_assert_int_eq(tu_decide(a, "8.8.8.8", 53, &v), CURLFENCE_ALLOW);
  ck_assert_int_eq(v.is_default, 1);
  ck_assert_str_eq(v.file, "test.rules");
  ck_assert_uint_eq(v.line, 1);
  ck_assert_str_eq(v.rule, "default allow");
  ck_assert_str_eq(v.reason, "default");
  ck_assert_int_eq(tu_decide(a, "::1", 53, &v), CURLFENCE_ALLOW);
  curlfence_policy_unref(d);
  curlfence_policy_unref(a);
}
END_TEST

TU_TEST(tc_semantics, test_mapped_addresses)
{
  /* An IPv4 rule stops the mapped spelling; a mapped rule stops IPv4. */
  curlfence_policy *p = tu_load("default allow\n"
                                "deny 127.0.0.0/8\n"
                                "deny ::ffff:192.0.2.0/120\n"
                                "allow ::ffff:127.0.0.5\n");
  curlfence_verdict v;

  ck_assert_int_eq(tu_decide(p, "::ffff:127.0.0.1", 80, &v), CURLFENCE_DENY);
  ck_assert_str_eq(v.rule, "deny 127.0.0.0/8");
  ck_assert_int_eq(tu_decide(p, "192.0.2.9", 80, &v), CURLFENCE_DENY);
  ck_assert_uint_eq(v.line, 3);
  ck_assert_int_eq(tu_decide(p, "::ffff:192.0.2.9", 80, &v), CURLFENCE_DENY);
  ck_assert_int_eq(tu_decide(p, "127.0.0.5", 80, &v), CURLFENCE_ALLOW);
  ck_assert_uint_eq(v.line, 4);
  /* Not mapped: the IPv4-compatible and NAT64 forms stay IPv6. */
  ck_assert_int_eq(tu_decide(p, "::127.0.0.1", 80, &v), CURLFENCE_ALLOW);
  ck_assert_int_eq(v.is_default, 1);
  curlfence_policy_unref(p);
}
END_TEST

TU_TEST(tc_semantics, test_without_verdict)
{
  /* A decision without a verdict takes a shorter path; it must agree with
   * the full one on every kind of answer: rule, port set, default, mapped
   * IPv4, unix and malformed addresses. */
  static const char *const texts[] = {
    "default allow\n"
    "deny 10.0.0.0/8\n"
    "allow 10.20.0.0/16 port 443\n"
    "deny ::ffff:192.0.2.0/120\n"
    "allow 2001:db8::/32\n"
    "deny 2001:db8:bad::/48 port 80-81\n"
    "unix allow\n",
    "deny 0.0.0.0/0 port 22\n"
    "allow 10.20.30.0/24\n"
    "allow ::/0 port 443\n"
    "deny 2001:db8::1\n",
    /* the unspecified address decided as loopback too */
    "default allow\n"
    "deny 127.0.0.0/8 port 22\n"
    "deny ::1\n",
  };
  static const char *const addrs[] = {
    "10.1.1.1", "10.20.1.1", "10.20.30.4", "192.0.2.9", "::ffff:192.0.2.9",
    "::ffff:10.20.1.1", "::10.20.1.1", "8.8.8.8", "2001:db8::1",
    "2001:db8:bad::1", "2001:db9::1", "::", "255.255.255.255", "0.0.0.0",
    "::ffff:0.0.0.0", "127.0.0.1", "::1",
  };
  static const unsigned ports[] = { 0, 22, 80, 81, 443 };

  for(size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
    curlfence_policy *p = tu_load(texts[t]);
    struct sockaddr_storage ss;
    struct sockaddr_un un;
    curlfence_verdict v;

    for(size_t a = 0; a < sizeof(addrs) / sizeof(addrs[0]); a++)
      for(size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
        socklen_t len = tu_sockaddr(&ss, addrs[a], ports[i]);
        const struct sockaddr *sa = (const struct sockaddr *)&ss;
        curlfence_action full = curlfence_policy_decide(p, sa, len, &v);

        ck_assert_msg(curlfence_policy_decide(p, sa, len, NULL) == full,
                      "policy %zu: %s port %u", t, addrs[a], ports[i]);
        /* one byte short of the family's size */
        ck_assert_int_eq(curlfence_policy_decide(p, sa, len - 1, NULL),
                         curlfence_policy_decide(p, sa, len - 1, &v));
      }
    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;
    ck_assert_int_eq(curlfence_policy_decide(p, (struct sockaddr *)&un,
                                             sizeof(un), NULL),
                     curlfence_policy_decide(p, (struct sockaddr *)&un,
                                             sizeof(un), &v));
    curlfence_policy_unref(p);
  }
}
END_TEST

/* A connection to the unspecified address reaches this host's loopback
 * address (Linux connects 0.0.0.0 to 127.0.0.1, :: to ::1), so the policy
 * decides it as both: with or without a verdict, the same answer, and a
 * verdict that names the rule that decided and says how. */
TU_TEST(tc_semantics, test_unspecified_as_loopback)
{
  static const struct {
    const char *addr;
    unsigned port;
    curlfence_action action;
    unsigned line;
    const char *rule, *reason;
    int is_default;
  } cases[] = {
    /* allowed as itself, denied as loopback: loopback decides */
    { "0.0.0.0", 8080, CURLFENCE_DENY, 3, "deny 127.0.0.0/8", "loopback", 0 },
    { "::ffff:0.0.0.0", 8080, CURLFENCE_DENY, 3, "deny 127.0.0.0/8",
      "loopback", 0 },
    { "::", 8080, CURLFENCE_DENY, 1, "default deny", "loopback", 1 },
    /* allowed as both: named by its own rule */
    { "0.0.0.0", 443, CURLFENCE_ALLOW, 2, "allow 0.0.0.0/8", "rule", 0 },
    /* other addresses of 0.0.0.0/8 reach nothing: only as themselves */
    { "0.0.0.1", 8080, CURLFENCE_ALLOW, 2, "allow 0.0.0.0/8", "rule", 0 },
    /* loopback itself is unchanged */
    { "127.0.0.1", 8080, CURLFENCE_DENY, 3, "deny 127.0.0.0/8", "rule", 0 },
    /* denied as itself: that decision stands */
    { "::", 22, CURLFENCE_DENY, 6, "deny ::/128 port 22", "rule", 0 },
  };
  curlfence_policy *p = tu_load("default deny\n"
                                "allow 0.0.0.0/8\n"
                                "deny 127.0.0.0/8\n"
                                "allow 127.0.0.1 port 443\n"
                                "allow ::/128\n"
                                "deny ::/128 port 22\n");
  curlfence_verdict v;
  size_t i;

  for(i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    ck_assert_msg(tu_decide(p, cases[i].addr, cases[i].port, &v) ==
                  cases[i].action, "%s port %u", cases[i].addr,
                  cases[i].port);
    ck_assert_int_eq(tu_decide(p, cases[i].addr, cases[i].port, NULL),
                     cases[i].action);
    ck_assert_int_eq(v.action, cases[i].action);
    ck_assert_str_eq(v.rule, cases[i].rule);
    ck_assert_str_eq(v.reason, cases[i].reason);
    ck_assert_uint_eq(v.line, cases[i].line);
    ck_assert_int_eq(v.is_default, cases[i].is_default);
  }
  curlfence_policy_unref(p);

  /* default allow and nothing for 0.0.0.0/8: the loopback rule denies */
  p = tu_load("default allow\ndeny 127.0.0.1 port 25\n");
  ck_assert_int_eq(tu_decide(p, "0.0.0.0", 25, NULL), CURLFENCE_DENY);
  ck_assert_int_eq(tu_decide(p, "0.0.0.0", 25, &v), CURLFENCE_DENY);
  ck_assert_str_eq(v.rule, "deny 127.0.0.1 port 25");
  ck_assert_str_eq(v.reason, "loopback");
  ck_assert_int_eq(tu_decide(p, "0.0.0.0", 80, NULL), CURLFENCE_ALLOW);
  ck_assert_int_eq(tu_decide(p, "0.0.0.0", 80, &v), CURLFENCE_ALLOW);
  ck_assert_str_eq(v.reason, "default");
  curlfence_policy_unref(p);
}
END_TEST

TU_TEST(tc_semantics, test_fail_closed)
{
  curlfence_policy *p = tu_load("default allow\nunix allow\n");
  struct sockaddr_in in;
  struct sockaddr_un un;
  struct sockaddr sa;
  curlfence_verdict v;

  ck_assert_int_eq(tu_decide(NULL, "8.8.8.8", 53, &v), CURLFENCE_DENY);
  ck_assert_str_eq(v.reason, "no-policy");
  memset(&sa, 0, sizeof(sa));
  sa.sa_family = AF_APPLETALK;
  ck_assert_int_eq(curlfence_policy_decide(p, &sa, sizeof(sa), &v),
                   CURLFENCE_DENY);
  ck_assert_str_eq(v.reason, "family");
  memset(&in, 0, sizeof(in));
  in.sin_family = AF_INET;
  ck_assert_int_eq(curlfence_policy_decide(p, (struct sockaddr *)&in,
                                           sizeof(in) - 1, &v),
                   CURLFENCE_DENY);
  ck_assert_str_eq(v.reason, "malformed");
  ck_assert_int_eq(curlfence_policy_decide(p, NULL, 0, &v), CURLFENCE_DENY);
  ck_assert_int_eq(curlfence_policy_decide(p, (struct sockaddr *)&in,
                                           sizeof(in), NULL),
                   CURLFENCE_ALLOW);
  {
    /* an address of salen bytes is read no further, with or without a
     * verdict (a read past it is what `make asan` would report) */
    unsigned char *one = malloc(1);

    ck_assert_ptr_nonnull(one);
    one[0] = 0;
    ck_assert_int_eq(curlfence_policy_decide(p, (struct sockaddr *)one, 1,
                                             NULL), CURLFENCE_DENY);
    ck_assert_int_eq(curlfence_policy_decide(p, (struct sockaddr *)one, 1,
                                             &v), CURLFENCE_DENY);
    ck_assert_str_eq(v.reason, "family");
    free(one);
  }
  memset(&un, 0, sizeof(un));
  un.sun_family = AF_UNIX;
  strcpy(un.sun_path, "/run/x.sock");
  ck_assert_int_eq(curlfence_policy_decide(p, (struct sockaddr *)&un,
                                           sizeof(un), &v),
                   CURLFENCE_ALLOW);
  ck_assert_str_eq(v.reason, "unix");
  ck_assert_uint_eq(v.line, 2);
  curlfence_policy_unref(p);

  p = tu_load("default allow\n");
  ck_assert_int_eq(curlfence_policy_decide(p, (struct sockaddr *)&un,
                                           sizeof(un), &v),
                   CURLFENCE_DENY);
  ck_assert_str_eq(v.rule, "unix deny (built-in)");
  curlfence_policy_unref(p);
}
END_TEST

TU_TEST(tc_semantics, test_refcount)
{
  curlfence_policy *p = tu_load("deny 10.0.0.0/8\n");

  ck_assert_ptr_eq(curlfence_policy_ref(p), p);
  curlfence_policy_unref(p);
  ck_assert_int_eq(tu_decide(p, "10.0.0.1", 1, NULL), CURLFENCE_DENY);
  curlfence_policy_unref(p);
  curlfence_policy_unref(NULL);
  ck_assert_ptr_null(curlfence_policy_ref(NULL));
}
END_TEST

/* One policy, four threads, no locks: every answer must be the same. */
static void *decide_loop(void *arg)
{
  curlfence_policy *p = arg;
  long bad = 0;
  int i;

  for(i = 0; i < 20000; i++) {
    curlfence_verdict v;
    if(tu_decide(p, "10.20.1.1", 443, &v) != CURLFENCE_ALLOW || v.line != 3)
      bad++;
    if(tu_decide(p, "10.1.1.1", 443, &v) != CURLFENCE_DENY || v.line != 2)
      bad++;
  }
  curlfence_policy_unref(p);
  return (void *)bad;
}

TU_TEST(tc_semantics, test_threads)
{
  curlfence_policy *p = tu_load("default allow\ndeny 10.0.0.0/8\n"
                                "allow 10.20.0.0/16 port 443\n");
  pthread_t t[4];
  int i;

  for(i = 0; i < 4; i++)
    ck_assert_int_eq(pthread_create(&t[i], NULL, decide_loop,
                                    curlfence_policy_ref(p)), 0);
  curlfence_policy_unref(p);
  for(i = 0; i < 4; i++) {
    void *bad;
    pthread_join(t[i], &bad);
    ck_assert_ptr_null(bad);
  }
}
END_TEST
