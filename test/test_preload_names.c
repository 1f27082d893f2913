/* SPDX-License-Identifier: MIT */
/*
 * Host rules end to end through the preload library: curl, PHP and pycurl
 * under `curlfence run` against the preload fixture's two loopback
 * servers, "allowed" on 127.0.0.2 and "denied" on 127.0.0.3, one port.
 * Every name is pinned with --resolve / CURLOPT_RESOLVE: nothing is looked
 * up.  The rules of this suite allow neither server by address; only
 * "allow host a.example" reaches the first.
 * Then the program's own sockets named by its own lookups, in a mount and
 * network namespace whose /etc/hosts answers (test/preload_names.sh).
 */
#include "preload_fixture.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char names[PATH_MAX + 16];      /* default deny + allow host */
static char scoped[PATH_MAX + 16];     /* never-reach + allow host ... to */
static char audit[PATH_MAX + 16];

/* The preload fixture, and this suite's own rules next to its. */
static void names_setup(void)
{
  char text[PATH_MAX + 256], never[PATH_MAX];

  setup();
  snprintf(names, sizeof(names), "%s/names.rules", tmp);
  snprintf(text, sizeof(text), "default deny\nallow host a.example port %u\n",
           port);
  tu_write_text(names, text);
  ck_assert_ptr_nonnull(realpath("rules/never-reach.rules", never));
  snprintf(scoped, sizeof(scoped), "%s/scoped.rules", tmp);
  snprintf(text, sizeof(text), "default deny\ninclude %s\n"
           "allow host a.example to 127.0.0.2/32 port %u\n", never, port);
  tu_write_text(scoped, text);
  snprintf(audit, sizeof(audit), "%s/audit.jsonl", tmp);
}

/* One program under `curlfence run -r RULES --audit AUDIT`.  In argv,
 * @P stands for the port, @T for the tool, @R for the rules (the scoped
 * ones when the row says so), @A for the audit file.  Server counts are
 * REQUESTS(n). */
typedef struct names_row {
  const char *name;
  int scoped;
  const char *argv[20];
  int status;
  const char *out;
  const char *audit_has;
  unsigned allowed, denied;
} names_row;

#define RUN "@T", "run", "-r", "@R", "--audit", "@A", "--"
#define CURL RUN, "curl", "-sS", "--resolve", "a.example:@P:127.0.0.2", \
             "--resolve", "b.example:@P:127.0.0.2"
#define PYCURL(url) RUN, "/usr/bin/python3", "-c",                          \
  "import io, pycurl\n"                                                     \
  "c = pycurl.Curl()\n"                                                     \
  "b = io.BytesIO()\n"                                                      \
  "c.setopt(c.URL, '" url "')\n"                                            \
  "c.setopt(c.RESOLVE, ['a.example:@P:127.0.0.2', "                         \
  "'a.example.:@P:127.0.0.2', 'b.example:@P:127.0.0.2'])\n"                 \
  "c.setopt(c.WRITEDATA, b)\n"                                              \
  "try:\n"                                                                  \
  "    c.perform()\n"                                                       \
  "    print('ok', b.getvalue().decode().strip())\n"                        \
  "except pycurl.error as e:\n"                                             \
  "    print('error', e.args[0])\n"
#define PHP(url) RUN, "php", "-r",                                          \
  "$c = curl_init('" url "');"                                              \
  " curl_setopt($c, CURLOPT_RETURNTRANSFER, true);"                         \
  " curl_setopt($c, CURLOPT_RESOLVE,"                                       \
  " ['a.example:@P:127.0.0.2', 'a.example.:@P:127.0.0.2',"                  \
  " 'b.example:@P:127.0.0.2']);"                                            \
  " $b = curl_exec($c);"                                                    \
  " echo curl_errno($c), ' ', $b === false ? \"-\\n\" : $b;"

static const names_row rows[] = {
  { .name = "curl_allowed_name_reaches_the_server",
    .argv = { CURL, "http://a.example:@P/x" },
    .status = 0, .out = "hello from allowed\n",
    .audit_has = "\"decision\":\"allow\"",
    .allowed = REQUESTS(1) },
  { .name = "curl_other_name_same_address_is_refused",
    .argv = { CURL, "http://b.example:@P/x" },
    .status = 7, .out = "", .audit_has = "\"host\":\"b.example\"",
    .allowed = REQUESTS(0) },
  { .name = "curl_ip_literal_is_refused",
    .argv = { CURL, "http://127.0.0.2:@P/x" },
    .status = 7, .out = "", .audit_has = "\"host\":null",
    .allowed = REQUESTS(0) },
  /* The second hop's name decides, on the same address as the first. */
  { .name = "curl_redirect_to_other_name_stops",
    .argv = { CURL, "-L",
              "http://a.example:@P/redirect?to=http://b.example:@P/y" },
    .status = 7, .out = "",
    .audit_has = "\"host\":\"b.example\",\"url\":\"http://b.example:@P/y\"",
    .allowed = REQUESTS(1), .denied = REQUESTS(0) },
  /* ... and on the second server. */
  { .name = "curl_redirect_to_second_server_stops",
    .argv = { RUN, "curl", "-sS", "--resolve", "a.example:@P:127.0.0.2",
              "--resolve", "b.example:@P:127.0.0.3", "-L",
              "http://a.example:@P/redirect?to=http://b.example:@P/y" },
    .status = 7, .out = "",
    .allowed = REQUESTS(1), .denied = REQUESTS(0) },
  { .name = "curl_userinfo_names_no_host",
    .argv = { CURL, "http://a.example@b.example:@P/x" },
    .status = 7, .out = "", .audit_has = "\"host\":\"b.example\"",
    .allowed = REQUESTS(0) },
  { .name = "curl_upper_case_and_trailing_dot_decide_as_canonical",
    .argv = { RUN, "curl", "-sS", "--resolve", "A.EXAMPLE.:@P:127.0.0.2",
              "http://A.EXAMPLE.:@P/x" },
    .status = 0, .out = "hello from allowed\n",
    .audit_has = "\"host\":\"a.example\",\"url\":\"http://a.example:@P/x\"",
    .allowed = REQUESTS(1) },
  /* The never-reach list denies loopback: only the scoped exemption
   * opens 127.0.0.2, and only for a.example. */
  { .name = "curl_scoped_allowed_name_reaches_the_server", .scoped = 1,
    .argv = { CURL, "http://a.example:@P/x" },
    .status = 0, .out = "hello from allowed\n", .allowed = REQUESTS(1) },
  { .name = "curl_scoped_other_name_is_refused", .scoped = 1,
    .argv = { CURL, "http://b.example:@P/x" },
    .status = 7, .out = "", .allowed = REQUESTS(0) },
  { .name = "curl_scoped_exemption_is_only_for_its_prefix", .scoped = 1,
    .argv = { RUN, "curl", "-sS", "--resolve", "a.example:@P:127.0.0.3",
              "http://a.example:@P/x" },
    .status = 7, .out = "", .denied = REQUESTS(0) },
  { .name = "php_allowed_name_reaches_the_server",
    .argv = { PHP("http://A.Example.:@P/x") },
    .status = 0, .out = "0 hello from allowed\n",
    .audit_has = "\"host\":\"a.example\",\"url\":\"http://a.example:@P/x\","
                 "\"program\":\"php",
    .allowed = REQUESTS(1) },
  { .name = "php_other_name_is_refused",
    .argv = { PHP("http://a.example@b.example:@P/x") },
    .status = 0, .out = "7 -\n", .audit_has = "\"host\":\"b.example\"",
    .allowed = REQUESTS(0) },
  { .name = "php_ip_literal_is_refused",
    .argv = { PHP("http://127.0.0.2:@P/x") },
    .status = 0, .out = "7 -\n", .allowed = REQUESTS(0) },
  { .name = "pycurl_allowed_name_reaches_the_server",
    .argv = { PYCURL("http://a.example.:@P/x") },
    .status = 0, .out = "ok hello from allowed\n",
    .audit_has = "\"host\":\"a.example\",\"url\":\"http://a.example:@P/x\","
                 "\"program\":\"python3",
    .allowed = REQUESTS(1) },
  { .name = "pycurl_other_name_is_refused",
    .argv = { PYCURL("http://B.example:@P/x") },
    .status = 0, .out = "error 7\n", .audit_has = "\"host\":\"b.example\"",
    .allowed = REQUESTS(0) },
  { .name = "pycurl_ip_literal_is_refused",
    .argv = { PYCURL("http://127.0.0.2:@P/x") },
    .status = 0, .out = "error 7\n", .allowed = REQUESTS(0) },
};

TU_SUITE_STATIC_ONLY("preload-names", NULL);
TU_CASE(tc_names, "names", 120, names_setup, teardown);

TU_LOOP(tc_names, host_rules_through_programs, 0,
        (int)(sizeof(rows) / sizeof(rows[0])))
{
  const names_row *row = &rows[_i];
  static char words[20][PATH_MAX + 1024];
  const char *argv[21] = { NULL };
  char p[16], log[OUT_MAX], want[1024];
  const char *const values[] = { p, tool, row->scoped ? scoped : names,
                                 audit };
  size_t i;

  snprintf(p, sizeof(p), "%u", port);
  for(i = 0; i < 20 && row->argv[i]; i++)
    argv[i] = expand(words[i], sizeof(words[0]), row->argv[i], "PTRA",
                     values);
  guarded(res, NULL, argv);
  ck_assert_msg(res->status == row->status, ROW_SAYS(row, res));
  if(row->out)
    ck_assert_msg(!strcmp(res->out, row->out), ROW_SAYS(row, res));
  if(row->audit_has) {
    read_file(audit, log, sizeof(log));
    expand(want, sizeof(want), row->audit_has, "PTRA", values);
    ck_assert_msg(strstr(log, want) != NULL, "%s: no %s in %s", row->name,
                  want, log);
  }
  requests_are(row->name, "allowed", allowed, row->allowed);
  requests_are(row->name, "denied", denied, row->denied);
}
END_TEST

/* The program's own sockets, named by its own lookups, in a mount and
 * network namespace of its own (test/preload_names.sh): a.example and
 * b.example are both 127.0.0.2 in its /etc/hosts, and only a.example is
 * allowed. */
TU_TEST(tc_names, own_lookups_name_own_sockets)
{
  char dir[PATH_MAX + 16], ns_rules[PATH_MAX + 32], ns_audit[PATH_MAX + 32];
  char log[OUT_MAX];
  const char *argv[] = { "unshare", "-m", "-n", "sh",
                         "test/preload_names.sh", tool, ns_rules, dir,
                         "8080", ns_audit, NULL };

  if(!namespace_dir(dir, sizeof(dir), "ns", "own_lookups_name_own_sockets"))
    return;
  snprintf(ns_rules, sizeof(ns_rules), "%s/ns.rules", dir);
  snprintf(ns_audit, sizeof(ns_audit), "%s/ns.jsonl", dir);
  tu_write_text(ns_rules, "default deny\nallow host a.example port 8080\n");
  run(res, NULL, argv);
  ck_assert_msg(res->status == 0 &&
                !strcmp(res->out, "a ok\nb EPERM\nliteral EPERM\nboth EPERM\n"
                                  "ghbn ok\nudp ok\nconnections 2\n"),
                "(unshare needs root) " SAYS(res));
  read_file(ns_audit, log, sizeof(log));
  ck_assert_msg(strstr(log, "\"decision\":\"allow\",\"enforced\":true,"
                            "\"addr\":\"127.0.0.2\"") &&
                strstr(log, "\"check\":\"connect\"") &&
                strstr(log, "\"reason\":\"host\"") &&
                strstr(log, "\"host\":\"a.example\",\"url\":null") &&
                strstr(log, "\"host\":\"b.example\",\"url\":null") &&
                strstr(log, "\"check\":\"sendto\""),
                "audit: %s", log);
}
END_TEST
