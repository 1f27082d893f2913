/*
 * curlfence(1): check addresses against a rules file.
 *
 *   curlfence check [-r RULES] ADDRESS [PORT]
 *   curlfence fetch [-r RULES] [-v] [--audit FILE] [--stats] [--report-only] URL
 *
 * check exits 0 when allowed, 1 when denied, 2 on usage or rules errors.
 * fetch exits with libcurl's CURLcode (7 when a connection was blocked),
 * or 2 on usage or rules errors.
 */
#include "curlfence.h"
#include "run.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_RULES "rules/default.rules"

static void usage(FILE *f)
{
  fputs("usage: curlfence check [-r RULES] ADDRESS [PORT]\n"
        "       curlfence fetch [-r RULES] [-v] [--audit FILE] [--stats]\n"
        "                       [--report-only] URL\n"
        "       curlfence run [-r RULES] [--audit FILE] [--report-only]\n"
        "                     [--keep-proxy] -- COMMAND [ARG...]\n"
        "       curlfence version\n"
        "RULES defaults to " DEFAULT_RULES ".\n"
        "check exits 0 when allowed, 1 when denied; fetch exits with\n"
        "libcurl's code (7: blocked); both exit 2 on usage or rules errors.\n",
        f);
}

/* "(file:line: rule)" or "(built-in: rule)" */
static void print_verdict_source(FILE *f, const curlfence_verdict *v)
{
  if(v->file)
    fprintf(f, "%s:%u: %s", v->file, v->line, v->rule);
  else
    fprintf(f, "built-in: %s", v->rule);
}

static int parse_port(const char *s, unsigned *port)
{
  char *end;
  unsigned long v = strtoul(s, &end, 10);

  if(!*s || *end || v > 65535 || s[0] == '-' || s[0] == '+')
    return -1;
  *port = (unsigned)v;
  return 0;
}

static int cmd_check(int argc, char **argv)
{
  const char *rules = DEFAULT_RULES;
  struct sockaddr_storage ss;
  socklen_t sslen;
  curlfence_policy *p = NULL;
  curlfence_error err;
  curlfence_verdict v;
  unsigned port = 0;
  int opt;

  optind = 1;
  while((opt = getopt(argc, argv, "r:h")) != -1) {
    switch(opt) {
    case 'r': rules = optarg; break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if(argc - optind < 1 || argc - optind > 2) {
    usage(stderr);
    return 2;
  }
  if(argc - optind == 2 && parse_port(argv[optind + 1], &port)) {
    fprintf(stderr, "curlfence: invalid port \"%s\" (expected 0-65535)\n",
            argv[optind + 1]);
    return 2;
  }
  memset(&ss, 0, sizeof(ss));
  {
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    const char *a = argv[optind];

    if(inet_pton(AF_INET, a, &in->sin_addr) == 1) {
      in->sin_family = AF_INET;
      in->sin_port = htons((uint16_t)port);
      sslen = sizeof(*in);
    }
    else if(inet_pton(AF_INET6, a, &in6->sin6_addr) == 1) {
      in6->sin6_family = AF_INET6;
      in6->sin6_port = htons((uint16_t)port);
      sslen = sizeof(*in6);
    }
    else {
      fprintf(stderr, "curlfence: \"%s\" is not a numeric IPv4 or IPv6 "
              "address\n", a);
      return 2;
    }
  }
  if(curlfence_policy_load_file(&p, rules, &err)) {
    fprintf(stderr, "curlfence: %s\n", err.text);
    return 2;
  }
  curlfence_policy_decide(p, (struct sockaddr *)&ss, sslen, &v);
  printf("%s %s", v.action == CURLFENCE_ALLOW ? "allow" : "deny",
         argv[optind]);
  if(port)
    printf(" port %u", port);
  fputs(" (", stdout);
  print_verdict_source(stdout, &v);
  fputs(")\n", stdout);
  curlfence_policy_unref(p);
  return v.action == CURLFENCE_ALLOW ? 0 : 1;
}

/* ------------------------------------------------------------- fetch */

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
    fprintf(stderr, "curlfence: %s\n", line);
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
  fprintf(stderr, "curlfence: stats: generation %llu, allowed %llu, denied "
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
      fprintf(stderr, "curlfence: stats: %llu x %s:%u: %s\n",
              (unsigned long long)rs[i].hits, rs[i].file, rs[i].line,
              rs[i].rule);
    else
      fprintf(stderr, "curlfence: stats: %llu x built-in: %s\n",
              (unsigned long long)rs[i].hits, rs[i].rule);
  }
  free(rs);
  curlfence_policy_unref(p);
}

static int cmd_fetch(int argc, char **argv)
{
  static const struct option longopts[] = {
    { "rules", required_argument, NULL, 'r' },
    { "audit", required_argument, NULL, 'a' },
    { "verbose", no_argument, NULL, 'v' },
    { "stats", no_argument, NULL, 's' },
    { "report-only", no_argument, NULL, 'R' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 }
  };
  const char *rules = DEFAULT_RULES, *audit_path = NULL;
  fetch_state st;
  curlfence_policy *p = NULL;
  curlfence_guard *g = NULL;
  curlfence_error err;
  CURL *h = NULL;
  CURLcode rc;
  int opt, status = 2, stats = 0;
  unsigned flags = 0;

  memset(&st, 0, sizeof(st));
  optind = 1;
  while((opt = getopt_long(argc, argv, "r:vh", longopts, NULL)) != -1) {
    switch(opt) {
    case 'r': rules = optarg; break;
    case 'a': audit_path = optarg; break;
    case 'v': st.verbose = 1; break;
    case 's': stats = 1; break;
    case 'R': flags |= CURLFENCE_ATTACH_REPORT_ONLY; break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if(argc - optind != 1) {
    usage(stderr);
    return 2;
  }
  if(curlfence_policy_load_file(&p, rules, &err)) {
    fprintf(stderr, "curlfence: %s\n", err.text);
    return 2;
  }
  if(audit_path && curlfence_sink_open_file(&st.audit, audit_path, &err)) {
    fprintf(stderr, "curlfence: %s\n", err.text);
    goto out;
  }
  if(curl_global_init(CURL_GLOBAL_DEFAULT) || !(h = curl_easy_init()) ||
     curlfence_guard_new(&g, p) ||
     curlfence_guard_set_audit(g, fetch_audit, &st,
                               st.verbose || st.audit ? CURLFENCE_AUDIT_ALL
                                                      : CURLFENCE_AUDIT_DENIED)) {
    fputs("curlfence: cannot set up libcurl\n", stderr);
    goto out;
  }
  curl_easy_setopt(h, CURLOPT_URL, argv[optind]);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
  /* Only HTTP(S): file:// and others never open a socket to check. */
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
  if(curlfence_attach(h, g, flags)) {
    fputs("curlfence: cannot attach the policy\n", stderr);
    goto out;
  }
  rc = curl_easy_perform(h);
  if(rc != CURLE_OK) {
    if(!st.blocked)
      fprintf(stderr, "curlfence: %s\n", curl_easy_strerror(rc));
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

int main(int argc, char **argv)
{
  if(argc < 2) {
    usage(stderr);
    return 2;
  }
  if(strcmp(argv[1], "check") == 0)
    return cmd_check(argc - 1, argv + 1);
  if(strcmp(argv[1], "fetch") == 0)
    return cmd_fetch(argc - 1, argv + 1);
  if(strcmp(argv[1], "run") == 0)
    return cmd_run(argc - 1, argv + 1);
  if(strcmp(argv[1], "version") == 0) {
    printf("curlfence %s\n", curlfence_version());
    return 0;
  }
  if(strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
    usage(stdout);
    return 0;
  }
  usage(stderr);
  return 2;
}
