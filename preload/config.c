/* SPDX-License-Identifier: MIT */
/*
 * The preload library's settings, from the environment, read once when the
 * program makes its first easy handle (not at load time: most processes
 * that inherit LD_PRELOAD never use libcurl and pay nothing).
 *
 *   CURLFENCE_RULES        rules file (absent: the shipped default rules)
 *   CURLFENCE_AUDIT        JSON Lines file to append to, or "syslog"
 *   CURLFENCE_AUDIT_DENIED 1: audit denials only (absent: every decision)
 *   CURLFENCE_REPORT_ONLY  1: let denied connections through, audit them
 *   CURLFENCE_WATCH        reload when the rules change, checked every N ms
 *   CURLFENCE_KEEP_PROXY   1: keep the program's proxy settings
 *   CURLFENCE_KEEP_DOH     1: keep the program's CURLOPT_DOH_URL
 *   CURLFENCE_ALLOW_TFTP   1: decide UDP (TFTP) sockets by the rules
 *
 * Anything wrong (rules that do not load, an audit file that cannot be
 * opened, a value that is not understood) leaves the guard NULL, which
 * refuses every connection, and prints one line on stderr: the library
 * never fails open.  docs/libcurlfence-preload.7 is the reference.
 */
#include "preload.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

/* Where `make install` puts the default rules; the build sets it. */
#ifndef CURLFENCE_PRELOAD_RULES
#define CURLFENCE_PRELOAD_RULES "/etc/curlfence/default.rules"
#endif

static pl_config config;
static curlfence_sink *sink;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static char fail_text[2048];

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
  va_list ap;

  if(fail_text[0])
    return;
  va_start(ap, fmt);
  vsnprintf(fail_text, sizeof(fail_text), fmt, ap);
  va_end(ap);
}

/* 1, 0, or -1 for a value that is neither (which fails closed). */
static int flag(const char *name)
{
  static const char *const yes[] = { "1", "yes", "true", "on" };
  static const char *const no[] = { "", "0", "no", "false", "off" };
  const char *v = getenv(name);
  size_t i;

  if(!v)
    return 0;
  for(i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
    if(strcmp(v, yes[i]) == 0)
      return 1;
  for(i = 0; i < sizeof(no) / sizeof(no[0]); i++)
    if(strcmp(v, no[i]) == 0)
      return 0;
  fail("%s=\"%s\" is not 1 or 0", name, v);
  return -1;
}

/* The rules shipped next to this library when it runs from a source tree
 * (build/libcurlfence-preload.so: ../rules/default.rules, recognised by
 * ../preload/preload.c beside it), else the installed ones. */
static void default_rules(char *buf, size_t size)
{
  Dl_info info;
  char dir[PATH_MAX], probe[PATH_MAX + 32];
  const char *slash;

  snprintf(buf, size, "%s", CURLFENCE_PRELOAD_RULES);
  if(!dladdr((void *)&config, &info) || !info.dli_fname ||
     !(slash = strrchr(info.dli_fname, '/')))
    return;
  snprintf(dir, sizeof(dir), "%.*s", (int)(slash - info.dli_fname),
           info.dli_fname);
  snprintf(probe, sizeof(probe), "%s/../preload/preload.c", dir);
  if(access(probe, F_OK) == 0)
    snprintf(buf, size, "%s/../rules/default.rules", dir);
}

static curlfence_guard *make_guard(void)
{
  const char *rules = getenv("CURLFENCE_RULES");
  const char *audit = getenv("CURLFENCE_AUDIT");
  const char *watch = getenv("CURLFENCE_WATCH");
  char path[PATH_MAX + 32];
  curlfence_policy *p = NULL;
  curlfence_guard *g = NULL;
  curlfence_error err;
  unsigned long ms = 0;
  int denied_only = flag("CURLFENCE_AUDIT_DENIED");

  if(!rules || !*rules) {
    default_rules(path, sizeof(path));
    rules = path;
  }
  if(watch && *watch) {
    char *end;

    errno = 0;
    ms = strtoul(watch, &end, 10);
    if(errno || *end || watch[0] == '-' || ms > 3600000) {
      fail("CURLFENCE_WATCH=\"%s\" is not a number of milliseconds "
           "(0-3600000)", watch);
      return NULL;
    }
  }
  if(denied_only < 0)
    return NULL;
  if(curlfence_policy_load_file(&p, rules, &err)) {
    fail("%s", err.text);
    return NULL;
  }
  if(curlfence_guard_new(&g, p)) {
    curlfence_policy_unref(p);
    fail("out of memory");
    return NULL;
  }
  curlfence_policy_unref(p);
  if(audit && *audit) {
    curlfence_code rc = strcmp(audit, "syslog") == 0
        ? curlfence_sink_open_syslog(&sink, "curlfence", LOG_USER, NULL, &err)
        : curlfence_sink_open_file(&sink, audit, &err);

    if(rc) {
      fail("audit: %s", err.text);
      curlfence_guard_free(g);
      return NULL;
    }
    curlfence_guard_set_audit(g, curlfence_sink_write, sink,
                              denied_only ? CURLFENCE_AUDIT_DENIED
                                          : CURLFENCE_AUDIT_ALL);
  }
  if(ms && curlfence_guard_watch(g, (unsigned)ms)) {
    fail("cannot start the rules watcher");
    curlfence_guard_free(g);
    return NULL;
  }
  return g;
}

static void load(void)
{
  int report = flag("CURLFENCE_REPORT_ONLY");
  int proxy = flag("CURLFENCE_KEEP_PROXY");
  int doh = flag("CURLFENCE_KEEP_DOH");
  int tftp = flag("CURLFENCE_ALLOW_TFTP");

  config.flags = (report > 0 ? CURLFENCE_ATTACH_REPORT_ONLY : 0) |
                 (tftp > 0 ? CURLFENCE_ATTACH_ALLOW_TFTP : 0);
  config.keep_proxy = proxy > 0;
  config.keep_doh = doh > 0;
  if(report >= 0 && proxy >= 0 && doh >= 0 && tftp >= 0)
    config.guard = make_guard();
  if(!config.guard) {
    curlfence_sink_free(sink);
    sink = NULL;
    /* One line, one write: the program's own stderr output may be
     * interleaved with it. */
    fprintf(stderr, "curlfence: %s; every connection is refused\n",
            fail_text[0] ? fail_text : "setup failed");
  }
}

const pl_config *pl_config_get(void)
{
  pthread_once(&once, load);
  return &config;
}
