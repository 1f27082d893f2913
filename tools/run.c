/* SPDX-License-Identifier: MIT */
/*
 * curlfence run [-r RULES] [--audit FILE] [--report-only] [--keep-proxy]
 *               [--keep-doh] [--watch MS] -- COMMAND [ARG...]
 *
 * Runs COMMAND with libcurlfence-preload.so in LD_PRELOAD and the
 * settings in its CURLFENCE_* variables (docs/libcurlfence-preload.7), so
 * every libcurl handle it makes is guarded.  The command replaces this
 * process: its exit status is COMMAND's.  Before that, 2 means a usage
 * error, 126 a command that cannot be guarded or executed, 127 one that
 * was not found.
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where `make install` puts the preload library; the build sets it. */
#ifndef CURLFENCE_PRELOAD_PATH
#define CURLFENCE_PRELOAD_PATH "/usr/local/lib/libcurlfence-preload.so"
#endif

#define PRELOAD_NAME "libcurlfence-preload.so"

static int exists(const char *path)
{
  struct stat st;

  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* CURLFENCE_PRELOAD, else next to this program in a source tree
 * (tools/curlfence -> build/), else in an installed tree (bin/ -> lib/),
 * else where `make install` puts it. */
static int find_preload(char *out, size_t size)
{
  static const char *const rel[] = { "../build/" PRELOAD_NAME,
                                     "../lib/" PRELOAD_NAME };
  const char *env = getenv("CURLFENCE_PRELOAD");
  char exe[PATH_MAX], cand[PATH_MAX + 64];
  ssize_t n;
  size_t i;

  if(env && *env) {
    snprintf(cand, sizeof(cand), "%s", env);
    goto found;
  }
  n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if(n > 0) {
    char *slash;

    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if(slash)
      *slash = '\0';
    for(i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
      snprintf(cand, sizeof(cand), "%s/%s", exe, rel[i]);
      if(exists(cand))
        goto found;
    }
  }
  snprintf(cand, sizeof(cand), "%s", CURLFENCE_PRELOAD_PATH);
found:
  if(!exists(cand) || !realpath(cand, out)) {
    fprintf(stderr, CLI_PROG ": cannot find the preload library (%s)%s\n",
            cand, env && *env ? "" : "; set CURLFENCE_PRELOAD");
    return -1;
  }
  (void)size;
  /* LD_PRELOAD separates entries with spaces and colons. */
  if(strpbrk(out, ": \t")) {
    fprintf(stderr, CLI_PROG ": the preload library's path \"%s\" contains "
            "a space or colon, which LD_PRELOAD cannot hold\n", out);
    return -1;
  }
  return 0;
}

/* An absolute form of path, for a command that may change directory
 * (git does); the file itself need not exist yet (an audit log). */
static int absolute(const char *path, char *out, size_t size)
{
  char cwd[PATH_MAX];

  if(path[0] == '/') {
    snprintf(out, size, "%s", path);
    return 0;
  }
  if(!getcwd(cwd, sizeof(cwd)))
    return -1;
  if((size_t)snprintf(out, size, "%s/%s", cwd, path) >= size)
    return -1;
  return 0;
}

/* The file execvp() would run, to look at it first. */
static int which(const char *cmd, char *out, size_t size)
{
  const char *path = getenv("PATH"), *p, *end;

  if(strchr(cmd, '/'))
    return snprintf(out, size, "%s", cmd) < (int)size && exists(out) ? 0
                                                                     : -1;
  for(p = path ? path : "/usr/local/bin:/usr/bin:/bin"; p; p = end) {
    size_t len;

    end = strchr(p, ':');
    len = end ? (size_t)(end - p) : strlen(p);
    if(end)
      end++;
    snprintf(out, size, "%.*s/%s", (int)len, len ? p : ".", cmd);
    if(exists(out) && access(out, X_OK) == 0)
      return 0;
  }
  return -1;
}

static int setvar(const char *name, const char *value)
{
  if(value ? setenv(name, value, 1) : unsetenv(name)) {
    fprintf(stderr, CLI_PROG ": cannot set %s: %s\n", name, strerror(errno));
    return -1;
  }
  return 0;
}

enum {
  OPT_AUDIT = CLI_LONG_ONLY,
  OPT_REPORT_ONLY,
  OPT_KEEP_PROXY,
  OPT_KEEP_DOH,
  OPT_WATCH
};

static const cli_opt run_opts[] = {
  CLI_OPT_RULES,
  { "audit", OPT_AUDIT, "FILE", "record every decision to FILE (or syslog)" },
  { "report-only", OPT_REPORT_ONLY, NULL, "deny nothing, record denials" },
  { "keep-proxy", OPT_KEEP_PROXY, NULL, "keep COMMAND's proxy settings" },
  { "keep-doh", OPT_KEEP_DOH, NULL, "keep COMMAND's DNS-over-HTTPS URL" },
  { "watch", OPT_WATCH, "MS", "reload changed rules, looking every MS ms" },
  CLI_OPT_HELP,
  CLI_OPT_END
};

static int run_run(const cli_cmd *cmd, int argc, char **argv)
{
  const char *rules = NULL, *audit = NULL, *watch = NULL, *old, *arg;
  char preload[PATH_MAX], rules_abs[PATH_MAX], audit_abs[PATH_MAX];
  char path[PATH_MAX + 256], *list, **ops;
  int key, report = 0, keep_proxy = 0, keep_doh = 0, rc;
  cli_parser ps;
  struct stat st;

  cli_parser_init(&ps, cmd, argc, argv);
  while((key = cli_next(&ps, &arg)) != CLI_END) {
    switch(key) {
    case 'r': rules = arg; break;
    case OPT_AUDIT: audit = arg; break;
    case OPT_REPORT_ONLY: report = 1; break;
    case OPT_KEEP_PROXY: keep_proxy = 1; break;
    case OPT_KEEP_DOH: keep_doh = 1; break;
    case OPT_WATCH: watch = arg; break;
    default: return ps.status;
    }
  }
  /* Options may appear anywhere in other subcommands; here "--" is what
   * separates them from COMMAND's own, so it is required. */
  if(!ps.only_operands || ps.noperands < 1)
    return cli_usage_error(cmd, "expected -- COMMAND [ARG...]");
  ops = CLI_OPERANDS(&ps);
  ops[ps.noperands] = NULL;
  if((rules && absolute(rules, rules_abs, sizeof(rules_abs))) ||
     (audit && strcmp(audit, "syslog") != 0 &&
      absolute(audit, audit_abs, sizeof(audit_abs)))) {
    fputs(CLI_PROG ": cannot make the paths absolute\n", stderr);
    return 2;
  }
  if(find_preload(preload, sizeof(preload)))
    return 126;
  if(which(ops[0], path, sizeof(path))) {
    fprintf(stderr, CLI_PROG ": %s: command not found\n", ops[0]);
    return 127;
  }
  /* The loader ignores LD_PRELOAD for set-user-ID and set-group-ID
   * programs: running one would run it unguarded. */
  if(stat(path, &st) == 0 && (st.st_mode & (S_ISUID | S_ISGID))) {
    fprintf(stderr, CLI_PROG ": %s is set-user-ID or set-group-ID; the "
            "loader would ignore the preload library, so it is not run\n",
            path);
    return 126;
  }
  old = getenv("LD_PRELOAD");
  list = malloc(strlen(preload) + (old ? strlen(old) : 0) + 2);
  if(!list)
    return 126;
  if(old && *old)
    sprintf(list, "%s:%s", old, preload);
  else
    strcpy(list, preload);
  rc = setvar("LD_PRELOAD", list) ||
       setvar("CURLFENCE_RULES", rules ? rules_abs : NULL) ||
       setvar("CURLFENCE_AUDIT", !audit ? NULL
                                 : strcmp(audit, "syslog") == 0 ? audit
                                                                : audit_abs) ||
       setvar("CURLFENCE_REPORT_ONLY", report ? "1" : NULL) ||
       setvar("CURLFENCE_KEEP_PROXY", keep_proxy ? "1" : NULL) ||
       setvar("CURLFENCE_KEEP_DOH", keep_doh ? "1" : NULL) ||
       setvar("CURLFENCE_WATCH", watch);
  free(list);
  if(rc)
    return 126;
  execv(path, ops);
  fprintf(stderr, CLI_PROG ": cannot run %s: %s\n", path, strerror(errno));
  return errno == ENOENT ? 127 : 126;
}

const cli_cmd cli_cmd_run = {
  "run", "-- COMMAND [ARG...]",
  "run COMMAND with every libcurl connection it makes checked",
  "Without -r the preload library's default rules apply.  The settings go\n"
  "to COMMAND as CURLFENCE_* variables (libcurlfence-preload(7)).\n"
  "Exit status: COMMAND's; before it runs, 2 on usage errors, 126 when\n"
  "COMMAND cannot be guarded or run, 127 when it is not found.\n",
  run_opts, run_run
};
