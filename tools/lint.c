/* SPDX-License-Identifier: MIT */
/*
 * curlfence lint RULES...: load errors, and rules that never decide
 * anything, repeat another, only say what the rule below them says, or
 * open what rules/default.rules denies.  Each finding is one line,
 * FILE:LINE:COLUMN: SEVERITY: MESSAGE [NAME], or one JSON object.  Exit
 * 0 when there are no warnings (notes allowed), 1 with warnings, 2 when a
 * file does not load.  The analysis is cf_lint() in lib/review/lint.c.
 */
#include "cli.h"
#include "review/review.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static const cli_opt lint_opts[] = {
  CLI_OPT_JSON,
  CLI_OPT_HELP,
  CLI_OPT_END
};

/* A rules file's text, read once to find columns. */
typedef struct src {
  char *text;
  size_t len;
  int tried;
  unsigned at_line;       /* findings come in line order: resume here */
  size_t at_off;
} src;

typedef struct lint_out {
  const cf_ruleset *rs;
  src *srcs;
  const unsigned char *baseline;
  int json;
  int warnings, notes;
} lint_out;

static int is_warning(cf_lint_kind k)
{
  return k == CF_LINT_SHADOWED || k == CF_LINT_PORT_NEVER_WINS ||
         k == CF_LINT_DUPLICATE;
}

/* Column of the first word on line `line` of file f (1 when unknown). */
static unsigned column_of(lint_out *o, uint32_t f, unsigned line)
{
  src *s = &o->srcs[f];
  size_t i = 0;
  unsigned l = 1, col = 1;

  if(!s->tried) {
    FILE *fp = fopen(o->rs->files[f], "rb");

    s->tried = 1;
    if(fp) {
      size_t cap = 0;
      char buf[65536];
      size_t got;

      while((got = fread(buf, 1, sizeof(buf), fp)) > 0) {
        char *q = realloc(s->text, cap + got);
        if(!q)
          break;
        s->text = q;
        memcpy(s->text + cap, buf, got);
        cap += got;
      }
      s->len = cap;
      fclose(fp);
    }
  }
  if(!s->text)
    return 1;
  if(s->at_line && s->at_line <= line) {
    l = s->at_line;
    i = s->at_off;
  }
  while(i < s->len && l < line) {
    if(s->text[i++] == '\n')
      l++;
  }
  s->at_line = l;
  s->at_off = i;
  while(i < s->len && (s->text[i] == ' ' || s->text[i] == '\t')) {
    i++;
    col++;
  }
  return col;
}

/* "line 3 (deny 10.0.0.0/8)" for a rule of the same file, else
 * "other.rules:3 (deny 10.0.0.0/8)" */
static void ref(char *buf, size_t n, const cf_ruleset *rs, long other,
                uint32_t file)
{
  const cf_rule *r = &rs->rules[other];

  if(r->file == file)
    snprintf(buf, n, "line %u (%s)", r->line, CF_RULE_TEXT(rs, r));
  else
    snprintf(buf, n, "%s:%u (%s)", rs->files[r->file], r->line,
             CF_RULE_TEXT(rs, r));
}

static int on_finding(const cf_lint_finding *f, void *userdata)
{
  lint_out *o = userdata;
  const cf_ruleset *rs = o->rs;
  const cf_rule *r = &rs->rules[f->rule];
  char msg[3000], other[1400], where[INET6_ADDRSTRLEN];
  const char *sev = is_warning(f->kind) ? "warning" : "note";
  unsigned col;

  /* The baseline's own choices are not the reviewed file's findings. */
  if(o->baseline && o->baseline[r->file] && r->file != 0)
    return 0;
  other[0] = '\0';
  if(f->other >= 0)
    ref(other, sizeof(other), rs, f->other, r->file);
  switch(f->kind) {
  case CF_LINT_SHADOWED:
    if(f->other >= 0)
      snprintf(msg, sizeof(msg), "never decides: %s wins on the same prefix",
               other);
    else
      snprintf(msg, sizeof(msg), "never decides: more specific rules decide "
               "every address and port it covers");
    break;
  case CF_LINT_PORT_NEVER_WINS:
    if(f->other >= 0)
      snprintf(msg, sizeof(msg), "port rule never wins: %s ranks above it "
               "for all of its ports", other);
    else
      snprintf(msg, sizeof(msg), "port rule never wins: more specific rules "
               "decide every address and port it covers");
    break;
  case CF_LINT_DUPLICATE:
    snprintf(msg, sizeof(msg), "duplicate of %s", other);
    break;
  case CF_LINT_REDUNDANT:
    if(f->other >= 0)
      snprintf(msg, sizeof(msg), "redundant: wherever it decides, %s would "
               "decide the same", other);
    else
      snprintf(msg, sizeof(msg), "redundant: wherever it decides, the "
               "default (%s) would decide the same",
               rs->dflt.set ? rs->dflt.text : "default deny, built in");
    break;
  case CF_LINT_OPENS_BASELINE:
    inet_ntop(r->v6 ? AF_INET6 : AF_INET, f->where, where, sizeof(where));
    snprintf(msg, sizeof(msg), "allows addresses that %s denies, such as %s",
             other, where);
    break;
  }
  col = column_of(o, r->file, r->line);
  if(is_warning(f->kind))
    o->warnings++;
  else
    o->notes++;
  if(o->json) {
    fputs("{\"file\":", stdout);
    cli_json_string(stdout, rs->files[r->file]);
    printf(",\"line\":%u,\"column\":%u,\"severity\":\"%s\",\"name\":\"%s\","
           "\"message\":", r->line, col, sev, cf_lint_name(f->kind));
    cli_json_string(stdout, msg);
    fputs(",\"rule\":", stdout);
    cli_json_string(stdout, CF_RULE_TEXT(rs, r));
    if(f->other >= 0) {
      const cf_rule *x = &rs->rules[f->other];
      fputs(",\"related\":{\"file\":", stdout);
      cli_json_string(stdout, rs->files[x->file]);
      printf(",\"line\":%u,\"rule\":", x->line);
      cli_json_string(stdout, CF_RULE_TEXT(rs, x));
      fputs("}}\n", stdout);
    }
    else
      fputs(",\"related\":null}\n", stdout);
    return 0;
  }
  printf("%s:%u:%u: %s: %s [%s]\n", rs->files[r->file], r->line, col, sev,
         msg, cf_lint_name(f->kind));
  return 0;
}

/* ---------------------------------------------------------- host rules */

static void host_finding(lint_out *o, const cf_hostrule *h, int warning,
                         const char *name, const char *msg,
                         const cf_hostrule *other)
{
  const cf_ruleset *rs = o->rs;
  unsigned col = column_of(o, h->file, h->line);

  if(o->baseline && o->baseline[h->file] && h->file != 0)
    return;
  if(warning)
    o->warnings++;
  else
    o->notes++;
  if(o->json) {
    fputs("{\"file\":", stdout);
    cli_json_string(stdout, rs->files[h->file]);
    printf(",\"line\":%u,\"column\":%u,\"severity\":\"%s\",\"name\":\"%s\","
           "\"message\":", h->line, col, warning ? "warning" : "note", name);
    cli_json_string(stdout, msg);
    fputs(",\"rule\":", stdout);
    cli_json_string(stdout, rs->texts + h->text);
    if(other) {
      fputs(",\"related\":{\"file\":", stdout);
      cli_json_string(stdout, rs->files[other->file]);
      printf(",\"line\":%u,\"rule\":", other->line);
      cli_json_string(stdout, rs->texts + other->text);
      fputs("}}\n", stdout);
    }
    else
      fputs(",\"related\":null}\n", stdout);
    return;
  }
  printf("%s:%u:%u: %s: %s [%s]\n", rs->files[h->file], h->line, col,
         warning ? "warning" : "note", msg, name);
}

static const cf_ruleset *sort_rs;

/* By name (wildcards apart), then file order. */
static int host_order(const void *pa, const void *pb)
{
  size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
  const cf_hostrule *x = &sort_rs->hosts[a], *y = &sort_rs->hosts[b];
  int c;

  if(x->wild != y->wild)
    return x->wild - y->wild;
  if(x->namelen != y->namelen)
    return x->namelen < y->namelen ? -1 : 1;
  if((c = memcmp(sort_rs->texts + x->name, sort_rs->texts + y->name,
                 x->namelen)))
    return c;
  return a < b ? -1 : a > b;
}

/* Rule a, earlier and for the same name, decides wherever b would: same
 * action, no port list, and for an exemption a prefix holding b's. */
static int host_covers(const cf_hostrule *a, const cf_hostrule *b)
{
  if(a->action != b->action || a->to != b->to || a->nports)
    return 0;
  return !a->to || (a->v6 == b->v6 && a->plen <= b->plen &&
                    cf_prefix_equal(a->addr, b->addr, a->plen));
}

/* Host rules that can never decide (docs/rules.md, 5.2): an allow host
 * rule under default allow, and one an earlier rule for the same name
 * decides before at every port. */
static int lint_hosts(lint_out *o)
{
  const cf_ruleset *rs = o->rs;
  int dflt_allow = rs->dflt.set && rs->dflt.action == CURLFENCE_ALLOW;
  size_t *ix, i, j;
  char msg[1400];

  if(!rs->nhosts)
    return 0;
  ix = malloc(rs->nhosts * sizeof(*ix));
  if(!ix)
    return -1;
  for(i = 0; i < rs->nhosts; i++)
    ix[i] = i;
  sort_rs = rs;
  qsort(ix, rs->nhosts, sizeof(*ix), host_order);
  for(i = 0; i < rs->nhosts; i++) {
    const cf_hostrule *h = &rs->hosts[ix[i]], *by = NULL;

    for(j = i; j-- > 0;) {
      const cf_hostrule *e = &rs->hosts[ix[j]];

      if(e->wild != h->wild || e->namelen != h->namelen ||
         memcmp(rs->texts + e->name, rs->texts + h->name, h->namelen))
        break;
      if(host_covers(e, h))
        by = e;
    }
    if(by) {
      snprintf(msg, sizeof(msg), "never decides: %s:%u (%s) decides first "
               "for the same name at every port", rs->files[by->file],
               by->line, rs->texts + by->text);
      host_finding(o, h, 1, "shadowed", msg, by);
    }
    else if(dflt_allow && h->action == CURLFENCE_ALLOW && !h->to)
      host_finding(o, h, 1, "host-never-decides", "never decides: under "
                   "default allow it allows only what the default allows "
                   "(write allow host NAME to PREFIX to exempt the name "
                   "from an address rule)", NULL);
  }
  free(ix);
  return 0;
}

static const char *error_name(curlfence_code c)
{
  switch(c) {
  case CURLFENCE_E_IO: return "io";
  case CURLFENCE_E_SYNTAX: return "syntax";
  case CURLFENCE_E_ADDRESS: return "address";
  case CURLFENCE_E_PORT: return "port";
  case CURLFENCE_E_DUPLICATE: return "duplicate-setting";
  case CURLFENCE_E_INCLUDE: return "include";
  case CURLFENCE_E_LIMIT: return "limit";
  case CURLFENCE_E_IMAGE: return "image";
  case CURLFENCE_E_EXPECT: return "expect";
  default: return "error";
  }
}

/* Files whose denials an allow elsewhere is reported for opening: the
 * default rules, by name or as installed, and the never-reach list they
 * include (by name: an allowlist includes it alone). */
static unsigned char *baseline_files(const cf_ruleset *rs)
{
  unsigned char *b = calloc(rs->nfiles ? rs->nfiles : 1, 1);
  char def[PATH_MAX], path[PATH_MAX];
  int have_def = realpath(cli_default_rules(), def) != NULL;

  if(!b)
    return NULL;
  for(size_t i = 0; i < rs->nfiles; i++) {
    const char *base = strrchr(rs->files[i], '/');

    base = base ? base + 1 : rs->files[i];
    if(!strcmp(base, "default.rules") || !strcmp(base, "never-reach.rules") ||
       (have_def && realpath(rs->files[i], path) && !strcmp(path, def)))
      b[i] = 1;
  }
  return b;
}

static int lint_file(const char *path, int json)
{
  cf_ruleset rs;
  curlfence_error err;
  lint_out o;
  curlfence_code rc;
  char *text = NULL;
  size_t len = 0;
  int status;

  memset(&rs, 0, sizeof(rs));
  if(!strcmp(path, "-")) {
    if(cli_read_stdin(&text, &len))
      return 2;
    rc = cf_rules_parse_string(&rs, text, len, CLI_STDIN_NAME, &err);
  }
  else if(cf_image_probe(path)) {
    /* an image holds no rules text to review */
    rc = CURLFENCE_E_IMAGE;
    cf_error_set(&err, rc, path, 0, 0, "is a compiled image: give the rules "
                 "file it was compiled from");
  }
  else
    rc = cf_rules_parse_file(&rs, path, &err);
  if(!rc)
    rc = cf_expect_check_rules(&rs, &err);
  if(rc) {
    if(json) {
      fputs("{\"file\":", stdout);
      cli_json_string(stdout, err.file[0] ? err.file : path);
      printf(",\"line\":%u,\"column\":%u,\"severity\":\"error\",\"name\":"
             "\"%s\",\"message\":", err.line, err.column, error_name(rc));
      cli_json_string(stdout, err.message);
      fputs(",\"rule\":null,\"related\":null}\n", stdout);
    }
    else
      printf("%s [%s]\n", err.text, error_name(rc));
    cf_ruleset_free(&rs);
    free(text);
    return 2;
  }
  memset(&o, 0, sizeof(o));
  o.rs = &rs;
  o.json = json;
  o.srcs = calloc(rs.nfiles ? rs.nfiles : 1, sizeof(*o.srcs));
  o.baseline = baseline_files(&rs);
  if(o.srcs && text) {
    /* standard input cannot be read again for the columns: the text
     * parsed is file 0 */
    o.srcs[0].text = text;
    o.srcs[0].len = len;
    o.srcs[0].tried = 1;
    text = NULL;
  }
  free(text);
  if(!o.srcs || !o.baseline)
    rc = CURLFENCE_E_NOMEM;
  else
    rc = cf_lint(&rs, o.baseline, on_finding, &o);
  if(!rc && lint_hosts(&o))
    rc = CURLFENCE_E_NOMEM;
  status = rc ? 2 : o.warnings ? 1 : 0;
  if(rc)
    fprintf(stderr, CLI_PROG ": %s: %s\n", path, curlfence_strerror(rc));
  for(size_t i = 0; o.srcs && i < rs.nfiles; i++)
    free(o.srcs[i].text);
  free(o.srcs);
  free((void *)o.baseline);
  cf_ruleset_free(&rs);
  return status;
}

static int run_lint(const cli_cmd *cmd, int argc, char **argv)
{
  const char *arg;
  cli_parser ps;
  int key, json = 0, status = 0;

  cli_parser_init(&ps, cmd, argc, argv);
  while((key = cli_next(&ps, &arg)) != CLI_END) {
    switch(key) {
    case CLI_KEY_JSON: json = 1; break;
    default: return ps.status;
    }
  }
  if(ps.noperands < 1)
    return cli_usage_error(cmd, "expected one or more rules files, or - "
                           "for standard input");
  for(int i = 0, seen = 0; i < ps.noperands; i++)
    if(!strcmp(CLI_OPERANDS(&ps)[i], "-") && seen++)
      return cli_usage_error(cmd, "standard input (-) can be read only "
                             "once");
  for(int i = 0; i < ps.noperands; i++) {
    int s = lint_file(CLI_OPERANDS(&ps)[i], json);
    if(s > status)
      status = s;
  }
  if(fflush(stdout) || ferror(stdout)) {
    fputs(CLI_PROG ": cannot write to standard output\n", stderr);
    return 2;
  }
  return status;
}

const cli_cmd cli_cmd_lint = {
  "lint", "RULES...",
  "report load errors and rules that never decide or repeat others",
  "Findings, with their stable names:\n"
  "  warning [shadowed]         a rule without ports that never decides\n"
  "  warning [port-never-wins]  a port rule that never decides\n"
  "  warning [duplicate]        the same rule as an earlier one\n"
  "  note [redundant]           decides only what the rule below would\n"
  "  note [opens-default-deny]  an allow over a deny of default.rules\n"
  "A RULES of - is read from standard input (its includes are relative to\n"
  "the working directory).\n"
  "Exit status: 0 no warnings (notes allowed), 1 warnings, 2 errors.\n",
  lint_opts, run_lint
};
