/* SPDX-License-Identifier: MIT */
/* The rules language: every rejected input, with its location and reason. */
#include "engine/engine.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct bad_case {
  const char *text;
  curlfence_code code;
  unsigned line, column;
  const char *message;   /* substring the message must contain */
} bad_case;

static const bad_case bad[] = {
  /* libcidr would accept all of these, each meaning something else. */
  { "deny 10/8\n", CURLFENCE_E_ADDRESS, 1, 6, "incomplete IPv4 address \"10\"" },
  { "deny 10.1/16\n", CURLFENCE_E_ADDRESS, 1, 6, "incomplete IPv4 address" },
  { "deny 127.1\n", CURLFENCE_E_ADDRESS, 1, 6, "incomplete IPv4 address" },
  { "deny 010.0.0.1\n", CURLFENCE_E_ADDRESS, 1, 6, "octal is not accepted" },
  { "deny 0x7f.0.0.1\n", CURLFENCE_E_ADDRESS, 1, 6, "hexadecimal" },
  { "deny 1.2.3.4/-1\n", CURLFENCE_E_ADDRESS, 1, 14, "invalid prefix length \"-1\"" },
  { "deny 1.2.3.4/24abc\n", CURLFENCE_E_ADDRESS, 1, 14, "invalid prefix length \"24abc\"" },
  { "deny 1.2.3.4/24/\n", CURLFENCE_E_ADDRESS, 1, 14, "invalid prefix length \"24/\"" },
  { "deny 1.2.3.4/33\n", CURLFENCE_E_ADDRESS, 1, 14, "invalid prefix length \"33\" (IPv4 allows 0-32)" },
  { "deny 1.2.3.4/032\n", CURLFENCE_E_ADDRESS, 1, 14, "invalid prefix length \"032\"" },
  { "deny 1.2.3.4/\n", CURLFENCE_E_ADDRESS, 1, 14, "missing prefix length" },
  { "deny ::1/129\n", CURLFENCE_E_ADDRESS, 1, 10, "invalid prefix length \"129\" (IPv6 allows 0-128)" },
  { "deny 1:2:3:4:5:6:7:8:9\n", CURLFENCE_E_ADDRESS, 1, 6, "more than 8 groups" },
  { "deny 1::2::3\n", CURLFENCE_E_ADDRESS, 1, 6, "\"::\" may appear only once" },
  { "deny fe80::1%eth0\n", CURLFENCE_E_ADDRESS, 1, 13, "zone ids are not allowed" },
  { "deny [::1]\n", CURLFENCE_E_ADDRESS, 1, 6, "brackets are not allowed" },
  { "deny [::1]/128\n", CURLFENCE_E_ADDRESS, 1, 6, "brackets are not allowed" },
  { "deny 10.0.0.1/8\n", CURLFENCE_E_ADDRESS, 1, 6, "host bits set in \"10.0.0.1/8\" (did you mean 10.0.0.0/8?)" },
  { "deny 2001:db8::1/32\n", CURLFENCE_E_ADDRESS, 1, 6, "did you mean 2001:db8::/32?" },
  { "deny 1.2.3.256\n", CURLFENCE_E_ADDRESS, 1, 6, "invalid IPv4 address" },
  { "deny /8\n", CURLFENCE_E_ADDRESS, 1, 6, "missing address before \"/\"" },
  { "deny example.com\n", CURLFENCE_E_ADDRESS, 1, 6, "invalid IPv4 address \"example.com\" (expected four decimal octets 0-255)" },
  { "deny 1.2.0x3.4\n", CURLFENCE_E_ADDRESS, 1, 6, "hexadecimal is not accepted" },
  /* Structure. */
  { "block 10.0.0.0/8\n", CURLFENCE_E_SYNTAX, 1, 1, "unexpected \"block\" (expected allow, deny, default, unix, mode, include, nat64 or expect)" },
  { "10.0.0.0/8\n", CURLFENCE_E_SYNTAX, 1, 1, "missing action before \"10.0.0.0/8\"" },
  { "deny\n", CURLFENCE_E_SYNTAX, 1, 5, "missing address after \"deny\"" },
  { "allow   # nothing\n", CURLFENCE_E_SYNTAX, 1, 6, "missing address after \"allow\"" },
  { "deny 10.0.0.0/8 ports 80\n", CURLFENCE_E_SYNTAX, 1, 17, "expected \"port\" or end of line" },
  { "deny 10.0.0.0/8 port 80 extra\n", CURLFENCE_E_SYNTAX, 1, 25, "expected end of line" },
  /* More words than any directive takes: the first one too many is named. */
  { "allow 1.2.3.4 port 443 foo tcp\n", CURLFENCE_E_SYNTAX, 1, 24, "unexpected \"foo\" (expected end of line)" },
  { "allow 1.2.3.4 prt 443 foo tcp more\n", CURLFENCE_E_SYNTAX, 1, 15, "unexpected \"prt\" (expected \"port\" or end of line)" },
  { "nat64 64:ff9b::/96 a b c d e\n", CURLFENCE_E_SYNTAX, 1, 20, "unexpected \"a\" (expected end of line)" },
  { "default\n", CURLFENCE_E_SYNTAX, 1, 8, "missing action after \"default\"" },
  { "default maybe\n", CURLFENCE_E_SYNTAX, 1, 9, "expected allow or deny" },
  { "default allow\n\ndefault deny\n", CURLFENCE_E_DUPLICATE, 3, 1, "duplicate \"default\" (first given at test.rules:1)" },
  { "unix allow\nunix allow\n", CURLFENCE_E_DUPLICATE, 2, 1, "duplicate \"unix\"" },
  { "unix sometimes\n", CURLFENCE_E_SYNTAX, 1, 6, "expected allow or deny" },
  { "include\n", CURLFENCE_E_SYNTAX, 1, 8, "missing file name" },
  { "mode\n", CURLFENCE_E_SYNTAX, 1, 5, "missing value after \"mode\" (expected enforce or report)" },
  { "mode audit\n", CURLFENCE_E_SYNTAX, 1, 6, "expected enforce or report" },
  { "mode report\nmode enforce\n", CURLFENCE_E_DUPLICATE, 2, 1, "duplicate \"mode\"" },
  /* Ports. */
  { "deny 10.0.0.0/8 port\n", CURLFENCE_E_PORT, 1, 21, "missing port list" },
  { "deny 10.0.0.0/8 port 0\n", CURLFENCE_E_PORT, 1, 22, "port \"0\" out of range (1-65535)" },
  { "deny 10.0.0.0/8 port 65536\n", CURLFENCE_E_PORT, 1, 22, "port \"65536\" out of range" },
  { "deny 10.0.0.0/8 port 9-5\n", CURLFENCE_E_PORT, 1, 22, "port range \"9-5\" is reversed" },
  { "deny 10.0.0.0/8 port 80,,443\n", CURLFENCE_E_PORT, 1, 25, "empty port" },
  { "deny 10.0.0.0/8 port 80,http\n", CURLFENCE_E_PORT, 1, 25, "invalid port \"http\"" },
  { "deny 10.0.0.0/8 port 080\n", CURLFENCE_E_PORT, 1, 22, "invalid port \"080\"" },
  { "deny 10.0.0.0/8 port 1-\n", CURLFENCE_E_PORT, 1, 24, "empty port" },
  { "deny 10.0.0.0/8 port -1\n", CURLFENCE_E_PORT, 1, 22, "empty port" },
  /* Lines carry their own numbers; CRLF is fine, errors still point right. */
  { "# c\r\ndefault deny\r\n\r\ndeny 10.0.0.0/8 port 70000\r\n", CURLFENCE_E_PORT, 4, 22, "out of range" },
  { "\tdeny\t10/8\n", CURLFENCE_E_ADDRESS, 1, 7, "incomplete IPv4" },
  /* nat64: RFC 6052 lengths only, nothing it could hide or collide with. */
  { "nat64 64:ff9b::/57\n", CURLFENCE_E_ADDRESS, 1, 17, "invalid NAT64 prefix length \"57\" (RFC 6052 allows 32, 40, 48, 56, 64 or 96)" },
  { "nat64 64:ff9b::/128\n", CURLFENCE_E_ADDRESS, 1, 17, "invalid NAT64 prefix length \"128\"" },
  { "nat64 2001:db8::/33\n", CURLFENCE_E_ADDRESS, 1, 18, "invalid NAT64 prefix length \"33\"" },
  { "nat64 64:ff9b::1/96\n", CURLFENCE_E_ADDRESS, 1, 7, "host bits set in \"64:ff9b::1/96\" (did you mean 64:ff9b::/96?)" },
  { "nat64 2001:db8:1::/32\n", CURLFENCE_E_ADDRESS, 1, 7, "host bits set" },
  { "nat64 64:ff9b::/96\nnat64 64:ff9b::/64\n", CURLFENCE_E_ADDRESS, 2, 7, "nat64 prefix \"64:ff9b::/64\" overlaps \"64:ff9b::/96\" declared at test.rules:1" },
  { "nat64 2001:db8::/32\n# x\n nat64 2001:db8:1::/48\n", CURLFENCE_E_ADDRESS, 3, 8, "overlaps \"2001:db8::/32\" declared at test.rules:1" },
  { "nat64 64:ff9b::/96\nnat64 64:ff9b::/96\n", CURLFENCE_E_ADDRESS, 2, 7, "overlaps \"64:ff9b::/96\"" },
  { "nat64 ::ffff:0:0/96\n", CURLFENCE_E_ADDRESS, 1, 7, "nat64 prefix \"::ffff:0:0/96\" overlaps the IPv4-mapped range ::ffff:0:0/96" },
  { "nat64 ::/32\n", CURLFENCE_E_ADDRESS, 1, 7, "overlaps the IPv4-mapped range" },
  { "nat64 64:ff9b:0:0:100::/96\n", CURLFENCE_E_ADDRESS, 1, 7, "sets bits 64-71, the \"u\" octet" },
  { "deny 64:ff9b::1\nnat64 64:ff9b::/96\n", CURLFENCE_E_ADDRESS, 2, 7, "nat64 prefix \"64:ff9b::/96\" holds the rule \"deny 64:ff9b::1\" (test.rules:1), which could never apply" },
  { "deny 64:ff9b::/96\nnat64 64:ff9b::/96\n", CURLFENCE_E_ADDRESS, 2, 7, "holds the rule \"deny 64:ff9b::/96\"" },
  { "nat64 64:ff9b::/96\n\nallow  64:ff9b::/100 port 80\n", CURLFENCE_E_ADDRESS, 3, 8, "\"64:ff9b::/100\" lies inside nat64 prefix \"64:ff9b::/96\" (declared at test.rules:1) and could never apply" },
  { "nat64 10.0.0.0/8\n", CURLFENCE_E_ADDRESS, 1, 7, "nat64 needs an IPv6 prefix, not \"10.0.0.0/8\"" },
  { "nat64 64:ff9b::\n", CURLFENCE_E_ADDRESS, 1, 16, "missing prefix length after \"64:ff9b::\"" },
  { "nat64\n", CURLFENCE_E_SYNTAX, 1, 6, "missing prefix after \"nat64\"" },
  { "nat64 64:ff9b::/96 port 80\n", CURLFENCE_E_SYNTAX, 1, 20, "expected end of line" },
  /* self */
  { "deny self port 0\n", CURLFENCE_E_PORT, 1, 16, "port \"0\" out of range" },
  { "deny self 80\n", CURLFENCE_E_SYNTAX, 1, 11, "expected \"port\" or end of line" },
  { "allow selfish\n", CURLFENCE_E_ADDRESS, 1, 7, "invalid IPv4 address \"selfish\"" },
  /* expect */
  { "expect\n", CURLFENCE_E_SYNTAX, 1, 7, "missing action after \"expect\" (expected allow or deny)" },
  { "expect maybe 10.0.0.1\n", CURLFENCE_E_SYNTAX, 1, 8, "unexpected \"maybe\" (expected allow or deny)" },
  { "expect deny\n", CURLFENCE_E_SYNTAX, 1, 12, "missing address after \"expect deny\"" },
  { "expect deny host metadata on 169.254.169.254\n", CURLFENCE_E_SYNTAX, 1, 27, "unexpected \"on\" (expected \"at\")" },
  { "expect deny 10.0.0.0/8\n", CURLFENCE_E_ADDRESS, 1, 13, "one address, not a block" },
  { "expect deny 10.0.0.256\n", CURLFENCE_E_ADDRESS, 1, 13, "invalid IPv4 address \"10.0.0.256\"" },
  { "expect deny 10.0.0.1 80\n", CURLFENCE_E_SYNTAX, 1, 22, "expected \"port\" or end of line" },
  { "expect deny 10.0.0.1 port\n", CURLFENCE_E_PORT, 1, 26, "missing port after \"port\"" },
  { "expect deny 10.0.0.1 port 80,443\n", CURLFENCE_E_PORT, 1, 27, "invalid port \"80,443\"" },
  { "expect deny 10.0.0.1 port 80 now\n", CURLFENCE_E_SYNTAX, 1, 30, "unexpected \"now\" (expected end of line)" },
  /* expectations the rules break: where the expect line is, what decided */
  { "default allow\n  expect deny 169.254.169.254\n", CURLFENCE_E_EXPECT, 2, 3, "expected deny for 169.254.169.254 port 1 (every port), but test.rules:1 (default allow) decides allow" },
  { "expect allow 1.1.1.1 port 443\n", CURLFENCE_E_EXPECT, 1, 1, "expected allow for 1.1.1.1 port 443, but default deny (built-in) decides deny" },
  { "default deny\nallow 1.2.3.4 port 80\nexpect allow 1.2.3.4\n", CURLFENCE_E_EXPECT, 3, 1, "port 1 (every port), but test.rules:1 (default deny) decides deny" },
  { "default allow\ndeny 1.2.3.4 port 8000-8080\nexpect allow 1.2.3.4\n", CURLFENCE_E_EXPECT, 3, 1, "for 1.2.3.4 port 8000 (every port), but test.rules:2 (deny 1.2.3.4 port 8000-8080) decides deny" },
  { "default allow\ndeny 1.2.3.4 port 1-79\nexpect allow 1.2.3.4 port 80\nexpect deny 1.2.3.4\n", CURLFENCE_E_EXPECT, 4, 1, "for 1.2.3.4 port 80 (every port)" },
  { "default allow\nnat64 64:ff9b::/96\ndeny 10.0.0.0/8\nexpect allow 64:ff9b::a00:1 port 443\n", CURLFENCE_E_EXPECT, 4, 1, "expected allow for 64:ff9b::a00:1 port 443, but test.rules:3 (deny 10.0.0.0/8) decides deny" },
  { "default allow\ndeny 169.254.0.0/16\nallow ::ffff:169.254.169.254 port 80\nexpect deny 169.254.169.254\n", CURLFENCE_E_EXPECT, 4, 1, "port 80 (every port), but test.rules:3 (allow ::ffff:169.254.169.254 port 80) decides allow" },
  /* host rules */
  { "allow host\n", CURLFENCE_E_SYNTAX, 1, 11, "missing name after \"allow host\"" },
  { "deny host \n", CURLFENCE_E_SYNTAX, 1, 10, "missing name after \"deny host\"" },
  { "allow host *\n", CURLFENCE_E_SYNTAX, 1, 12, "\"*\" would match every name" },
  { "allow host *.\n", CURLFENCE_E_SYNTAX, 1, 12, "\"*.\" names no suffix" },
  { "allow host a*.example\n", CURLFENCE_E_SYNTAX, 1, 13, "may only stand for whole labels" },
  { "allow host a.*.example\n", CURLFENCE_E_SYNTAX, 1, 14, "may only stand for whole labels" },
  { "allow host *.*.example\n", CURLFENCE_E_SYNTAX, 1, 14, "may only stand for whole labels" },
  { "allow host **.example\n", CURLFENCE_E_SYNTAX, 1, 12, "may only stand for whole labels" },
  { "allow host API.partner.example\n", CURLFENCE_E_SYNTAX, 1, 12, "\"API.partner.example\" is not in canonical form (did you mean api.partner.example?)" },
  { "allow host api.partner.example.\n", CURLFENCE_E_SYNTAX, 1, 12, "(did you mean api.partner.example?)" },
  { "allow host *.Partner.example port 443\n", CURLFENCE_E_SYNTAX, 1, 12, "(did you mean *.partner.example?)" },
  { "allow host B\xc3\xbc" "cher.example\n", CURLFENCE_E_SYNTAX, 1, 12, "(did you mean xn--bcher-kva.example?)" },
  { "allow host *.b\xc3\xbc" "cher.example\n", CURLFENCE_E_SYNTAX, 1, 12, "(did you mean *.xn--bcher-kva.example?)" },
  { "allow host a\xff.example\n", CURLFENCE_E_SYNTAX, 1, 12, "not a valid internationalised name" },
  { "allow host a..example\n", CURLFENCE_E_SYNTAX, 1, 12, "empty label" },
  { "allow host .example\n", CURLFENCE_E_SYNTAX, 1, 12, "empty label" },
  { "allow host *..example\n", CURLFENCE_E_SYNTAX, 1, 12, "empty label" },
  { "allow host -a.example\n", CURLFENCE_E_SYNTAX, 1, 12, "starts or ends with '-'" },
  { "allow host a_b.example\n", CURLFENCE_E_SYNTAX, 1, 12, "a byte other than" },
  { "allow host user@a.example\n", CURLFENCE_E_SYNTAX, 1, 12, "a byte other than" },
  { "allow host 127.0.0.1\n", CURLFENCE_E_SYNTAX, 1, 12, "\"127.0.0.1\" is an IP address" },
  { "allow host 2130706433\n", CURLFENCE_E_SYNTAX, 1, 12, "\"2130706433\" is an IP address" },
  { "allow host 0x7f.1\n", CURLFENCE_E_SYNTAX, 1, 12, "\"0x7f.1\" is an IP address" },
  { "deny host 0177.0.0.1\n", CURLFENCE_E_SYNTAX, 1, 11, "is an IP address" },
  { "deny host ::1\n", CURLFENCE_E_SYNTAX, 1, 11, "\"::1\" is an IP address" },
  { "allow host *.com\n", CURLFENCE_E_SYNTAX, 1, 12, "\"*.com\" would match every name under the public suffix \"com\"" },
  { "allow host *.co.uk port 443\n", CURLFENCE_E_SYNTAX, 1, 12, "public suffix \"co.uk\"" },
  { "\n  allow host ok.example prot 443\n", CURLFENCE_E_SYNTAX, 2, 25, "unexpected \"prot\" (expected \"to\", \"port\" or end of line)" },
  { "deny host ok.example to 10.0.0.0/8\n", CURLFENCE_E_SYNTAX, 1, 22, "\"deny host ... to\" is not a rule" },
  { "allow host ok.example to\n", CURLFENCE_E_SYNTAX, 1, 25, "missing address block after \"to\"" },
  { "allow host ok.example to 10.0.0.1/8\n", CURLFENCE_E_ADDRESS, 1, 26, "host bits set" },
  { "allow host ok.example to ci.internal\n", CURLFENCE_E_ADDRESS, 1, 26, "invalid IPv4 address" },
  { "allow host ok.example to 10.0.0.0/8 to 10.0.0.0/8\n", CURLFENCE_E_SYNTAX, 1, 37, "unexpected \"to\" (expected \"port\" or end of line)" },
  { "allow host ok.example port\n", CURLFENCE_E_PORT, 1, 27, "missing port list" },
  { "allow host ok.example port 0\n", CURLFENCE_E_PORT, 1, 28, "out of range" },
  { "allow host ok.example to 10.0.0.0/8 port 443 x\n", CURLFENCE_E_SYNTAX, 1, 46, "unexpected \"x\" (expected end of line)" },
  { "deny host ok.example port 443 x\n", CURLFENCE_E_SYNTAX, 1, 31, "unexpected \"x\" (expected end of line)" },
  { "expect deny host\n", CURLFENCE_E_SYNTAX, 1, 17, "missing name after \"expect deny host\" (expected a host name)" },
  { "expect allow host *.partner.example at 203.0.113.5\n", CURLFENCE_E_SYNTAX, 1, 19, "an expectation is about one name" },
  { "expect allow host API.partner.example at 203.0.113.5\n", CURLFENCE_E_SYNTAX, 1, 19, "(did you mean api.partner.example?)" },
  { "expect deny host 127.0.0.1 at 127.0.0.1\n", CURLFENCE_E_SYNTAX, 1, 18, "\"127.0.0.1\" is an IP address" },
  { "expect deny host a*.example at 10.0.0.1\n", CURLFENCE_E_SYNTAX, 1, 19, "may only stand for whole labels" },
  { "expect deny host a.example\n", CURLFENCE_E_SYNTAX, 1, 27, "missing \"at ADDRESS\" after the name" },
  { "expect deny host a.example on 10.0.0.1\n", CURLFENCE_E_SYNTAX, 1, 28, "unexpected \"on\" (expected \"at\")" },
  { "expect deny host a.example at\n", CURLFENCE_E_SYNTAX, 1, 30, "missing address after \"at\"" },
  { "expect deny host a.example at 10.0.0.0/8\n", CURLFENCE_E_ADDRESS, 1, 31, "one address, not a block" },
  { "expect deny host a.example at ci.internal\n", CURLFENCE_E_ADDRESS, 1, 31, "invalid IPv4 address \"ci.internal\"" },
  { "expect deny host a.example at 10.0.0.1 80\n", CURLFENCE_E_SYNTAX, 1, 40, "unexpected \"80\" (expected \"port\" or end of line)" },
  { "expect deny host a.example at 10.0.0.1 port\n", CURLFENCE_E_PORT, 1, 44, "missing port after \"port\"" },
  { "expect deny host a.example at 10.0.0.1 port 80,443\n", CURLFENCE_E_PORT, 1, 45, "invalid port \"80,443\"" },
  { "expect deny host a.example at 10.0.0.1 port 80 x\n", CURLFENCE_E_SYNTAX, 1, 48, "unexpected \"x\" (expected end of line)" },
  /* expectations with a name that the rules break: the name's rule, or
   * an address rule a name cannot open, decides otherwise */
  { "allow host api.example\nexpect deny host api.example at 203.0.113.5 port 443\n", CURLFENCE_E_EXPECT, 2, 1, "expected deny for host api.example at 203.0.113.5 port 443, but test.rules:1 (allow host api.example) decides allow" },
  { "default deny\nallow host api.example port 443\n  expect allow host api.example at 203.0.113.5\n", CURLFENCE_E_EXPECT, 3, 3, "expected allow for host api.example at 203.0.113.5 port 1 (every port), but test.rules:1 (default deny) decides deny" },
  { "deny 10.0.0.0/8\nallow host ci.internal\nexpect allow host ci.internal at 10.0.0.5 port 80\n", CURLFENCE_E_EXPECT, 3, 1, "expected allow for host ci.internal at 10.0.0.5 port 80, but test.rules:1 (deny 10.0.0.0/8) decides deny" },
  { "default allow\ndeny host *.evil.example\nexpect allow host a.evil.example at 192.0.2.1 port 443\n", CURLFENCE_E_EXPECT, 3, 1, "expected allow for host a.evil.example at 192.0.2.1 port 443, but test.rules:2 (deny host *.evil.example) decides deny" },
  { "default deny\nallow host ci.internal to 10.20.0.0/16\nexpect allow host ci.internal at 10.21.0.1 port 443\n", CURLFENCE_E_EXPECT, 3, 1, "but test.rules:1 (default deny) decides deny" },
};

TU_SUITE("rules", NULL);
TU_CASE(tc_syntax, "syntax", 0, NULL, NULL);

TU_LOOP(tc_syntax, test_rejected, 0, (int)(sizeof(bad) / sizeof(bad[0])))
{
  const bad_case *c = &bad[_i];
  curlfence_policy *p = (curlfence_policy *)1;
  curlfence_error err;
  curlfence_code rc;

  rc = curlfence_policy_load_string(&p, c->text, strlen(c->text),
                                    "test.rules", &err);
  ck_assert_msg(rc == c->code, "case %d \"%s\": code %d (%s), want %d",
                _i, c->text, rc, err.text, c->code);
  ck_assert_ptr_null(p);
  ck_assert_int_eq(err.code, c->code);
  ck_assert_str_eq(err.file, "test.rules");
  ck_assert_msg(err.line == c->line && err.column == c->column,
                "case %d \"%s\": at %u:%u, want %u:%u (%s)", _i, c->text,
                err.line, err.column, c->line, c->column, err.text);
  ck_assert_msg(strstr(err.message, c->message) != NULL,
                "case %d: message \"%s\" lacks \"%s\"", _i, err.message,
                c->message);
  {
    char want[64];
    snprintf(want, sizeof(want), "test.rules:%u:%u: ", c->line, c->column);
    ck_assert_msg(strncmp(err.text, want, strlen(want)) == 0,
                  "text \"%s\" does not start with %s", err.text, want);
  }
}
END_TEST

TU_TEST(tc_syntax, test_nul_byte)
{
  static const char text[] = "deny 10.0.0.0/8\nde\0ny 1.2.3.4\n";
  curlfence_policy *p = NULL;
  curlfence_error err;

  ck_assert_int_eq(curlfence_policy_load_string(&p, text, sizeof(text) - 1,
                                                NULL, &err),
                   CURLFENCE_E_LIMIT);
  ck_assert_ptr_null(p);
  ck_assert_uint_eq(err.line, 2);
  ck_assert_uint_eq(err.column, 3);
  ck_assert_str_eq(err.file, "<string>");
  ck_assert_ptr_nonnull(strstr(err.message, "NUL byte"));
}
END_TEST

TU_TEST(tc_syntax, test_long_line)
{
  size_t n = 4096 + 10;
  char *text = malloc(n + 32);
  curlfence_policy *p = NULL;
  curlfence_error err;

  /* Exactly 4096 bytes is fine: a comment padded to the limit. */
  memset(text, ' ', 4096);
  memcpy(text, "# pad", 5);
  text[4096] = '\n';
  ck_assert_int_eq(curlfence_policy_load_string(&p, text, 4097, NULL, &err),
                   CURLFENCE_OK);
  curlfence_policy_unref(p);
  memcpy(text, "deny 10.0.0.0/8\n", 16);
  memset(text + 16, '#', n);
  text[16 + n] = '\n';
  ck_assert_int_eq(curlfence_policy_load_string(&p, text, 17 + n, NULL, &err),
                   CURLFENCE_E_LIMIT);
  ck_assert_uint_eq(err.line, 2);
  ck_assert_uint_eq(err.column, 4097);
  ck_assert_ptr_nonnull(strstr(err.message, "longer than 4096"));
  free(text);
}
END_TEST

/* ------------------------------------------------------------ files */

static char tmpdir[64];

static void write_file(const char *name, const char *text)
{
  char path[256];

  snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
  tu_write_text(path, text);
}

static void mk_tmpdir(void)
{
  snprintf(tmpdir, sizeof(tmpdir), "/tmp/curlfence-test-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void rm_tmpdir(void)
{
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
  ck_assert_int_eq(system(cmd), 0);
}

static curlfence_code load_tmp(const char *name, curlfence_policy **p,
                               curlfence_error *err)
{
  char path[256];
  snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
  return curlfence_policy_load_file(p, path, err);
}

static void mk_sub(void)
{
  char path[256];
  snprintf(path, sizeof(path), "%s/sub", tmpdir);
  ck_assert_int_eq(mkdir(path, 0700), 0);
}

TU_CASE(tc_files, "files", 0, NULL, NULL);

TU_TEST(tc_files, test_include_ok)
{
  curlfence_policy *p = NULL;
  curlfence_error err;
  curlfence_verdict v;
  char want[256];

  mk_tmpdir();
  mk_sub();
  write_file("main.rules", "default allow\ninclude sub/extra.rules\n");
  write_file("sub/extra.rules", "deny 10.0.0.0/8\ninclude more.rules\n");
  write_file("sub/more.rules", "# nested\nallow 10.1.0.0/16 port 443\n");
  ck_assert_msg(load_tmp("main.rules", &p, &err) == CURLFENCE_OK, "%s",
                err.text);
  ck_assert_uint_eq(curlfence_policy_rule_count(p), 2);

  ck_assert_int_eq(tu_decide(p, "10.2.3.4", 443, &v), CURLFENCE_DENY);
  snprintf(want, sizeof(want), "%s/sub/extra.rules", tmpdir);
  ck_assert_str_eq(v.file, want);
  ck_assert_uint_eq(v.line, 1);
  ck_assert_str_eq(v.rule, "deny 10.0.0.0/8");

  ck_assert_int_eq(tu_decide(p, "10.1.2.3", 443, &v), CURLFENCE_ALLOW);
  snprintf(want, sizeof(want), "%s/sub/more.rules", tmpdir);
  ck_assert_str_eq(v.file, want);
  ck_assert_uint_eq(v.line, 2);
  ck_assert_str_eq(v.rule, "allow 10.1.0.0/16 port 443");

  ck_assert_int_eq(tu_decide(p, "192.0.2.1", 80, &v), CURLFENCE_ALLOW);
  ck_assert_int_eq(v.is_default, 1);
  snprintf(want, sizeof(want), "%s/main.rules", tmpdir);
  ck_assert_str_eq(v.file, want);
  ck_assert_uint_eq(v.line, 1);
  curlfence_policy_unref(p);
  rm_tmpdir();
}
END_TEST

/* Each broken tree: which file, line and column the error names. */
static void expect_file_error(const char *top, curlfence_code code,
                              const char *file, unsigned line, unsigned col,
                              const char *msg)
{
  curlfence_policy *p = (curlfence_policy *)1;
  curlfence_error err;
  char want[256];

  ck_assert_int_eq(load_tmp(top, &p, &err), code);
  ck_assert_ptr_null(p);
  snprintf(want, sizeof(want), "%s/%s", tmpdir, file);
  ck_assert_str_eq(err.file, want);
  ck_assert_uint_eq(err.line, line);
  ck_assert_uint_eq(err.column, col);
  ck_assert_msg(strstr(err.message, msg), "\"%s\" lacks \"%s\"", err.message,
                msg);
}

/* Errors of a file and what it includes: the top file and its text, the
 * included one's (if any), and where the error is reported. */
static const struct {
  const char *top, *top_text, *inc, *inc_text;
  curlfence_code code;
  const char *file;
  unsigned line, col;
  const char *msg;
} include_errors[] = {
  { "a.rules", "deny 10.0.0.0/8\ninclude b.rules\n",
    "b.rules", "\n\ninclude   a.rules\n",
    CURLFENCE_E_INCLUDE, "b.rules", 3, 11, "include cycle" },
  { "self.rules", "include self.rules\n", NULL, NULL,
    CURLFENCE_E_INCLUDE, "self.rules", 1, 9, "include cycle" },
  { "missing.rules", "default deny\ninclude nothere.rules\n", NULL, NULL,
    CURLFENCE_E_IO, "missing.rules", 2, 9, "No such file" },
  { "dir.rules", "include sub\n", NULL, NULL,
    CURLFENCE_E_IO, "dir.rules", 1, 9, "not a regular file" },
  /* An error inside an included file names that file. */
  { "outer.rules", "include sub/bad.rules\n",
    "sub/bad.rules", "allow 1.2.3.4\ndeny 1.2.3.4/33\n",
    CURLFENCE_E_ADDRESS, "sub/bad.rules", 2, 14, "IPv4 allows 0-32" },
  /* A duplicate default across files is still a duplicate. */
  { "d1.rules", "default allow\ninclude d2.rules\n",
    "d2.rules", "default deny\n",
    CURLFENCE_E_DUPLICATE, "d2.rules", 1, 1, "duplicate \"default\"" },
};

TU_TEST(tc_files, test_include_errors)
{
  size_t i;

  mk_tmpdir();
  mk_sub();
  for(i = 0; i < sizeof(include_errors) / sizeof(include_errors[0]); i++) {
    write_file(include_errors[i].top, include_errors[i].top_text);
    if(include_errors[i].inc)
      write_file(include_errors[i].inc, include_errors[i].inc_text);
    expect_file_error(include_errors[i].top, include_errors[i].code,
                      include_errors[i].file, include_errors[i].line,
                      include_errors[i].col, include_errors[i].msg);
  }
  rm_tmpdir();
}
END_TEST

TU_TEST(tc_files, test_top_level_file_errors)
{
  curlfence_policy *p = (curlfence_policy *)1;
  curlfence_error err;

  mk_tmpdir();
  mk_sub();
  ck_assert_int_eq(load_tmp("absent.rules", &p, &err), CURLFENCE_E_IO);
  ck_assert_ptr_null(p);
  ck_assert_uint_eq(err.line, 0);
  ck_assert_ptr_nonnull(strstr(err.text, "absent.rules: cannot open"));
  p = (curlfence_policy *)1;
  ck_assert_int_eq(load_tmp("sub", &p, &err), CURLFENCE_E_IO);
  ck_assert_ptr_null(p);
  ck_assert_ptr_nonnull(strstr(err.message, "not a regular file"));
  ck_assert_int_eq(curlfence_policy_load_file(&p, "/dev/null", &err),
                   CURLFENCE_E_IO);
  ck_assert_int_eq(curlfence_policy_load_file(NULL, "x", &err),
                   CURLFENCE_E_INVAL);
  ck_assert_int_eq(curlfence_policy_load_file(&p, NULL, &err),
                   CURLFENCE_E_INVAL);
  rm_tmpdir();
}
END_TEST

/* Expectations that hold load; those of an included file are not this
 * policy's promises and are not checked. */
TU_TEST(tc_files, test_expect_holds)
{
  curlfence_policy *p = NULL;
  curlfence_error err;

  p = tu_load("default allow\n"
              "deny 10.0.0.0/8\n"
              "allow 10.1.2.3 port 443\n"
              "nat64 64:ff9b::/96\n"
              "expect deny 10.0.0.1\n"
              "expect allow 10.1.2.3 port 443\n"
              "expect deny 10.1.2.3 port 442\n"
              "expect deny ::ffff:10.9.9.9 port 80\n"
              "expect deny 64:ff9b::a00:1\n"
              "expect allow 192.0.2.1\n");
  curlfence_policy_unref(p);

  mk_tmpdir();
  write_file("main.rules", "include base.rules\nallow 10.1.0.0/16\n"
                           "expect allow 10.1.0.1\n");
  write_file("base.rules", "default allow\ndeny 10.0.0.0/8\n"
                           "expect deny 10.1.0.1\n");
  ck_assert_msg(load_tmp("main.rules", &p, &err) == CURLFENCE_OK, "%s",
                err.text);
  curlfence_policy_unref(p);
  /* loaded on its own, the included file's promise is checked */
  ck_assert_int_eq(load_tmp("base.rules", &p, &err), CURLFENCE_OK);
  curlfence_policy_unref(p);
  write_file("main.rules", "include base.rules\nallow 10.1.0.0/16\n"
                           "expect deny 10.1.0.1 port 22\n");
  ck_assert_int_eq(load_tmp("main.rules", &p, &err), CURLFENCE_E_EXPECT);
  ck_assert_ptr_null(p);
  ck_assert_uint_eq(err.line, 3);
  ck_assert_msg(strstr(err.message, "base.rules") == NULL &&
                strstr(err.message, "main.rules:2 (allow 10.1.0.0/16)"),
                "%s", err.text);
  rm_tmpdir();
}
END_TEST

TU_TEST(tc_syntax, test_accepted_forms)
{
  static const char text[] =
      "# every accepted spelling\r\n"
      "default deny   \r\n"
      "  allow 0.0.0.0/0 port 443\n"
      "allow ::/0 port 443\t# comment after a rule\n"
      "deny 192.0.2.7\n"
      "allow 2001:DB8::/32\n"
      "allow ::ffff:198.51.100.0/120 port 80,8000-8080,9000\n"
      "unix allow\n"
      "\n"
      "deny 255.255.255.255/32";  /* no final newline */
  curlfence_policy *p = tu_load(text);
  curlfence_verdict v;

  ck_assert_uint_eq(curlfence_policy_rule_count(p), 6);
  ck_assert_int_eq(tu_decide(p, "198.51.100.9", 8080, &v), CURLFENCE_ALLOW);
  ck_assert_str_eq(v.rule, "allow ::ffff:198.51.100.0/120 port 80,8000-8080,9000");
  ck_assert_uint_eq(v.line, 7);
  ck_assert_int_eq(tu_decide(p, "198.51.100.9", 8081, &v), CURLFENCE_DENY);
  ck_assert_int_eq(v.is_default, 1);
  ck_assert_str_eq(v.rule, "default deny");
  ck_assert_int_eq(tu_decide(p, "2001:db8::1", 22, &v), CURLFENCE_ALLOW);
  ck_assert_str_eq(v.rule, "allow 2001:DB8::/32");
  ck_assert_int_eq(tu_decide(p, "255.255.255.255", 443, &v), CURLFENCE_DENY);
  ck_assert_uint_eq(v.line, 10);
  curlfence_policy_unref(p);
}
END_TEST

TU_TEST(tc_syntax, test_empty_policy)
{
  curlfence_policy *p = NULL;
  curlfence_error err;
  curlfence_verdict v;

  ck_assert_int_eq(curlfence_policy_load_string(&p, "", 0, NULL, &err),
                   CURLFENCE_OK);
  ck_assert_int_eq(tu_decide(p, "8.8.8.8", 53, &v), CURLFENCE_DENY);
  ck_assert_int_eq(v.is_default, 1);
  ck_assert_ptr_null(v.file);
  ck_assert_str_eq(v.reason, "default");
  curlfence_policy_unref(p);
}
END_TEST

TU_TEST(tc_syntax, test_strerror)
{
  int c;

  for(c = 0; c < CURLFENCE_E_LAST; c++) {
    const char *s = curlfence_strerror((curlfence_code)c);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_ne(s, "unknown error code");
  }
  ck_assert_str_eq(curlfence_strerror(CURLFENCE_E_LAST), "unknown error code");
  ck_assert_str_eq(curlfence_strerror((curlfence_code)-1),
                   "unknown error code");
  ck_assert_str_eq(curlfence_version(), CURLFENCE_VERSION);
}
END_TEST


/* ------------------------------------------------- hostile and odd files */


TU_CASE(tc_hostile, "hostile", 60, NULL, NULL);

/* The first offending byte is reported: a NUL before column 4097 is a NUL,
 * not a line too long. */
TU_TEST(tc_hostile, test_nul_before_long_line)
{
  size_t n = 8192;
  char *text = calloc(1, n);
  curlfence_policy *p = NULL;
  curlfence_error err;

  ck_assert_ptr_nonnull(text);
  ck_assert_int_eq(curlfence_policy_load_string(&p, text, n, NULL, &err),
                   CURLFENCE_E_LIMIT);
  ck_assert_uint_eq(err.line, 1);
  ck_assert_uint_eq(err.column, 1);
  ck_assert_ptr_nonnull(strstr(err.message, "NUL byte"));

  memset(text, '#', n);
  memcpy(text, "\n\n", 2);
  text[2 + 9] = '\0';
  ck_assert_int_eq(curlfence_policy_load_string(&p, text, n, NULL, &err),
                   CURLFENCE_E_LIMIT);
  ck_assert_uint_eq(err.line, 3);
  ck_assert_uint_eq(err.column, 10);
  ck_assert_ptr_nonnull(strstr(err.message, "NUL byte"));

  text[2 + 9] = '#';
  text[2 + 4096] = '\0';      /* column 4097: the line is too long first */
  ck_assert_int_eq(curlfence_policy_load_string(&p, text, n, NULL, &err),
                   CURLFENCE_E_LIMIT);
  ck_assert_uint_eq(err.line, 3);
  ck_assert_uint_eq(err.column, 4097);
  ck_assert_ptr_nonnull(strstr(err.message, "longer than 4096"));
  ck_assert_ptr_null(p);
  free(text);
}
END_TEST

/* A deleted file still open can be named /proc/self/fd/N but has no real
 * path: the error says so, not "out of memory". */
TU_TEST(tc_hostile, test_realpath_failure)
{
  curlfence_policy *p = NULL;
  curlfence_error err;
  char path[256], name[64], inc[128];
  int fd;

  mk_tmpdir();
  write_file("gone.rules", "deny 10.0.0.0/8\n");
  snprintf(path, sizeof(path), "%s/gone.rules", tmpdir);
  fd = open(path, O_RDONLY);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(unlink(path), 0);
  snprintf(name, sizeof(name), "/proc/self/fd/%d", fd);
  ck_assert_int_eq(curlfence_policy_load_file(&p, name, &err),
                   CURLFENCE_E_IO);
  ck_assert_ptr_null(p);
  ck_assert_str_eq(err.file, name);
  ck_assert_msg(strstr(err.message, "cannot resolve the real path") &&
                strstr(err.message, strerror(ENOENT)), "%s", err.text);

  snprintf(inc, sizeof(inc), "default deny\ninclude %s\n", name);
  write_file("top.rules", inc);
  expect_file_error("top.rules", CURLFENCE_E_IO, "top.rules", 2, 9,
                    strerror(ENOENT));
  close(fd);
  rm_tmpdir();
}
END_TEST

/* Files in /proc say they are empty (st_size 0) and are not: they are read
 * to end of file.  The thread's name is a /proc file whose text we choose;
 * its deny rule used to vanish inside a default allow policy. */
TU_TEST(tc_hostile, test_size_zero_file_with_content)
{
  curlfence_policy *p = NULL;
  curlfence_error err;
  curlfence_verdict v;
  char old[32] = "", comm[64];
  struct stat st;

  snprintf(comm, sizeof(comm), "/proc/self/task/%ld/comm",
           (long)gettid());
  ck_assert_int_eq(stat(comm, &st), 0);
  ck_assert_int_eq((int)st.st_size, 0);
  ck_assert_int_eq(prctl(PR_GET_NAME, old), 0);
  ck_assert_int_eq(prctl(PR_SET_NAME, "deny 8.8.8.8"), 0);
  mk_tmpdir();
  {
    char text[128];
    snprintf(text, sizeof(text), "default allow\ninclude %s\n", comm);
    write_file("top.rules", text);
  }
  ck_assert_msg(load_tmp("top.rules", &p, &err) == CURLFENCE_OK, "%s",
                err.text);
  prctl(PR_SET_NAME, old);
  ck_assert_uint_eq(curlfence_policy_rule_count(p), 1);
  ck_assert_int_eq(tu_decide(p, "8.8.8.8", 53, &v), CURLFENCE_DENY);
  ck_assert_str_eq(v.file, comm);
  ck_assert_uint_eq(v.line, 1);
  ck_assert_int_eq(tu_decide(p, "8.8.4.4", 53, &v), CURLFENCE_ALLOW);
  curlfence_policy_unref(p);

  /* Longer than the first buffer: every line of it is read (the first is
   * not a rule). */
  ck_assert_int_eq(curlfence_policy_load_file(&p, "/proc/self/maps", &err),
                   CURLFENCE_E_SYNTAX);
  ck_assert_uint_eq(err.line, 1);
  rm_tmpdir();
}
END_TEST

/* Includes are counted each time they are read; the one that crosses the
 * limit is named. */
TU_TEST(tc_hostile, test_include_limits)
{
  curlfence_policy *p = NULL;
  curlfence_error err;
  char *text, name[32];
  size_t i, off = 0;
  int level;

  mk_tmpdir();
  write_file("leaf.rules", "allow 192.0.2.0/24\n");
  text = malloc(4200 * 32);
  ck_assert_ptr_nonnull(text);
  for(i = 0; i < 4095; i++)
    off += (size_t)sprintf(text + off, "include leaf.rules\n");
  write_file("flat.rules", text);
  ck_assert_msg(load_tmp("flat.rules", &p, &err) == CURLFENCE_OK, "%s",
                err.text);
  ck_assert_uint_eq(curlfence_policy_rule_count(p), 4095);
  curlfence_policy_unref(p);
  p = NULL;
  sprintf(text + off, "# 4096 files so far\n  include leaf.rules\n");
  write_file("flat.rules", text);
  expect_file_error("flat.rules", CURLFENCE_E_LIMIT, "flat.rules", 4097, 11,
                    "file number 4097 read in one load (at most 4096");

  /* Seven levels, each including the next ten times: 10^6 reads before. */
  for(level = 0; level < 7; level++) {
    off = 0;
    for(i = 0; i < 10; i++)
      off += (size_t)sprintf(text + off, level < 6 ? "include x%d.rules\n"
                                                   : "deny 10.%d.0.0/16\n",
                             level < 6 ? level + 1 : (int)i);
    snprintf(name, sizeof(name), "x%d.rules", level);
    write_file(name, text);
  }
  ck_assert_int_eq(load_tmp("x0.rules", &p, &err), CURLFENCE_E_LIMIT);
  ck_assert_ptr_null(p);
  ck_assert_ptr_nonnull(strstr(err.message, "at most 4096"));
  ck_assert_uint_gt(err.line, 0);
  free(text);
  rm_tmpdir();
}
END_TEST

/* The bytes read in one load are capped at 1 GiB, the text given to the
 * loader counted: a string just short of 1 GiB leaves room for a file of
 * 19 bytes and not one more.  The string is anonymous memory never
 * written past its first page, so it costs no memory (the zero page). */
TU_TEST(tc_hostile, test_load_byte_limit)
{
  const size_t gib = (size_t)1 << 30, leaf = 19;
  curlfence_policy *p = NULL;
  curlfence_error err;
  char line[256], *text;
  int n;

  if(tu_quick())        /* scanning 1 GiB is minutes under valgrind */
    return;
  mk_tmpdir();
  write_file("leaf.rules", "allow 192.0.2.0/24\n");
  text = mmap(NULL, gib, PROT_READ | PROT_WRITE,
              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  ck_assert_ptr_ne(text, MAP_FAILED);
  n = snprintf(line, sizeof(line), "include %s/leaf.rules\n", tmpdir);
  memcpy(text, line, (size_t)n);

  /* Room for exactly the leaf: it is read, and line 2 is the NULs. */
  ck_assert_int_eq(curlfence_policy_load_string(&p, text, gib - leaf, NULL,
                                                &err), CURLFENCE_E_LIMIT);
  ck_assert_msg(err.line == 2 && err.column == 1 &&
                strstr(err.message, "NUL byte"), "%s", err.text);
  /* One byte less: the include is the error. */
  ck_assert_int_eq(curlfence_policy_load_string(&p, text, gib - leaf + 1,
                                                NULL, &err),
                   CURLFENCE_E_LIMIT);
  ck_assert_ptr_null(p);
  ck_assert_str_eq(err.file, "<string>");
  ck_assert_uint_eq(err.line, 1);
  ck_assert_uint_eq(err.column, 9);
  ck_assert_msg(strstr(err.message, "would bring the rules read in one load "
                       "over 1 GiB"), "%s", err.text);
  munmap(text, gib);
  rm_tmpdir();
}
END_TEST

/* Messages show every byte: control bytes and bytes above 127 escaped,
 * and a byte order mark named. */
TU_TEST(tc_hostile, test_escaped_messages)
{
  static const struct {
    const char *text, *message;
    curlfence_code code;
    unsigned column;
  } c[] = {
    { "allow\rdeny 1.2.3.4\n",
      "unexpected \"allow\\rdeny\" (expected", CURLFENCE_E_SYNTAX, 1 },
    { "deny 1.2.3.4 \xff\n", "unexpected \"\\xff\"", CURLFENCE_E_SYNTAX,
      14 },
    { "deny 1.2.3.\x1b\n", "invalid IPv4 address \"1.2.3.\\x1b\"",
      CURLFENCE_E_ADDRESS, 6 },
    { "deny 1.2.3.4 port 8\t0\\\n", "unexpected \"0\\\\\"",
      CURLFENCE_E_SYNTAX, 21 },
    { "\xef\xbb\xbf" "deny 1.2.3.4\n",
      "file starts with a UTF-8 byte order mark", CURLFENCE_E_SYNTAX, 1 },
  };
  curlfence_policy *p = NULL;
  curlfence_error err;
  const char *s;
  size_t i;

  for(i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
    ck_assert_int_eq(curlfence_policy_load_string(&p, c[i].text,
                                                  strlen(c[i].text), NULL,
                                                  &err), c[i].code);
    ck_assert_msg(strstr(err.message, c[i].message), "case %zu: %s", i,
                  err.message);
    ck_assert_uint_eq(err.column, c[i].column);
    for(s = err.text; *s; s++)
      ck_assert_msg(*s >= 0x20 && *s < 0x7f, "case %zu: raw byte in %s", i,
                    err.text);
  }

  /* File names too, in the text; err.file keeps the name as given. */
  mk_tmpdir();
  write_file("esc.rules", "include \x1b]0;x\x07\xc3\xa9.rules\n");
  ck_assert_int_eq(load_tmp("esc.rules", &p, &err), CURLFENCE_E_IO);
  ck_assert_ptr_nonnull(strstr(err.message,
                               "/\\x1b]0;x\\x07\\xc3\\xa9.rules\": No such file"));
  ck_assert_int_eq(curlfence_policy_load_file(&p, "/nonexistent/a\rb\n",
                                              &err), CURLFENCE_E_IO);
  ck_assert_str_eq(err.file, "/nonexistent/a\rb\n");
  ck_assert_msg(strncmp(err.text, "/nonexistent/a\\rb\\n: cannot open", 32) == 0,
                "%s", err.text);
  rm_tmpdir();
}
END_TEST
