/* SPDX-License-Identifier: MIT */
/* The rules parser's internals: what the public loaders cannot show. */
#include "internal.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* The arrays are sized by what the text can hold, not by its line count:
 * 704 MiB of blank lines asked for 30 GB of rules. */
START_TEST(test_presize_blank_lines)
{
  static const char mixed[] =
      "# allow 1.2.3.4\n\n  deny ::\n\tallow 10.0.0.0/8 port 80\ndenyx 1\n"
      "default allow\nallow\ndeny";
  size_t n = (size_t)1 << 20, rules, text;
  char *blank = malloc(n);
  cf_ruleset rs;
  curlfence_error err;
  curlfence_policy *p = NULL;

  ck_assert_ptr_nonnull(blank);
  memset(blank, '\n', n);
  cf_rules_presize(mixed, sizeof(mixed) - 1, &rules, &text);
  ck_assert_uint_eq(rules, 2);
  ck_assert_uint_eq(text, strlen("  deny ::\n\tallow 10.0.0.0/8 port 80\n"));
  cf_rules_presize(blank, n, &rules, &text);
  ck_assert_uint_eq(rules, 0);
  ck_assert_uint_eq(text, 0);

  memset(&rs, 0, sizeof(rs));
  ck_assert_int_eq(cf_rules_parse_string(&rs, blank, n, NULL, &err),
                   CURLFENCE_OK);
  ck_assert_uint_eq(rs.nrules, 0);
  ck_assert_msg(rs.caprules < 64 && rs.captexts < 64,
                "%zu rules and %zu text bytes reserved for blank lines",
                rs.caprules, rs.captexts);
  cf_ruleset_free(&rs);
  ck_assert_int_eq(curlfence_policy_load_string(&p, blank, n, NULL, &err),
                   CURLFENCE_OK);
  ck_assert_uint_eq(curlfence_policy_rule_count(p), 0);
  curlfence_policy_unref(p);
  free(blank);
}
END_TEST

/* cf_self_list reads one netlink address dump instead of getifaddrs; it
 * must list what getifaddrs lists, in its order and under its names:
 * each distinct address once, loopback included, named by its first
 * entry, and an IPv4 address of a loopback interface with its on-link
 * prefix (the whole prefix is local). */
START_TEST(test_self_list_as_getifaddrs)
{
  struct ifaddrs *all, *i, *j;
  cf_selfaddr *list = NULL;
  size_t got = 0, want = 0;
  uint64_t print;

  ck_assert_int_eq(cf_self_list(&list, &got, &print), 0);
  ck_assert_int_eq(getifaddrs(&all), 0);
  for(i = all; i; i = i->ifa_next) {
    uint8_t a[16];
    int v6;

    if(!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET &&
                        i->ifa_addr->sa_family != AF_INET6))
      continue;
    v6 = i->ifa_addr->sa_family == AF_INET6;
    memset(a, 0, sizeof(a));
    if(v6)
      memcpy(a, &((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr, 16);
    else
      memcpy(a, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, 4);
    for(j = all; j != i; j = j->ifa_next)
      if(j->ifa_addr && j->ifa_addr->sa_family == i->ifa_addr->sa_family &&
         !memcmp(v6 ? (const void *)&((struct sockaddr_in6 *)(void *)
                                      j->ifa_addr)->sin6_addr
                    : (const void *)&((struct sockaddr_in *)(void *)
                                      j->ifa_addr)->sin_addr,
                 a, v6 ? 16 : 4))
        break;
    if(j != i)
      continue;
    ck_assert_uint_lt(want, got);
    ck_assert_int_eq(list[want].v6, v6);
    ck_assert(memcmp(list[want].addr, a, 16) == 0);
    ck_assert_msg(strncmp(list[want].ifname, i->ifa_name, 15) == 0,
                  "address %zu: \"%s\", getifaddrs \"%s\"", want,
                  list[want].ifname, i->ifa_name);
    {
      unsigned plen = 0;
      uint32_t m = 0;

      if(!v6 && i->ifa_netmask)
        memcpy(&m, &((struct sockaddr_in *)(void *)i->ifa_netmask)->sin_addr,
               4);
      for(m = ntohl(m); m & 0x80000000u; m <<= 1)
        plen++;
      ck_assert_uint_eq(list[want].prefix,
                        !v6 && (i->ifa_flags & IFF_LOOPBACK) && plen < 32
                            ? plen : 0);
    }
    want++;
  }
  freeifaddrs(all);
  ck_assert_uint_eq(got, want);
  free(list);
}
END_TEST

Suite *suite_rules_internal(void)
{
  Suite *s = suite_create("rules-internal");
  TCase *tc = tcase_create("presize");

  tcase_add_test(tc, test_presize_blank_lines);
  suite_add_tcase(s, tc);
  tc = tcase_create("self");
  tcase_add_test(tc, test_self_list_as_getifaddrs);
  suite_add_tcase(s, tc);
  return s;
}
