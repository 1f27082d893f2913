/* SPDX-License-Identifier: MIT */
/* rules/default.rules: what a newcomer gets must deny every non-public
 * destination and allow the public Internet. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const denied[] = {
  "0.0.0.0", "0.1.2.3", "10.0.0.1", "10.255.255.255", "100.64.0.1",
  "100.127.255.254", "127.0.0.1", "127.255.255.254", "169.254.0.1",
  "169.254.169.254", "169.254.170.2", "172.16.0.1", "172.31.255.255",
  "192.0.0.1", "192.0.0.170", "192.0.2.1", "192.88.99.1", "192.168.1.1",
  "198.18.0.1", "198.19.255.255", "198.51.100.1", "203.0.113.1",
  "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
  "100.100.100.200", "168.63.129.16",
  "::", "::1", "::127.0.0.1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
  "::ffff:169.254.169.254", "64:ff9b::7f00:1", "64:ff9b:1::1", "100::1",
  "2001::1", "2001:0:4136:e378::1", "2001:2::1", "2001:db8::1",
  "2002:7f00:1::1", "3fff::1", "5f00::1", "fc00::1", "fd00:ec2::254",
  "fe80::1", "febf::1", "fec0::1", "ff02::1", "ff0e::1", "1::1", "4000::1",
  "e000::1",
  /* NAT64: decided as the embedded IPv4 address */
  "64:ff9b::a9fe:a9fe", "64:ff9b::a00:1", "64:ff9b::", "64:ff9b::ffff:ffff",
  /* named endpoints */
  "169.254.170.23", "fd00:ec2::23", "fd00:ec2::253", "fd00:ec2::123",
  "fd20:ce::254", "100:0:0:1::1", "100:0:0:1:ffff:ffff:ffff:ffff",
};

static const char *const allowed[] = {
  "8.8.8.8", "1.1.1.1", "93.184.215.14", "9.255.255.255", "11.0.0.1",
  "100.63.255.255", "100.128.0.1", "126.255.255.255", "128.0.0.1",
  "169.253.255.255", "172.15.255.255", "172.32.0.1", "192.0.3.1",
  "192.167.255.255", "192.169.0.1", "198.17.255.255", "198.20.0.1",
  "223.255.255.255", "2606:4700::1111", "2001:4860:4860::8888",
  "2a00:1450:4001::1", "2001:200::1", "2003::1", "3ffe::1", "3fff:1000::1",
  "64:ff9b::808:808", "64:ff9b::1.1.1.1",
};

static curlfence_policy *load_default(void)
{
  curlfence_policy *p = NULL;
  curlfence_error err;

  ck_assert_msg(curlfence_policy_load_file(&p, "rules/default.rules", &err)
                    == CURLFENCE_OK, "%s", err.text);
  return p;
}

TU_SUITE("default-rules", NULL);
TU_CASE(tc_table, "table", 0, NULL, NULL);

/* _i 0: every address of denied[] is denied by a rule of the file;
 * _i 1: every address of allowed[] is allowed. */
TU_LOOP(tc_table, test_denied_and_allowed, 0, 2)
{
  curlfence_policy *p = load_default();
  const char *const *addr = _i ? allowed : denied;
  size_t n = _i ? sizeof(allowed) / sizeof(allowed[0])
                : sizeof(denied) / sizeof(denied[0]);
  curlfence_action want = _i ? CURLFENCE_ALLOW : CURLFENCE_DENY;
  curlfence_verdict v;
  size_t i;

  for(i = 0; i < n; i++) {
    ck_assert_msg(tu_decide(p, addr[i], 443, &v) == want,
                  "%s decided otherwise by %s:%u: %s", addr[i], v.file,
                  v.line, v.rule);
    /* Without a verdict the action comes from the compact path. */
    ck_assert_int_eq(tu_decide(p, addr[i], 443, NULL), want);
    if(want == CURLFENCE_DENY) {
      ck_assert_msg(!v.is_default, "%s denied only by default", addr[i]);
      /* the denials are the never-reach list's, which default.rules
       * includes, but for the documentation networks and the IPv6
       * backstop */
      ck_assert_msg(!strcmp(v.file, "rules/never-reach.rules") ||
                    !strcmp(v.file, "rules/default.rules"), "%s", v.file);
    }
  }
  curlfence_policy_unref(p);
}
END_TEST

TU_TEST(tc_table, test_metadata_named)
{
  curlfence_policy *p = load_default();
  curlfence_verdict v;

  tu_decide(p, "169.254.169.254", 80, &v);
  ck_assert_str_eq(v.rule, "deny 169.254.169.254");
  tu_decide(p, "fd00:ec2::254", 80, &v);
  ck_assert_str_eq(v.rule, "deny fd00:ec2::254");
  {
    static const char *const named[][2] = {
      { "169.254.170.23", "deny 169.254.170.23" },
      { "fd00:ec2::23", "deny fd00:ec2::23" },
      { "fd00:ec2::253", "deny fd00:ec2::253" },
      { "fd00:ec2::123", "deny fd00:ec2::123" },
      { "fd20:ce::254", "deny fd20:ce::254" },
      { "100:0:0:1::1", "deny 100:0:0:1::/64" },
      { "64:ff9b::a9fe:a9fe", "deny 169.254.169.254" },
    };
    size_t i;

    for(i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
      tu_decide(p, named[i][0], 80, &v);
      ck_assert_str_eq(v.rule, named[i][1]);
    }
  }
  curlfence_policy_unref(p);
}
END_TEST

TU_TEST(tc_table, test_examples_load)
{
  /* each example file, and three decisions it makes */
  static const struct {
    const char *file;
    struct {
      const char *addr;
      unsigned port;
      curlfence_action want;
    } d[3];
  } ex[] = {
    { "rules/examples/allowlist.rules",
      { { "203.0.113.5", 443, CURLFENCE_ALLOW },
        { "203.0.113.5", 80, CURLFENCE_DENY },
        { "8.8.8.8", 443, CURLFENCE_DENY } } },
    { "rules/examples/internal-service.rules",
      { { "10.20.30.40", 8443, CURLFENCE_ALLOW },
        { "10.20.30.40", 22, CURLFENCE_DENY },
        { "127.0.0.1", 8443, CURLFENCE_DENY } } },
  };
  curlfence_policy *p;
  curlfence_error err;
  size_t i, k;

  for(i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
    ck_assert_msg(curlfence_policy_load_file(&p, ex[i].file, &err)
                      == CURLFENCE_OK, "%s", err.text);
    for(k = 0; k < 3; k++)
      ck_assert_msg(tu_decide(p, ex[i].d[k].addr, ex[i].d[k].port, NULL) ==
                    ex[i].d[k].want, "%s: %s port %u", ex[i].file,
                    ex[i].d[k].addr, ex[i].d[k].port);
    curlfence_policy_unref(p);
  }
}
END_TEST

/* The default rules test themselves: each change below opens something
 * they promise to keep shut (or shuts what they promise to reach), and
 * the rules with it do not load; the error names the expect line. */
TU_TEST(tc_table, test_expectations_guard_edits)
{
  static const struct {
    const char *add;
    const char *expect;     /* the broken expect line */
  } edits[] = {
    { "allow 169.254.169.254 port 80", "expect deny 169.254.169.254 " },
    { "allow fd00:ec2::254 port 80", "expect deny fd00:ec2::254\n" },
    { "allow 127.0.0.0/8 port 8080", "expect deny 127.0.0.1 " },
    { "allow ::1 port 8080", "expect deny ::1\n" },
    { "allow 10.0.0.0/16 port 443", "expect deny 10.0.0.1 " },
    { "deny 1.0.0.0/8", "expect allow 1.1.1.1 port 443" },
  };
  FILE *f = fopen("rules/default.rules", "r");
  char *text, *edited, want[64];
  size_t len, i;
  long size;

  ck_assert_ptr_nonnull(f);
  fseek(f, 0, SEEK_END);
  size = ftell(f);
  rewind(f);
  text = malloc((size_t)size + 1);
  ck_assert_ptr_nonnull(text);
  len = fread(text, 1, (size_t)size, f);
  text[len] = '\0';
  fclose(f);
  edited = malloc(len + 128);
  ck_assert_ptr_nonnull(edited);
  {
    /* loaded from memory: the list by its path from the working
     * directory, on the same line */
    static const char inc[] = "\ninclude never-reach.rules";
    char *at = strstr(text, inc), *fixed = malloc(len + 8);

    ck_assert_ptr_nonnull(at);
    ck_assert_ptr_nonnull(fixed);
    sprintf(fixed, "%.*s\ninclude rules/never-reach.rules%s",
            (int)(at - text), text, at + strlen(inc));
    free(text);
    text = fixed;
    len = strlen(text);
    free(edited);
    edited = malloc(len + 128);
    ck_assert_ptr_nonnull(edited);
  }
  for(i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
    curlfence_policy *p = NULL;
    curlfence_error err;
    const char *at = strstr(text, edits[i].expect);
    unsigned line = 1;
    const char *c;

    ck_assert_msg(at != NULL, "no \"%s\" in default.rules", edits[i].expect);
    for(c = text; c < at; c++)
      line += *c == '\n';
    snprintf(edited, len + 128, "%s%s\n", text, edits[i].add);
    ck_assert_int_eq(curlfence_policy_load_string(&p, edited, strlen(edited),
                                                  "default.rules", &err),
                     CURLFENCE_E_EXPECT);
    ck_assert_ptr_null(p);
    snprintf(want, sizeof(want), "default.rules:%u:1: expected ", line);
    ck_assert_msg(strncmp(err.text, want, strlen(want)) == 0,
                  "%s: %s, want %s", edits[i].add, err.text, want);
  }
  free(edited);
  free(text);
}
END_TEST
