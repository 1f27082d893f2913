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

#define ALLOW CURLFENCE_ALLOW
#define DENY CURLFENCE_DENY

/* The policies of the decisions below. */
enum {
  LONGEST, ORDER_A, ORDER_B, PORTS, TIE, BUILT_IN, WRITTEN, MAPPED, UNSPEC,
  UNSPEC_ALLOW
};
static const char *const policies[] = {
  [LONGEST] = "default allow\n"
              "deny 10.0.0.0/8\n"
              "allow 10.20.0.0/16\n"
              "deny 10.20.30.0/24\n"
              "allow 2001:db8::/32\n"
              "deny 2001:db8:bad::/48\n",
  /* the order of the rules does not matter */
  [ORDER_A] = "allow 10.20.0.0/16\ndeny 10.0.0.0/8\n",
  [ORDER_B] = "deny 10.0.0.0/8\nallow 10.20.0.0/16\n",
  [PORTS] = "default deny\n"
            "deny 198.51.100.0/24\n"
            "allow 198.51.100.0/24 port 443,8000-8080\n"
            "deny 198.51.100.7 port 443\n"
            "allow 198.51.100.7\n",
  [TIE] = "allow 192.0.2.0/24\ndeny 192.0.2.0/24\n"
          "allow 192.0.2.0/24 port 80\n"
          "deny 192.0.2.0/24 port 80-81\n"
          "allow 2001:db8::/32\ndeny 2001:db8::/32\n",
  [BUILT_IN] = "allow 192.0.2.0/24\n",
  [WRITTEN] = "default allow\ndeny 192.0.2.0/24\n",
  /* An IPv4 rule stops the mapped spelling; a mapped rule stops IPv4. */
  [MAPPED] = "default allow\n"
             "deny 127.0.0.0/8\n"
             "deny ::ffff:192.0.2.0/120\n"
             "allow ::ffff:127.0.0.5\n",
  /* A connection to the unspecified address reaches this host's loopback
   * address (Linux connects 0.0.0.0 to 127.0.0.1, :: to ::1), so the
   * policy decides it as both: with or without a verdict, the same
   * answer, and a verdict that names the rule that decided and says
   * how. */
  [UNSPEC] = "default deny\n"
             "allow 0.0.0.0/8\n"
             "deny 127.0.0.0/8\n"
             "allow 127.0.0.1 port 443\n"
             "allow ::/128\n"
             "deny ::/128 port 22\n",
  [UNSPEC_ALLOW] = "default allow\ndeny 127.0.0.1 port 25\n",
};

static const struct {
  int policy;
  tu_want want;
} decisions[] = {
  /* the longest prefix decides */
  { LONGEST, { "10.1.1.1", 80, DENY, 2, "rule" } },
  { LONGEST, { "10.20.1.1", 80, ALLOW, 3, "rule" } },
  { LONGEST, { "10.20.30.1", 80, DENY, 4, "rule" } },
  { LONGEST, { "11.0.0.1", 80, ALLOW, 1, "default" } },
  { LONGEST, { "2001:db8:bad::1", 443, DENY, 6, "rule" } },
  { LONGEST, { "2001:db8:bad0::1", 443, ALLOW, 5, "rule" } },
  { ORDER_A, { "10.20.0.1", 1, ALLOW, 1, "rule" } },
  { ORDER_B, { "10.20.0.1", 1, ALLOW, 2, "rule" } },
  { ORDER_A, { "10.21.0.1", 1, DENY, 2, "rule" } },
  { ORDER_B, { "10.21.0.1", 1, DENY, 1, "rule" } },
  /* Same prefix: the rule naming ports wins over the portless one. */
  { PORTS, { "198.51.100.1", 443, ALLOW, 3, "rule" } },
  { PORTS, { "198.51.100.1", 8000, ALLOW, 3, "rule" } },
  { PORTS, { "198.51.100.1", 8080, ALLOW, 3, "rule" } },
  { PORTS, { "198.51.100.1", 8081, DENY, 2, "rule" } },
  { PORTS, { "198.51.100.1", 80, DENY, 2, "rule" } },
  /* Longer prefix beats ports on a shorter one. */
  { PORTS, { "198.51.100.7", 443, DENY, 4, "rule" } },
  { PORTS, { "198.51.100.7", 8000, ALLOW, 5, "rule" } },
  /* Port 0 (unknown) matches only rules without ports. */
  { PORTS, { "198.51.100.1", 0, DENY, 2, "rule" } },
  /* a tie: deny wins */
  { TIE, { "192.0.2.1", 22, DENY, 2, "rule" } },
  { TIE, { "192.0.2.1", 80, DENY, 4, "rule" } },
  { TIE, { "2001:db8::1", 80, DENY, 6, "rule" } },
  /* the default action, built in or written */
  { BUILT_IN, { "8.8.8.8", 53, DENY, 0, "default" } },
  { WRITTEN, { "8.8.8.8", 53, ALLOW, 1, "default" } },
  { WRITTEN, { "::1", 53, ALLOW, 1, "default" } },
  { MAPPED, { "::ffff:127.0.0.1", 80, DENY, 2, "rule" } },
  { MAPPED, { "192.0.2.9", 80, DENY, 3, "rule" } },
  { MAPPED, { "::ffff:192.0.2.9", 80, DENY, 3, "rule" } },
  { MAPPED, { "127.0.0.5", 80, ALLOW, 4, "rule" } },
  /* Not mapped: the IPv4-compatible and NAT64 forms stay IPv6. */
  { MAPPED, { "::127.0.0.1", 80, ALLOW, 1, "default" } },
  /* allowed as itself, denied as loopback: loopback decides */
  { UNSPEC, { "0.0.0.0", 8080, DENY, 3, "loopback" } },
  { UNSPEC, { "::ffff:0.0.0.0", 8080, DENY, 3, "loopback" } },
  { UNSPEC, { "::", 8080, DENY, 1, "loopback" } },
  /* allowed as both: named by its own rule */
  { UNSPEC, { "0.0.0.0", 443, ALLOW, 2, "rule" } },
  /* other addresses of 0.0.0.0/8 reach nothing: only as themselves */
  { UNSPEC, { "0.0.0.1", 8080, ALLOW, 2, "rule" } },
  /* loopback itself is unchanged */
  { UNSPEC, { "127.0.0.1", 8080, DENY, 3, "rule" } },
  /* denied as itself: that decision stands */
  { UNSPEC, { "::", 22, DENY, 6, "rule" } },
  /* default allow and nothing for 0.0.0.0/8: the loopback rule denies */
  { UNSPEC_ALLOW, { "0.0.0.0", 25, DENY, 2, "loopback" } },
  { UNSPEC_ALLOW, { "0.0.0.0", 80, ALLOW, 1, "default" } },
};

TU_LOOP(tc_semantics, test_decisions, 0,
        (int)(sizeof(decisions) / sizeof(decisions[0])))
{
  const char *text = policies[decisions[_i].policy];
  curlfence_policy *p = tu_load(text);

  tu_want_each(p, text, &decisions[_i].want, 1);
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
