/* SPDX-License-Identifier: MIT */
/*
 * curlfence fetch: one transfer through a guard, the way an application
 * attaches curlfence.  Exit status is libcurl's CURLcode (7 when a
 * connection was blocked), or 2 on usage or rules errors.
 *
 * Built twice.  The curlfence tool does not load libcurl, so that `run`
 * costs the program it starts nothing but its own few pages: there, with
 * CLI_FETCH_EXEC, fetch execs curlfence-fetch, the same commands linked
 * with libcurl, with the same arguments.  The option table is in both, for
 * help and completion.
 */
#include "cli.h"
#include "guard/guard.h"

#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

enum {
  OPT_AUDIT = CLI_LONG_ONLY,
  OPT_STATS,
  OPT_REPORT_ONLY,
  OPT_MAX_TIME,
  OPT_CONNECT_TIMEOUT,
  OPT_RESOLVE,
  OPT_NO_AUDIT_URL
};

static const cli_opt fetch_opts[] = {
  CLI_OPT_RULES,
  { "output", 'o', "FILE", "write the body to FILE instead of stdout" },
  { "header", 'H', "LINE", "add a request header (\"Name: value\")" },
  { "max-time", OPT_MAX_TIME, "SECONDS", "give up after this long" },
  { "connect-timeout", OPT_CONNECT_TIMEOUT, "SECONDS",
    "give up connecting after this long" },
  { "resolve", OPT_RESOLVE, "HOST:PORT:ADDR[,ADDR]",
    "use these addresses for HOST:PORT (as curl --resolve)" },
  { "silent", 's', NULL, "print no messages; the exit status tells" },
  { "verbose", 'v', NULL, "report allowed connections too" },
  { "audit", OPT_AUDIT, "FILE", "append every decision to FILE (JSON Lines)" },
  { "no-audit-url", OPT_NO_AUDIT_URL, NULL,
    "leave the URL out of audit events (the name stays)" },
  { "stats", OPT_STATS, NULL, "print the guard's counters afterwards" },
  { "report-only", OPT_REPORT_ONLY, NULL,
    "let denied connections through, reporting them" },
  CLI_OPT_HELP,
  CLI_OPT_END
};

#ifdef CLI_FETCH_EXEC

static int run_fetch(const cli_cmd *cmd, int argc, char **argv)
{
  (void)cmd;
  return cli_exec(cli_path(CLI_PATH_FETCH), argc, argv);
}

/* The libcurl a program would load now, for --version: the tool has none
 * of its own. */
const char *cli_libcurl_version(void)
{
  typedef const curl_version_info_data *(*info_fn)(CURLversion);
  static char version[64];
  void *lib = dlopen("libcurl.so.4", RTLD_LAZY | RTLD_LOCAL);
  const curl_version_info_data *cv;
  info_fn info;

  if(!lib)
    return NULL;
  *(void **)&info = dlsym(lib, "curl_version_info");
  cv = info ? info(CURLVERSION_NOW) : NULL;
  if(cv && cv->version)
    snprintf(version, sizeof(version), "%s", cv->version);
  dlclose(lib);
  return version[0] ? version : NULL;
}

#else /* CLI_FETCH_EXEC */

const char *cli_libcurl_version(void)
{
  const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);

  return cv ? cv->version : NULL;
}

typedef struct fetch_state {
  curlfence_guard *guard;
  CURL *handle;              /* the only handle, never copied */
  unsigned flags;            /* curlfence_attach() flags */
  curlfence_sink *audit;     /* --audit FILE, or NULL */
  int verbose, silent;
  /* What happened to the connections of the current hop (a redirect
   * starts a new one once a request went out): the policy refused
   * some, and let some through, which may still have failed. */
  int blocked;
  int allowed;
  const char *out_path;      /* -o FILE, opened at the first byte */
  FILE *out;
  int out_errno;
} fetch_state;

static int fetch_audit(const curlfence_event *ev, void *userdata)
{
  fetch_state *st = userdata;
  char line[2048];

  if(ev->check == CURLFENCE_CHECK_REUSED) {
    /* a request is about to go out on a connection: earlier failures
     * are not why the transfer ends, unless this check refuses it */
    st->blocked = ev->action == CURLFENCE_DENY && ev->enforced;
    st->allowed = 0;
  }
  else if(ev->action == CURLFENCE_DENY && ev->enforced)
    st->blocked = 1;
  else
    st->allowed = 1;
  if(!st->silent && (ev->action == CURLFENCE_DENY || st->verbose)) {
    cf_event_text(ev, ev->action == CURLFENCE_DENY ? "blocked" : "allowed",
                  line, sizeof(line));
    fprintf(stderr, CLI_PROG ": %s\n", line);
  }
  return st->audit ? curlfence_sink_write(ev, st->audit) : 0;
}

/* fetch makes one handle and never copies it, so its checks know which
 * handle they run for, the open check too (which curlfence_attach()'s own
 * callbacks cannot tell): both decide with its URL's name. */
static curl_socket_t fetch_open(void *clientp, curlsocktype purpose,
                                struct curl_sockaddr *a)
{
  fetch_state *st = clientp;
  return cf_guard_open_named(st->guard, purpose, a, st->flags, NULL,
                             cf_libcurl_urlapi(), st->handle, NULL);
}

static int fetch_prereq(void *clientp, char *primary_ip, char *local_ip,
                        int primary_port, int local_port)
{
  fetch_state *st = clientp;
  return cf_guard_prereq_named(st->guard, primary_ip, local_ip, primary_port,
                               local_port, st->flags, cf_libcurl_urlapi(),
                               st->handle, NULL);
}

static void print_stats(curlfence_guard *g)
{
  curlfence_policy *p;
  curlfence_rule_stat *rs;
  curlfence_stats s;
  size_t i, n;

  curlfence_guard_stats(g, &s);
  fprintf(stderr, CLI_PROG ": stats: generation %llu, allowed %llu, denied "
          "%llu, reported %llu, audit errors %llu\n",
          (unsigned long long)s.generation, (unsigned long long)s.allowed,
          (unsigned long long)s.denied, (unsigned long long)s.reported,
          (unsigned long long)s.audit_errors);
  p = curlfence_guard_policy(g, NULL);
  n = curlfence_policy_rule_stats(p, NULL, 0);
  rs = calloc(n, sizeof(*rs));
  if(rs)
    curlfence_policy_rule_stats(p, rs, n);
  for(i = 0; rs && i < n; i++) {
    if(!rs[i].hits)
      continue;
    if(rs[i].file)
      fprintf(stderr, CLI_PROG ": stats: %llu x %s:%u: %s\n",
              (unsigned long long)rs[i].hits, rs[i].file, rs[i].line,
              rs[i].rule);
    else
      fprintf(stderr, CLI_PROG ": stats: %llu x built-in: %s\n",
              (unsigned long long)rs[i].hits, rs[i].rule);
  }
  free(rs);
  curlfence_policy_unref(p);
}

/* The body goes to -o FILE, created only once there is something to
 * write, so a blocked fetch leaves no empty file behind. */
static size_t fetch_write(char *data, size_t size, size_t n, void *userdata)
{
  fetch_state *st = userdata;

  if(!st->out) {
    st->out = fopen(st->out_path, "wb");
    if(!st->out) {
      st->out_errno = errno;
      return 0;
    }
  }
  return fwrite(data, size, n, st->out);
}

/* SECONDS as libcurl milliseconds: a positive decimal, fractions allowed. */
static int parse_seconds(const cli_cmd *cmd, const char *opt, const char *s,
                         long *ms)
{
  char *end;
  double v = strtod(s, &end);

  if(s[0] < '0' || s[0] > '9' || *end || !isfinite(v) || v <= 0 ||
     v > 86400.0 * 365) {
    cli_usage_error(cmd, "invalid %s \"%s\" (expected seconds, e.g. 2.5)",
                    opt, s);
    return -1;
  }
  *ms = (long)(v * 1000.0 + 0.999);  /* round up: 0.0001 is not 0 */
  return 0;
}

/* What the options ask for, besides what fetch_state keeps. */
typedef struct fetch_args {
  const char *rules, *audit_path;
  struct curl_slist *headers, *resolve;  /* -H, --resolve */
  long max_ms, connect_ms;
  int stats;
  unsigned flags;
  unsigned audit_flags;     /* curlfence_guard_set_audit() flags */
} fetch_args;

/* A -H or --resolve argument, checked, added to its list.  -1, else the
 * exit status. */
static int add_listed(const cli_cmd *cmd, int key, const char *arg,
                      fetch_args *a)
{
  struct curl_slist *nh;

  if(key == 'H' ? !strchr(arg, ':') && !strchr(arg, ';')
                : !strchr(arg, ':') || strchr(arg, ':') == arg)
    return cli_usage_error(cmd, key == 'H'
                           ? "invalid header \"%s\" (expected \"Name: "
                             "value\")"
                           : "invalid --resolve \"%s\" (expected "
                             "HOST:PORT:ADDR)", arg);
  nh = curl_slist_append(key == 'H' ? a->headers : a->resolve, arg);
  if(!nh) {
    fputs(CLI_PROG ": out of memory\n", stderr);
    return 2;
  }
  if(key == 'H')
    a->headers = nh;
  else
    a->resolve = nh;
  return -1;
}

/* The options and the one URL.  -1 to go on, else the exit status. */
static int parse_fetch_args(const cli_cmd *cmd, cli_parser *ps,
                            fetch_args *a, fetch_state *st)
{
  const char *arg;
  int key, rc;

  while((key = cli_next(ps, &arg)) != CLI_END) {
    switch(key) {
    case 'r': a->rules = arg; break;
    case 'o': st->out_path = arg; break;
    case 'H':
    case OPT_RESOLVE:
      rc = add_listed(cmd, key, arg, a);
      if(rc >= 0)
        return rc;
      break;
    case OPT_MAX_TIME:
    case OPT_CONNECT_TIMEOUT:
      if(parse_seconds(cmd, key == OPT_MAX_TIME ? "--max-time"
                                                : "--connect-timeout",
                       arg, key == OPT_MAX_TIME ? &a->max_ms
                                                : &a->connect_ms))
        return 2;
      break;
    case 's': st->silent = 1; break;
    case 'v': st->verbose = 1; break;
    case OPT_AUDIT: a->audit_path = arg; break;
    case OPT_NO_AUDIT_URL: a->audit_flags |= CURLFENCE_AUDIT_NO_URL; break;
    case OPT_STATS: a->stats = 1; break;
    case OPT_REPORT_ONLY: a->flags |= CURLFENCE_ATTACH_REPORT_ONLY; break;
    default: return ps->status;
    }
  }
  if(ps->noperands != 1)
    return cli_usage_error(cmd, "expected one URL");
  return -1;
}

/* Every option is checked: a transfer set up other than asked (no
 * timeout, another protocol) must not run. */
#define SETOPT(h, opt, val) \
  do { \
    if(curl_easy_setopt(h, opt, val) != CURLE_OK) \
      return #opt; \
  } while(0)

/* h set up to fetch url as a asks: NULL, or the option libcurl
 * refused. */
static const char *setup_handle(CURL *h, const fetch_args *a,
                                fetch_state *st, const char *url,
                                char *errbuf)
{
  errbuf[0] = '\0';
  SETOPT(h, CURLOPT_URL, url);
  SETOPT(h, CURLOPT_ERRORBUFFER, errbuf);
  SETOPT(h, CURLOPT_FOLLOWLOCATION, 1L);
  SETOPT(h, CURLOPT_MAXREDIRS, 10L);
  /* Only HTTP(S): file:// and others never open a socket to check. */
  SETOPT(h, CURLOPT_PROTOCOLS_STR, "http,https");
  SETOPT(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  SETOPT(h, CURLOPT_FAILONERROR, 1L);
  if(a->headers)
    SETOPT(h, CURLOPT_HTTPHEADER, a->headers);
  if(a->resolve)
    SETOPT(h, CURLOPT_RESOLVE, a->resolve);
  if(a->max_ms)
    SETOPT(h, CURLOPT_TIMEOUT_MS, a->max_ms);
  if(a->connect_ms)
    SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, a->connect_ms);
  if(st->out_path) {
    SETOPT(h, CURLOPT_WRITEFUNCTION, fetch_write);
    SETOPT(h, CURLOPT_WRITEDATA, st);
  }
  return NULL;
}

/* Why the transfer of url failed with rc, on one line. */
static void report_failure(const fetch_state *st, CURLcode rc,
                           const char *url, const char *errbuf)
{
  if(st->out_errno)
    fprintf(stderr, CLI_PROG ": %s: %s\n", st->out_path,
            strerror(st->out_errno));
  else if(st->blocked && !st->allowed)
    fprintf(stderr, CLI_PROG ": %s: blocked by policy\n", url);
  else if(st->blocked)
    fprintf(stderr, CLI_PROG ": %s: blocked by policy; the other "
            "addresses: %s\n", url,
            errbuf[0] ? errbuf : curl_easy_strerror(rc));
  else
    /* libcurl's words for what happened to the addresses the policy
     * let through */
    fprintf(stderr, CLI_PROG ": %s\n",
            errbuf[0] ? errbuf : curl_easy_strerror(rc));
}

static int run_fetch(const cli_cmd *cmd, int argc, char **argv)
{
  const char *setopt_failed, *url;
  char errbuf[CURL_ERROR_SIZE];
  fetch_state st;
  fetch_args a;
  curlfence_policy *p = NULL;
  curlfence_guard *g = NULL;
  curlfence_error err;
  cli_parser ps;
  CURL *h = NULL;
  CURLcode rc;
  int status, global = 0;

  memset(&st, 0, sizeof(st));
  memset(&a, 0, sizeof(a));
  a.audit_flags = CURLFENCE_AUDIT_ALL;
  cli_parser_init(&ps, cmd, argc, argv);
  status = parse_fetch_args(cmd, &ps, &a, &st);
  if(status < 0 && cli_load_policy(a.rules, &p))
    status = 2;
  if(status >= 0) {
    curl_slist_free_all(a.headers);
    curl_slist_free_all(a.resolve);
    return status;
  }
  status = 2;
  url = CLI_OPERANDS(&ps)[0];
  /* The order of every command: the option, else the environment. */
  a.audit_path = cli_setting(a.audit_path, "CURLFENCE_AUDIT");
  if(a.audit_path &&
     (!strcmp(a.audit_path, "syslog")
          ? curlfence_sink_open_syslog(&st.audit, NULL, LOG_USER, NULL, &err)
          : curlfence_sink_open_file(&st.audit, a.audit_path, &err))) {
    fprintf(stderr, CLI_PROG ": audit: %s\n", err.text);
    goto out;
  }
  if(curl_global_init(CURL_GLOBAL_DEFAULT)) {
    fputs(CLI_PROG ": cannot initialise libcurl\n", stderr);
    goto out;
  }
  global = 1;
  if(!(h = curl_easy_init()) || curlfence_guard_new(&g, p) ||
     curlfence_guard_set_audit(g, fetch_audit, &st, a.audit_flags)) {
    fputs(CLI_PROG ": cannot set up libcurl\n", stderr);
    goto out;
  }
  setopt_failed = setup_handle(h, &a, &st, url, errbuf);
  if(setopt_failed) {
    fprintf(stderr, CLI_PROG ": libcurl refused %s\n", setopt_failed);
    goto out;
  }
  st.guard = g;
  st.handle = h;
  st.flags = a.flags;
  if(curlfence_attach(h, g, a.flags) ||
     curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, fetch_open) ||
     curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &st) ||
     curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, fetch_prereq) ||
     curl_easy_setopt(h, CURLOPT_PREREQDATA, &st)) {
    fputs(CLI_PROG ": cannot attach the policy\n", stderr);
    goto out;
  }
  rc = curl_easy_perform(h);
  status = (int)rc;
  if(rc != CURLE_OK && !st.silent)
    report_failure(&st, rc, url, errbuf);
  if(st.out && fclose(st.out)) {
    if(!st.silent)
      fprintf(stderr, CLI_PROG ": %s: %s\n", st.out_path, strerror(errno));
    if(!status)
      status = (int)CURLE_WRITE_ERROR;
  }
  st.out = NULL;
  if(a.stats && !st.silent)
    print_stats(g);
  if(st.audit && curlfence_sink_errors(st.audit)) {
    /* A transfer whose decisions were not all recorded is a failure of
     * its own, whatever libcurl says. */
    fprintf(stderr, CLI_PROG ": audit: %llu event(s) could not be written "
            "to %s\n", (unsigned long long)curlfence_sink_errors(st.audit),
            a.audit_path);
    status = 2;
  }
out:
  if(st.out)
    fclose(st.out);
  if(h)
    curl_easy_cleanup(h);
  curl_slist_free_all(a.headers);
  curl_slist_free_all(a.resolve);
  curlfence_guard_free(g);
  curlfence_policy_unref(p);
  curlfence_sink_free(st.audit);
  if(global)
    curl_global_cleanup();
  return status;
}

#endif /* CLI_FETCH_EXEC */

const cli_cmd cli_cmd_fetch = {
  "fetch", "URL",
  "fetch URL through a guard and report blocked connections",
  "Exit status: libcurl's CURLcode (7: a connection was blocked), or 2\n"
  "on usage or rules errors and when the audit file could not be written.\n",
  fetch_opts, run_fetch
};
