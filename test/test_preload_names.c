/* SPDX-License-Identifier: MIT */
/*
 * Host rules end to end through the preload library: curl, PHP and pycurl
 * under `curlfence run` against two loopback servers, "first" on
 * 127.0.0.2 and "second" on 127.0.0.3, one port.  Every name is pinned
 * with --resolve / CURLOPT_RESOLVE: nothing is looked up.  No address rule
 * allows either server; only "allow host a.example" reaches the first.
 * Then the program's own sockets named by its own lookups, in a mount and
 * network namespace whose /etc/hosts answers (test/preload_names.sh).
 */
#include "testutil.h"
#include "httpd.h"

#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define OUT_MAX 16384

static th_server *first, *second;
static unsigned port;
static char tmp[PATH_MAX];
static char rules[PATH_MAX + 16];      /* default deny + allow host */
static char scoped[PATH_MAX + 16];     /* never-reach + allow host ... to */
static char audit[PATH_MAX + 16];
static char tool[PATH_MAX + 32];
static char preload[PATH_MAX + 64];

typedef struct result {
  int status;
  char out[OUT_MAX];
  char err[OUT_MAX];
} result;

static void slurp(const char *path, char *buf, size_t size)
{
  FILE *f = fopen(path, "r");
  size_t n = 0;

  if(f) {
    n = fread(buf, 1, size - 1, f);
    fclose(f);
  }
  buf[n] = '\0';
}

/* argv with our environment minus proxies and curlfence settings, plus
 * this build's preload library; stdin from /dev/null. */
static void run(result *r, const char *const *argv)
{
  static const char *const drop[] = {
    "http_proxy=", "HTTP_PROXY=", "https_proxy=", "HTTPS_PROXY=",
    "all_proxy=", "ALL_PROXY=", "no_proxy=", "NO_PROXY=", "CURLFENCE_",
    "LD_PRELOAD=", NULL
  };
  char out[PATH_MAX + 16], err[PATH_MAX + 16], **env;
  posix_spawn_file_actions_t fa;
  size_t n = 0, i, d;
  pid_t pid;
  int st, rc;

  while(environ[n])
    n++;
  env = calloc(n + 2, sizeof(*env));
  ck_assert_ptr_nonnull(env);
  for(n = 0, i = 0; environ[i]; i++) {
    for(d = 0; drop[d] && strncmp(environ[i], drop[d], strlen(drop[d])); d++)
      ;
    if(!drop[d])
      env[n++] = environ[i];
  }
  env[n] = preload;
  snprintf(out, sizeof(out), "%s/stdout", tmp);
  snprintf(err, sizeof(err), "%s/stderr", tmp);
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out,
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err,
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, env);
  posix_spawn_file_actions_destroy(&fa);
  free(env);
  ck_assert_msg(rc == 0, "cannot start %s", argv[0]);
  ck_assert_int_eq(waitpid(pid, &st, 0), pid);
  r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  slurp(out, r->out, sizeof(r->out));
  slurp(err, r->err, sizeof(r->err));
}

static void setup(void)
{
  char self[PATH_MAX], text[PATH_MAX + 256], *slash;
  ssize_t n;

  snprintf(tmp, sizeof(tmp), "/tmp/curlfence-names-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(tmp));
  ck_assert_int_eq(th_start_pair("127.0.0.2", "first", &first,
                                 "127.0.0.3", "second", &second), 0);
  port = th_port(first);
  snprintf(rules, sizeof(rules), "%s/names.rules", tmp);
  snprintf(text, sizeof(text), "default deny\nallow host a.example port %u\n",
           port);
  tu_write_text(rules, text);
  ck_assert_ptr_nonnull(realpath("rules/never-reach.rules", self));
  snprintf(scoped, sizeof(scoped), "%s/scoped.rules", tmp);
  snprintf(text, sizeof(text), "default deny\ninclude %s\n"
           "allow host a.example to 127.0.0.2/32 port %u\n", self, port);
  tu_write_text(scoped, text);
  snprintf(audit, sizeof(audit), "%s/audit.jsonl", tmp);
  /* BUILD/test/check_curlfence -> BUILD/libcurlfence-preload.so */
  n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  ck_assert_int_gt(n, 0);
  self[n] = '\0';
  slash = strrchr(self, '/');
  *slash = '\0';
  snprintf(preload, sizeof(preload),
           "CURLFENCE_PRELOAD=%s/../libcurlfence-preload.so", self);
  snprintf(tool, sizeof(tool), "%s/../tools/curlfence", self);
  ck_assert_msg(access(preload + 18, R_OK) == 0, "no %s (make)",
                preload + 18);
}

static void teardown(void)
{
  const char *argv[] = { "rm", "-rf", tmp, NULL };
  result *r = malloc(sizeof(*r));

  th_stop(first);
  th_stop(second);
  first = second = NULL;
  if(r)
    run(r, argv);
  free(r);
}

/* One program under `curlfence run -r RULES --audit AUDIT`.  In argv,
 * @P stands for the port, @T for the tool, @R for the rules (the scoped
 * ones when the row says so), @A for the audit file.  Server counts are
 * REQUESTS(n), 0 for "not asserted". */
typedef struct names_row {
  const char *name;
  int scoped;
  const char *argv[20];
  int status;
  const char *out;
  const char *audit_has;
  unsigned first, second;
} names_row;

#define REQUESTS(n) ((n) + 1)

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
    .status = 0, .out = "hello from first\n",
    .audit_has = "\"decision\":\"allow\"",
    .first = REQUESTS(1) },
  { .name = "curl_other_name_same_address_is_refused",
    .argv = { CURL, "http://b.example:@P/x" },
    .status = 7, .out = "", .audit_has = "\"host\":\"b.example\"",
    .first = REQUESTS(0) },
  { .name = "curl_ip_literal_is_refused",
    .argv = { CURL, "http://127.0.0.2:@P/x" },
    .status = 7, .out = "", .audit_has = "\"host\":null",
    .first = REQUESTS(0) },
  /* The second hop's name decides, on the same address as the first. */
  { .name = "curl_redirect_to_other_name_stops",
    .argv = { CURL, "-L",
              "http://a.example:@P/redirect?to=http://b.example:@P/y" },
    .status = 7, .out = "",
    .audit_has = "\"host\":\"b.example\",\"url\":\"http://b.example:@P/y\"",
    .first = REQUESTS(1), .second = REQUESTS(0) },
  /* ... and on the second server. */
  { .name = "curl_redirect_to_second_server_stops",
    .argv = { RUN, "curl", "-sS", "--resolve", "a.example:@P:127.0.0.2",
              "--resolve", "b.example:@P:127.0.0.3", "-L",
              "http://a.example:@P/redirect?to=http://b.example:@P/y" },
    .status = 7, .out = "",
    .first = REQUESTS(1), .second = REQUESTS(0) },
  { .name = "curl_userinfo_names_no_host",
    .argv = { CURL, "http://a.example@b.example:@P/x" },
    .status = 7, .out = "", .audit_has = "\"host\":\"b.example\"",
    .first = REQUESTS(0) },
  { .name = "curl_upper_case_and_trailing_dot_decide_as_canonical",
    .argv = { RUN, "curl", "-sS", "--resolve", "A.EXAMPLE.:@P:127.0.0.2",
              "http://A.EXAMPLE.:@P/x" },
    .status = 0, .out = "hello from first\n",
    .audit_has = "\"host\":\"a.example\",\"url\":\"http://a.example:@P/x\"",
    .first = REQUESTS(1) },
  /* The never-reach list denies loopback: only the scoped exemption
   * opens 127.0.0.2, and only for a.example. */
  { .name = "curl_scoped_allowed_name_reaches_the_server", .scoped = 1,
    .argv = { CURL, "http://a.example:@P/x" },
    .status = 0, .out = "hello from first\n", .first = REQUESTS(1) },
  { .name = "curl_scoped_other_name_is_refused", .scoped = 1,
    .argv = { CURL, "http://b.example:@P/x" },
    .status = 7, .out = "", .first = REQUESTS(0) },
  { .name = "curl_scoped_exemption_is_only_for_its_prefix", .scoped = 1,
    .argv = { RUN, "curl", "-sS", "--resolve", "a.example:@P:127.0.0.3",
              "http://a.example:@P/x" },
    .status = 7, .out = "", .second = REQUESTS(0) },
  { .name = "php_allowed_name_reaches_the_server",
    .argv = { PHP("http://A.Example.:@P/x") },
    .status = 0, .out = "0 hello from first\n",
    .audit_has = "\"host\":\"a.example\",\"url\":\"http://a.example:@P/x\","
                 "\"program\":\"php",
    .first = REQUESTS(1) },
  { .name = "php_other_name_is_refused",
    .argv = { PHP("http://a.example@b.example:@P/x") },
    .status = 0, .out = "7 -\n", .audit_has = "\"host\":\"b.example\"",
    .first = REQUESTS(0) },
  { .name = "php_ip_literal_is_refused",
    .argv = { PHP("http://127.0.0.2:@P/x") },
    .status = 0, .out = "7 -\n", .first = REQUESTS(0) },
  { .name = "pycurl_allowed_name_reaches_the_server",
    .argv = { PYCURL("http://a.example.:@P/x") },
    .status = 0, .out = "ok hello from first\n",
    .audit_has = "\"host\":\"a.example\",\"url\":\"http://a.example:@P/x\","
                 "\"program\":\"python3",
    .first = REQUESTS(1) },
  { .name = "pycurl_other_name_is_refused",
    .argv = { PYCURL("http://B.example:@P/x") },
    .status = 0, .out = "error 7\n", .audit_has = "\"host\":\"b.example\"",
    .first = REQUESTS(0) },
  { .name = "pycurl_ip_literal_is_refused",
    .argv = { PYCURL("http://127.0.0.2:@P/x") },
    .status = 0, .out = "error 7\n", .first = REQUESTS(0) },
};

/* s with @P, @T, @R and @A replaced, in buf. */
static const char *expand(char *buf, size_t size, const char *s,
                          const char *r)
{
  size_t n = 0;

  for(; *s && n < size - 1; s++) {
    char p[16];
    const char *v = NULL;

    if(s[0] == '@') {
      snprintf(p, sizeof(p), "%u", port);
      v = s[1] == 'P' ? p : s[1] == 'T' ? tool : s[1] == 'R' ? r
          : s[1] == 'A' ? audit : NULL;
    }
    if(v) {
      n += (size_t)snprintf(buf + n, size - n, "%s", v);
      s++;
    }
    else
      buf[n++] = *s;
  }
  ck_assert_msg(n < size - 1, "a row's text is too long: %.40s", buf);
  buf[n] = '\0';
  return buf;
}

#define SAYS(row, r) "%s: status %d\nstdout: %s\nstderr: %s", (row)->name, \
                     (r)->status, (r)->out, (r)->err

static void requests_are(const names_row *row, const char *which,
                         th_server *s, unsigned want)
{
  if(want)
    ck_assert_msg(th_requests(s) == want - 1, "%s: the %s server saw %u "
                  "requests, not %u", row->name, which, th_requests(s),
                  want - 1);
}

TU_SUITE_STATIC_ONLY("preload-names", NULL);
TU_CASE(tc_names, "names", 120, setup, teardown);

TU_LOOP(tc_names, host_rules_through_programs, 0,
        (int)(sizeof(rows) / sizeof(rows[0])))
{
  const names_row *row = &rows[_i];
  static char words[20][PATH_MAX + 1024];
  const char *argv[21] = { NULL };
  char log[OUT_MAX], want[1024];
  result *r = calloc(1, sizeof(*r));
  size_t i;

  ck_assert_ptr_nonnull(r);
  for(i = 0; i < 20 && row->argv[i]; i++)
    argv[i] = expand(words[i], sizeof(words[0]), row->argv[i],
                     row->scoped ? scoped : rules);
  run(r, argv);
  ck_assert_msg(r->status != 127 && r->status != 126,
                "could not run it (tools/install-deps installs curl, "
                "php-cli, php-curl, python3-pycurl): " SAYS(row, r));
  ck_assert_msg(r->status == row->status, SAYS(row, r));
  if(row->out)
    ck_assert_msg(!strcmp(r->out, row->out), SAYS(row, r));
  if(row->audit_has) {
    slurp(audit, log, sizeof(log));
    expand(want, sizeof(want), row->audit_has, rules);
    ck_assert_msg(strstr(log, want) != NULL, "%s: no %s in %s", row->name,
                  want, log);
  }
  requests_are(row, "first", first, row->first);
  requests_are(row, "second", second, row->second);
  free(r);
}
END_TEST

/* The program's own sockets, named by its own lookups, in a mount and
 * network namespace of its own (test/preload_names.sh): a.example and
 * b.example are both 127.0.0.2 in its /etc/hosts, and only a.example is
 * allowed. */
TU_TEST(tc_names, own_lookups_name_own_sockets)
{
  result *r = calloc(1, sizeof(*r));
  char dir[PATH_MAX + 16], ns_rules[PATH_MAX + 32], ns_audit[PATH_MAX + 32];
  char log[OUT_MAX];
  const char *argv[] = { "unshare", "-m", "-n", "sh",
                         "test/preload_names.sh", tool, ns_rules, dir,
                         "8080", ns_audit, NULL };

  ck_assert_ptr_nonnull(r);
  /* New namespaces need root (CI runs the suite as root; a package
   * build may not). */
  if(geteuid() != 0) {
    fputs("own_lookups_name_own_sockets: skipped, not root\n", stderr);
    free(r);
    return;
  }
  snprintf(dir, sizeof(dir), "%s/ns", tmp);
  ck_assert_int_eq(mkdir(dir, 0700), 0);
  snprintf(ns_rules, sizeof(ns_rules), "%s/ns.rules", dir);
  snprintf(ns_audit, sizeof(ns_audit), "%s/ns.jsonl", dir);
  tu_write_text(ns_rules, "default deny\nallow host a.example port 8080\n");
  run(r, argv);
  ck_assert_msg(r->status == 0 &&
                !strcmp(r->out, "a ok\nb EPERM\nliteral EPERM\nboth EPERM\n"
                                "ghbn ok\nudp ok\nconnections 2\n"),
                "(unshare needs root) status %d\nstdout: %s\nstderr: %s",
                r->status, r->out, r->err);
  slurp(ns_audit, log, sizeof(log));
  ck_assert_msg(strstr(log, "\"decision\":\"allow\",\"enforced\":true,"
                            "\"addr\":\"127.0.0.2\"") &&
                strstr(log, "\"check\":\"connect\"") &&
                strstr(log, "\"reason\":\"host\"") &&
                strstr(log, "\"host\":\"a.example\",\"url\":null") &&
                strstr(log, "\"host\":\"b.example\",\"url\":null") &&
                strstr(log, "\"check\":\"sendto\""),
                "audit: %s", log);
  free(r);
}
END_TEST
