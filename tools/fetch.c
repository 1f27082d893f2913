/* SPDX-License-Identifier: MIT */
/*
 * curlfence fetch: one transfer through a guard, the way an application
 * attaches curlfence.  Exit status is libcurl's CURLcode (7 when a
 * connection was blocked), or 2 on usage or rules errors.
 */
#include "cli.h"
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

enum {
  OPT_AUDIT = CLI_LONG_ONLY,
  OPT_STATS,
  OPT_REPORT_ONLY,
  OPT_MAX_TIME,
  OPT_CONNECT_TIMEOUT,
  OPT_RESOLVE
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
  { "stats", OPT_STATS, NULL, "print the guard's counters afterwards" },
  { "report-only", OPT_REPORT_ONLY, NULL,
    "let denied connections through, reporting them" },
  CLI_OPT_HELP,
  CLI_OPT_END
};

typedef struct fetch_state {
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

/* Every option is checked: a transfer set up other than asked (no
 * timeout, another protocol) must not run. */
#define SETOPT(h, opt, val) \
  do { \
    if(curl_easy_setopt(h, opt, val) != CURLE_OK) { \
      setopt_failed = #opt; \
      goto setup_failed; \
    } \
  } while(0)

static int run_fetch(const cli_cmd *cmd, int argc, char **argv)
{
  const char *rules = NULL, *audit_path = NULL, *arg;
  const char *setopt_failed = NULL;
  char errbuf[CURL_ERROR_SIZE];
  fetch_state st;
  curlfence_policy *p = NULL;
  curlfence_guard *g = NULL;
  curlfence_error err;
  struct curl_slist *headers = NULL, *resolve = NULL, *nh;
  cli_parser ps;
  CURL *h = NULL;
  CURLcode rc;
  int key, status = 2, stats = 0, global = 0;
  long max_ms = 0, connect_ms = 0;
  unsigned flags = 0;

  memset(&st, 0, sizeof(st));
  cli_parser_init(&ps, cmd, argc, argv);
  while((key = cli_next(&ps, &arg)) != CLI_END) {
    switch(key) {
    case 'r': rules = arg; break;
    case 'o': st.out_path = arg; break;
    case 'H':
    case OPT_RESOLVE:
      if(key == 'H' ? !strchr(arg, ':') && !strchr(arg, ';')
                    : !strchr(arg, ':') || strchr(arg, ':') == arg) {
        curl_slist_free_all(headers);
        curl_slist_free_all(resolve);
        return cli_usage_error(cmd, key == 'H'
                               ? "invalid header \"%s\" (expected \"Name: "
                                 "value\")"
                               : "invalid --resolve \"%s\" (expected "
                                 "HOST:PORT:ADDR)", arg);
      }
      nh = curl_slist_append(key == 'H' ? headers : resolve, arg);
      if(!nh) {
        curl_slist_free_all(headers);
        curl_slist_free_all(resolve);
        fputs(CLI_PROG ": out of memory\n", stderr);
        return 2;
      }
      if(key == 'H')
        headers = nh;
      else
        resolve = nh;
      break;
    case OPT_MAX_TIME:
    case OPT_CONNECT_TIMEOUT:
      if(parse_seconds(cmd, key == OPT_MAX_TIME ? "--max-time"
                                                : "--connect-timeout",
                       arg, key == OPT_MAX_TIME ? &max_ms : &connect_ms)) {
        curl_slist_free_all(headers);
        curl_slist_free_all(resolve);
        return 2;
      }
      break;
    case 's': st.silent = 1; break;
    case 'v': st.verbose = 1; break;
    case OPT_AUDIT: audit_path = arg; break;
    case OPT_STATS: stats = 1; break;
    case OPT_REPORT_ONLY: flags |= CURLFENCE_ATTACH_REPORT_ONLY; break;
    default:
      curl_slist_free_all(headers);
      curl_slist_free_all(resolve);
      return ps.status;
    }
  }
  if(ps.noperands != 1) {
    curl_slist_free_all(headers);
    curl_slist_free_all(resolve);
    return cli_usage_error(cmd, "expected one URL");
  }
  if(cli_load_policy(rules, &p)) {
    curl_slist_free_all(headers);
    curl_slist_free_all(resolve);
    return 2;
  }
  /* The order of every command: the option, else the environment. */
  audit_path = cli_setting(audit_path, "CURLFENCE_AUDIT");
  if(audit_path &&
     (!strcmp(audit_path, "syslog")
          ? curlfence_sink_open_syslog(&st.audit, NULL, LOG_USER, NULL, &err)
          : curlfence_sink_open_file(&st.audit, audit_path, &err))) {
    fprintf(stderr, CLI_PROG ": audit: %s\n", err.text);
    goto out;
  }
  if(curl_global_init(CURL_GLOBAL_DEFAULT)) {
    fputs(CLI_PROG ": cannot initialise libcurl\n", stderr);
    goto out;
  }
  global = 1;
  if(!(h = curl_easy_init()) || curlfence_guard_new(&g, p) ||
     curlfence_guard_set_audit(g, fetch_audit, &st, CURLFENCE_AUDIT_ALL)) {
    fputs(CLI_PROG ": cannot set up libcurl\n", stderr);
    goto out;
  }
  errbuf[0] = '\0';
  SETOPT(h, CURLOPT_URL, CLI_OPERANDS(&ps)[0]);
  SETOPT(h, CURLOPT_ERRORBUFFER, errbuf);
  SETOPT(h, CURLOPT_FOLLOWLOCATION, 1L);
  SETOPT(h, CURLOPT_MAXREDIRS, 10L);
  /* Only HTTP(S): file:// and others never open a socket to check. */
  SETOPT(h, CURLOPT_PROTOCOLS_STR, "http,https");
  SETOPT(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  SETOPT(h, CURLOPT_FAILONERROR, 1L);
  if(headers)
    SETOPT(h, CURLOPT_HTTPHEADER, headers);
  if(resolve)
    SETOPT(h, CURLOPT_RESOLVE, resolve);
  if(max_ms)
    SETOPT(h, CURLOPT_TIMEOUT_MS, max_ms);
  if(connect_ms)
    SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
  if(st.out_path) {
    SETOPT(h, CURLOPT_WRITEFUNCTION, fetch_write);
    SETOPT(h, CURLOPT_WRITEDATA, &st);
  }
  if(curlfence_attach(h, g, flags)) {
    fputs(CLI_PROG ": cannot attach the policy\n", stderr);
    goto out;
  }
  rc = curl_easy_perform(h);
  status = (int)rc;
  if(rc != CURLE_OK && !st.silent) {
    if(st.out_errno)
      fprintf(stderr, CLI_PROG ": %s: %s\n", st.out_path,
              strerror(st.out_errno));
    else if(st.blocked && !st.allowed)
      fprintf(stderr, CLI_PROG ": %s: blocked by policy\n",
              CLI_OPERANDS(&ps)[0]);
    else if(st.blocked)
      fprintf(stderr, CLI_PROG ": %s: blocked by policy; the other "
              "addresses: %s\n", CLI_OPERANDS(&ps)[0],
              errbuf[0] ? errbuf : curl_easy_strerror(rc));
    else
      /* libcurl's words for what happened to the addresses the policy
       * let through */
      fprintf(stderr, CLI_PROG ": %s\n",
              errbuf[0] ? errbuf : curl_easy_strerror(rc));
  }
  if(st.out && fclose(st.out)) {
    if(!st.silent)
      fprintf(stderr, CLI_PROG ": %s: %s\n", st.out_path, strerror(errno));
    if(!status)
      status = (int)CURLE_WRITE_ERROR;
  }
  st.out = NULL;
  if(stats && !st.silent)
    print_stats(g);
  if(st.audit && curlfence_sink_errors(st.audit)) {
    /* A transfer whose decisions were not all recorded is a failure of
     * its own, whatever libcurl says. */
    fprintf(stderr, CLI_PROG ": audit: %llu event(s) could not be written "
            "to %s\n", (unsigned long long)curlfence_sink_errors(st.audit),
            audit_path);
    status = 2;
  }
  goto out;
setup_failed:
  fprintf(stderr, CLI_PROG ": libcurl refused %s\n", setopt_failed);
  status = 2;
out:
  if(st.out)
    fclose(st.out);
  if(h)
    curl_easy_cleanup(h);
  curl_slist_free_all(headers);
  curl_slist_free_all(resolve);
  curlfence_guard_free(g);
  curlfence_policy_unref(p);
  curlfence_sink_free(st.audit);
  if(global)
    curl_global_cleanup();
  return status;
}

const cli_cmd cli_cmd_fetch = {
  "fetch", "URL",
  "fetch URL through a guard and report blocked connections",
  "Exit status: libcurl's CURLcode (7: a connection was blocked), or 2\n"
  "on usage or rules errors and when the audit file could not be written.\n",
  fetch_opts, run_fetch
};
