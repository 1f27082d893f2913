/* SPDX-License-Identifier: MIT */
/*
 * curlfence fetch: one transfer through a guard, the way an application
 * attaches curlfence.  Exit status is libcurl's CURLcode (7 when a
 * connection was blocked), or 2 on usage or rules errors.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

enum {
  OPT_AUDIT = CLI_LONG_ONLY,
  OPT_STATS,
  OPT_REPORT_ONLY
};

static const cli_opt fetch_opts[] = {
  CLI_OPT_RULES,
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
  int verbose;
  int blocked;               /* a denial was seen */
} fetch_state;

static void describe(char *buf, size_t size, const curlfence_event *ev,
                     const char *verb)
{
  const curlfence_verdict *v = &ev->verdict;
  char where[1100], port[16] = "";

  if(!ev->enforced)
    verb = "would block (report-only)";
  if(ev->family != AF_UNIX)
    snprintf(port, sizeof(port), " port %u", ev->port);
  if(v->file)
    snprintf(where, sizeof(where), "%s:%u", v->file, v->line);
  else
    snprintf(where, sizeof(where), "built-in rule");
  snprintf(buf, size, "%s %s%s%s by %s (%s)", verb,
           ev->family == AF_UNIX ? "unix socket " : "", ev->addr, port,
           where, v->rule);
}

static int fetch_audit(const curlfence_event *ev, void *userdata)
{
  fetch_state *st = userdata;
  char line[1400];

  if(ev->action == CURLFENCE_DENY && ev->enforced)
    st->blocked = 1;
  if(ev->action == CURLFENCE_DENY || st->verbose) {
    describe(line, sizeof(line), ev,
             ev->action == CURLFENCE_DENY ? "blocked" : "allowed");
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

static int run_fetch(const cli_cmd *cmd, int argc, char **argv)
{
  const char *rules = NULL, *audit_path = NULL, *arg;
  fetch_state st;
  curlfence_policy *p = NULL;
  curlfence_guard *g = NULL;
  curlfence_error err;
  cli_parser ps;
  CURL *h = NULL;
  CURLcode rc;
  int key, status = 2, stats = 0;
  unsigned flags = 0;

  memset(&st, 0, sizeof(st));
  cli_parser_init(&ps, cmd, argc, argv);
  while((key = cli_next(&ps, &arg)) != CLI_END) {
    switch(key) {
    case 'r': rules = arg; break;
    case 'v': st.verbose = 1; break;
    case OPT_AUDIT: audit_path = arg; break;
    case OPT_STATS: stats = 1; break;
    case OPT_REPORT_ONLY: flags |= CURLFENCE_ATTACH_REPORT_ONLY; break;
    default: return ps.status;
    }
  }
  if(ps.noperands != 1)
    return cli_usage_error(cmd, "expected one URL");
  if(cli_load_policy(rules, &p))
    return 2;
  if(audit_path && curlfence_sink_open_file(&st.audit, audit_path, &err)) {
    fprintf(stderr, CLI_PROG ": %s\n", err.text);
    goto out;
  }
  if(curl_global_init(CURL_GLOBAL_DEFAULT) || !(h = curl_easy_init()) ||
     curlfence_guard_new(&g, p) ||
     curlfence_guard_set_audit(g, fetch_audit, &st,
                               st.verbose || st.audit ? CURLFENCE_AUDIT_ALL
                                                      : CURLFENCE_AUDIT_DENIED)) {
    fputs(CLI_PROG ": cannot set up libcurl\n", stderr);
    goto out;
  }
  curl_easy_setopt(h, CURLOPT_URL, CLI_OPERANDS(&ps)[0]);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
  /* Only HTTP(S): file:// and others never open a socket to check. */
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
  if(curlfence_attach(h, g, flags)) {
    fputs(CLI_PROG ": cannot attach the policy\n", stderr);
    goto out;
  }
  rc = curl_easy_perform(h);
  if(rc != CURLE_OK) {
    if(!st.blocked)
      fprintf(stderr, CLI_PROG ": %s\n", curl_easy_strerror(rc));
  }
  status = (int)rc;
  if(stats)
    print_stats(g);
out:
  if(h)
    curl_easy_cleanup(h);
  curlfence_guard_free(g);
  curlfence_policy_unref(p);
  curlfence_sink_free(st.audit);
  curl_global_cleanup();
  return status;
}

const cli_cmd cli_cmd_fetch = {
  "fetch", "URL",
  "fetch URL through a guard and report blocked connections",
  "Exit status: libcurl's CURLcode (7: a connection was blocked),\n"
  "2 on usage or rules errors.\n",
  fetch_opts, run_fetch
};
