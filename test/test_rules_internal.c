/* SPDX-License-Identifier: MIT */
/* The rules parser's internals: what the public loaders cannot show. */
#include "engine/engine.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

TU_SUITE_STATIC_ONLY("rules-internal", NULL);
TU_CASE(tc_presize, "presize", 0, NULL, NULL);

/* The arrays are sized by what the text can hold, not by its line count:
 * 704 MiB of blank lines asked for 30 GB of rules. */
TU_TEST(tc_presize, test_presize_blank_lines)
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

TU_CASE(tc_self, "self", 0, NULL, NULL);

/* cf_self_list reads one netlink address dump instead of getifaddrs; it
 * must list what getifaddrs lists, in its order and under its names:
 * each distinct address once, loopback included, named by its first
 * entry, and an IPv4 address of a loopback interface with its on-link
 * prefix (the whole prefix is local). */
TU_TEST(tc_self, test_self_list_as_getifaddrs)
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

/* ----------------------------------------- files changing under a load
 * The test program's rules_file.c has the load hook (CF_TEST_HOOKS): a
 * file is rewritten at a chosen point of a load, between its opening and
 * its reading or between the reading and the check, as a writer racing the
 * load would, without depending on timing. */

static char ldir[64], top_path[128], part_path[128];
static int hook_calls[2][CF_LOAD_TRIES];

static void load_setup(void)
{
  snprintf(ldir, sizeof(ldir), "/tmp/curlfence-load-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(ldir));
  snprintf(top_path, sizeof(top_path), "%s/top.rules", ldir);
  snprintf(part_path, sizeof(part_path), "%s/part.rules", ldir);
  tu_write_text(top_path, "default allow\ninclude part.rules\n");
  tu_write_text(part_path, "deny 10.0.0.0/8\n");
  memset(hook_calls, 0, sizeof(hook_calls));
}

static void load_teardown(void)
{
  char cmd[128];

  cf_test_load_hook = NULL;
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", ldir);
  ck_assert_int_eq(system(cmd), 0);
}

/* Writes text to path in place (the same inode), truncating or
 * appending, as `cat >`, `>>` or an editor saving in place do. */
static void write_in_place(const char *path, const char *text, int append)
{
  int fd = open(path, O_WRONLY | (append ? O_APPEND : O_TRUNC));
  size_t n = strlen(text);

  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, text, n), (ssize_t)n);
  ck_assert_int_eq(close(fd), 0);
}

static int is_part(const char *path)
{
  return path && strcmp(path, part_path) == 0;
}

/* The included file is rewritten in place, in two steps, while a process
 * starts: opened and stamped before the first step, read between the
 * two.  Cut at the slash, "deny 10.0.0.0/8" is the valid "deny 10.0.0.0",
 * which lets the rest of 10/8 through; the load saw the file shrink under
 * it and read it again once the writer was done. */
static void two_step_writer(int point, const char *path, unsigned attempt)
{
  hook_calls[point][attempt]++;
  if(attempt != 0)
    return;
  if(point == CF_HOOK_OPENED && is_part(path))
    write_in_place(part_path, "deny 10.0.0.0", 0);
  else if(point == CF_HOOK_READ)
    write_in_place(part_path, "/8\n", 1);
}

/* path loaded with hook called during the load; the load must succeed. */
static curlfence_policy *load_hooked(const char *path,
                                     void (*hook)(int point, const char *path,
                                                  unsigned attempt))
{
  curlfence_policy *p = NULL;
  curlfence_error err;

  cf_test_load_hook = hook;
  ck_assert_msg(curlfence_policy_load_file(&p, path, &err) == CURLFENCE_OK,
                "%s", err.text);
  return p;
}

TU_CASE(tc_changing_files, "changing files", 0, load_setup, load_teardown);

TU_TEST(tc_changing_files, test_load_not_half_written)
{
  curlfence_policy *p = NULL;
  curlfence_verdict v;

  p = load_hooked(top_path, two_step_writer);
  ck_assert_int_eq(tu_decide(p, "10.1.2.3", 80, &v), CURLFENCE_DENY);
  ck_assert_str_eq(v.rule, "deny 10.0.0.0/8");
  ck_assert_uint_eq(curlfence_policy_rule_count(p), 1);
  ck_assert_int_eq(hook_calls[CF_HOOK_READ][1], 1);   /* read twice */
  curlfence_policy_unref(p);
}
END_TEST

/* Changed after it was read and before the load looked again: the rule
 * appended meanwhile is in the policy, read on a second try. */
static void appender(int point, const char *path, unsigned attempt)
{
  (void)path;
  hook_calls[point][attempt]++;
  if(point == CF_HOOK_READ && attempt == 0)
    write_in_place(part_path, "deny 192.0.2.0/24\n", 1);
}

TU_TEST(tc_changing_files, test_load_changed_after_read)
{
  curlfence_policy *p = NULL;
  curlfence_error err;
  curlfence_verdict v;
  cf_ruleset rs;

  p = load_hooked(top_path, appender);
  ck_assert_int_eq(tu_decide(p, "192.0.2.1", 80, &v), CURLFENCE_DENY);
  ck_assert_int_eq(tu_decide(p, "10.1.2.3", 80, &v), CURLFENCE_DENY);
  ck_assert_int_eq(hook_calls[CF_HOOK_READ][1], 1);
  curlfence_policy_unref(p);

  /* The review tools' reader is the same one. */
  tu_write_text(part_path, "deny 10.0.0.0/8\n");
  memset(hook_calls, 0, sizeof(hook_calls));
  memset(&rs, 0, sizeof(rs));
  ck_assert_int_eq(cf_rules_parse_file(&rs, top_path, &err), CURLFENCE_OK);
  ck_assert_uint_eq(rs.nrules, 2);
  cf_ruleset_free(&rs);
}
END_TEST

/* A file that never holds still is an error naming it, never a policy. */
static void restless(int point, const char *path, unsigned attempt)
{
  (void)path;
  hook_calls[point][attempt]++;
  if(point == CF_HOOK_READ)
    write_in_place(part_path, "# again\n", 1);
}

TU_TEST(tc_changing_files, test_load_keeps_changing)
{
  curlfence_policy *p = NULL;
  curlfence_error err;
  unsigned i;

  cf_test_load_hook = restless;
  ck_assert_int_eq(curlfence_policy_load_file(&p, top_path, &err),
                   CURLFENCE_E_IO);
  ck_assert_ptr_null(p);
  ck_assert_str_eq(err.file, part_path);
  ck_assert_msg(strstr(err.message, "changed while it was being read") &&
                strstr(err.message, "rename(2)"), "%s", err.text);
  for(i = 0; i < CF_LOAD_TRIES; i++)
    ck_assert_int_eq(hook_calls[CF_HOOK_READ][i], 1);
}
END_TEST

/* An unchanging file is read once: no second try, so no pause. */
static void counter(int point, const char *path, unsigned attempt)
{
  (void)path;
  hook_calls[point][attempt]++;
}

TU_TEST(tc_changing_files, test_load_unchanged_once)
{
  curlfence_policy *p = NULL;
  curlfence_error err;

  cf_test_load_hook = counter;
  ck_assert_int_eq(curlfence_policy_load_file(&p, top_path, &err),
                   CURLFENCE_OK);
  ck_assert_int_eq(hook_calls[CF_HOOK_OPENED][0], 2);   /* top, part */
  ck_assert_int_eq(hook_calls[CF_HOOK_READ][0], 1);
  ck_assert_int_eq(hook_calls[CF_HOOK_READ][1], 0);
  curlfence_policy_unref(p);
}
END_TEST

/* An image rewritten in place while it is mapped and checked (a cp over
 * it): the policy is the new image, mapped and checked again, never the
 * old checks over the new bytes. */
static char img_path[128], new_img[128];

static void image_copier(int point, const char *path, unsigned attempt)
{
  char buf[65536];
  ssize_t n;
  int in, out;

  (void)path;
  hook_calls[point][attempt]++;
  if(point != CF_HOOK_READ || attempt != 0)
    return;
  in = open(new_img, O_RDONLY);
  ck_assert_int_ge(in, 0);
  ck_assert_int_eq(chmod(img_path, 0644), 0);
  out = open(img_path, O_WRONLY | O_TRUNC);
  ck_assert_int_ge(out, 0);
  while((n = read(in, buf, sizeof(buf))) > 0)
    ck_assert_int_eq(write(out, buf, (size_t)n), n);
  close(in);
  ck_assert_int_eq(close(out), 0);
}

TU_TEST(tc_changing_files, test_image_rewritten_while_loading)
{
  curlfence_policy *p = NULL, *a, *b;
  curlfence_error err;
  curlfence_verdict v;
  struct stat sa, sb;

  snprintf(img_path, sizeof(img_path), "%s/site.cfimg", ldir);
  snprintf(new_img, sizeof(new_img), "%s/new.cfimg", ldir);
  a = tu_load("default allow\ndeny 10.0.0.0/8\n");
  b = tu_load("default allow\ndeny 192.0.2.0/24\ndeny 198.51.100.0/24\n"
              "deny 203.0.113.0/24 port 443\n");
  ck_assert_int_eq(curlfence_policy_save_image(a, img_path, &err),
                   CURLFENCE_OK);
  ck_assert_int_eq(curlfence_policy_save_image(b, new_img, &err),
                   CURLFENCE_OK);
  curlfence_policy_unref(a);
  curlfence_policy_unref(b);
  ck_assert_int_eq(stat(img_path, &sa), 0);
  ck_assert_int_eq(stat(new_img, &sb), 0);
  ck_assert_int_ne(sa.st_size, sb.st_size);   /* the change shows */

  p = load_hooked(img_path, image_copier);
  ck_assert_int_eq(hook_calls[CF_HOOK_READ][1], 1);
  ck_assert_uint_eq(curlfence_policy_rule_count(p), 3);
  ck_assert_int_eq(tu_decide(p, "10.1.2.3", 80, &v), CURLFENCE_ALLOW);
  ck_assert_int_eq(tu_decide(p, "192.0.2.1", 80, &v), CURLFENCE_DENY);
  ck_assert_str_eq(v.rule, "deny 192.0.2.0/24");
  curlfence_policy_unref(p);
}
END_TEST
