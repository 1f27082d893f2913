/* SPDX-License-Identifier: MIT */
/*
 * curlfence report: summarise audit logs (docs/audit.md).  Connections
 * are counted from "open" checks only, since every allowed connection
 * also gives a "reused" check per request (docs/audit.md section 1.1).
 * With --unused -r RULES it lists instead the address rules of RULES that
 * decided none of the logged connections.
 */
#include "cli.h"
#include "auditlog.h"
#include "guard/guard.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define OPT_SINCE (CLI_LONG_ONLY + 1)
#define OPT_UNTIL (CLI_LONG_ONLY + 2)
#define OPT_TOP (CLI_LONG_ONLY + 3)
#define OPT_UNUSED (CLI_LONG_ONLY + 4)

static const cli_opt report_opts[] = {
  { "since", OPT_SINCE, "TIME", "only events at or after TIME (RFC 3339)" },
  { "until", OPT_UNTIL, "TIME", "only events before TIME" },
  { "top", OPT_TOP, "N", "entries in each top list (default 10)" },
  { "unused", OPT_UNUSED, NULL, "the rules of -r FILE that decided nothing" },
  { "rules", 'r', "FILE", "the rules file --unused lists rules of" },
  { "json", CLI_KEY_JSON, NULL, "one JSON document" },
  CLI_OPT_HELP,
  CLI_OPT_END
};

typedef struct report {
  const char *since, *until;
  char first[40], last[40];
  unsigned long long open[3];     /* allowed, denied, reported */
  unsigned long long reused[3];
  unsigned long long outside;     /* events outside --since/--until */
  cli_tally dests, hosts, rules, progs;
} report;

/* Keys hold the parts of what they count, each part but the last preceded
 * by its length, so that no byte of a file name or a unix socket path can
 * be taken for a separator.  They are built by hand: printf costs more
 * than reading the line did. */
static int put(char **p, char *end, const char *s, size_t n)
{
  if((size_t)(end - *p) <= n)
    return -1;
  memcpy(*p, s, n);
  *p += n;
  **p = '\0';
  return 0;
}

static int put_num(char **p, char *end, unsigned long long v)
{
  char tmp[24], *q = tmp + sizeof(tmp);

  do
    *--q = (char)('0' + v % 10);
  while(v /= 10);
  return put(p, end, q, (size_t)(tmp + sizeof(tmp) - q));
}

/* "PORT WHAT": a destination by address or by name. */
static int dest_key(char *buf, size_t size, unsigned port, const char *what)
{
  char *p = buf, *end = buf + size;

  return put_num(&p, end, port) || put(&p, end, " ", 1) ||
         put(&p, end, what, strlen(what));
}

/* "PORT ADDR" and "LINE LEN FILE TEXT" keys, taken apart again. */
static const char *key_port(const char *key, unsigned *port)
{
  char *end;

  *port = (unsigned)strtoul(key, &end, 10);
  return end + 1;
}

static void key_rule(const char *key, unsigned long *line, const char **file,
                     size_t *flen, const char **text)
{
  char *end;
  long n;

  *line = strtoul(key, &end, 10);
  n = strtol(end + 1, &end, 10);
  end++;
  if(n < 0) {
    *file = NULL;
    *flen = 0;
  }
  else {
    *file = end;
    *flen = (size_t)n;
    end += n;
  }
  *text = end;
}

static int rule_key(char *buf, size_t size, const char *file,
                    unsigned long line, const char *text)
{
  char *p = buf, *end = buf + size;
  size_t n = file ? strlen(file) : 0;

  return put_num(&p, end, line) || put(&p, end, " ", 1) ||
         (file ? put_num(&p, end, n) : put(&p, end, "-1", 2)) ||
         put(&p, end, " ", 1) || (file && put(&p, end, file, n)) ||
         put(&p, end, text, strlen(text));
}

static int count(cli_tally *t, const char *key, const cli_event *ev,
                 int denied)
{
  cli_tally_ent *e = cli_tally_get(t, key);

  if(!e) {
    fputs(CLI_PROG ": out of memory\n", stderr);
    return -1;
  }
  cli_tally_hit(e, ev->time);
  e->aux += (unsigned long long)denied;
  return 0;
}

static void keep_time(char *dst, const char *time, int later)
{
  int c = strcmp(time, dst);

  if(!*dst || (later ? c > 0 : c < 0))
    snprintf(dst, 40, "%s", time);
}

static int on_event(const cli_event *ev, void *ud)
{
  report *r = ud;
  char key[8192];
  int kind = !ev->deny ? 0 : ev->enforced ? 1 : 2;

  if((r->since && strcmp(ev->time, r->since) < 0) ||
     (r->until && strcmp(ev->time, r->until) >= 0)) {
    r->outside++;
    return 0;
  }
  keep_time(r->first, ev->time, 0);
  keep_time(r->last, ev->time, 1);
  if(ev->reused) {
    r->reused[kind]++;
    return 0;
  }
  r->open[kind]++;
  if(!rule_key(key, sizeof(key), ev->rule_file, ev->rule_line,
               ev->rule_text) &&
     count(&r->rules, key, ev, kind != 0))
    return -1;
  {
    char *p = key;

    put_num(&p, key + sizeof(key), ev->pid);
  }
  if(count(&r->progs, key, ev, kind != 0))
    return -1;
  if(!kind)
    return 0;
  if(!dest_key(key, sizeof(key), ev->port, ev->addr) &&
     count(&r->dests, key, ev, kind == 1))
    return -1;
  if(ev->host && !dest_key(key, sizeof(key), ev->port, ev->host) &&
     count(&r->hosts, key, ev, kind == 1))
    return -1;
  return 0;
}

/* ------------------------------------------------------------- output */

/* Row i of a top list, as JSON or text; key names the field of a
 * destination's address or name. */
typedef void (*top_row)(const cli_tally_ent *e, long i, int json,
                        const char *key);

/* The first top entries of t, most first: a list under jkey, or under
 * the heading "top title:" when there is any. */
static void print_top(const char *title, const char *jkey, const cli_tally *t,
                      long top, int json, int *comma, top_row row,
                      const char *key)
{
  cli_tally_ent **v = cli_tally_sorted(t);
  long i;

  if(!v)
    return;
  if(json)
    printf("%s\"%s\":[", *comma ? "," : "", jkey);
  else if(t->n)
    printf("\ntop %s:\n", title);
  for(i = 0; v[i] && i < top; i++)
    row(v[i], i, json, key);
  if(json)
    putchar(']');
  *comma = 1;
  free(v);
}

static void dest_row(const cli_tally_ent *e, long i, int json,
                     const char *key)
{
  unsigned port;
  const char *what = key_port(e->key, &port);

  if(json) {
    printf("%s{\"%s\":", i ? "," : "", key);
    cli_json_string(stdout, what);
    printf(",\"port\":%u,\"count\":%llu,\"enforced\":%llu,\"first\":\"%s\","
           "\"last\":\"%s\"}", port, e->count, e->aux, e->first, e->last);
  }
  else
    printf("%10llu  %s port %u%s\n", e->count, what, port,
           e->aux == e->count ? "" :
           e->aux ? " (some in report-only mode)" : " (report-only mode)");
}

static void rule_row(const cli_tally_ent *e, long i, int json,
                     const char *key)
{
  unsigned long line;
  const char *file, *text;
  size_t flen;
  char name[PATH_MAX + 1];

  (void)key;
  key_rule(e->key, &line, &file, &flen, &text);
  snprintf(name, sizeof(name), "%.*s", (int)flen, file ? file : "");
  if(json) {
    printf("%s{\"file\":", i ? "," : "");
    cli_json_string(stdout, file ? name : NULL);
    printf(",\"line\":%lu,\"text\":", line);
    cli_json_string(stdout, text);
    printf(",\"count\":%llu,\"denied\":%llu}", e->count, e->aux);
  }
  else if(file)
    printf("%10llu  %s:%lu: %s\n", e->count, name, line, text);
  else
    printf("%10llu  built-in: %s\n", e->count, text);
}

static void prog_row(const cli_tally_ent *e, long i, int json,
                     const char *key)
{
  (void)key;
  if(json)
    printf("%s{\"pid\":%s,\"connections\":%llu,\"denied\":%llu}",
           i ? "," : "", e->key, e->count, e->aux);
  else
    printf("%10llu  pid %s, %llu denied\n", e->count, e->key, e->aux);
}

static void print_report(const report *r, const cli_readstats *st, long top,
                         int json)
{
  unsigned long long decided = r->open[0] + r->open[1] + r->open[2];
  int comma = 1;

  if(json) {
    printf("{\"events\":%llu,\"invalid\":%llu,\"lost\":%llu,"
           "\"outside\":%llu,\"first\":", st->events, st->invalid, st->lost,
           r->outside);
    cli_json_string(stdout, *r->first ? r->first : NULL);
    fputs(",\"last\":", stdout);
    cli_json_string(stdout, *r->last ? r->last : NULL);
    printf(",\"connections\":{\"decided\":%llu,\"allowed\":%llu,"
           "\"denied\":%llu,\"reported\":%llu},"
           "\"reused\":{\"checked\":%llu,\"denied\":%llu,\"reported\":%llu}",
           decided, r->open[0], r->open[1], r->open[2],
           r->reused[0] + r->reused[1] + r->reused[2], r->reused[1],
           r->reused[2]);
  }
  else {
    if(*r->first)
      printf("time range: %s .. %s\n", r->first, r->last);
    else
      printf("time range: no events\n");
    printf("events: %llu read, %llu invalid lines, %llu lost by their "
           "writers", st->events, st->invalid, st->lost);
    if(r->outside)
      printf(", %llu outside the time range", r->outside);
    printf("\nconnections: %llu decided, %llu allowed, %llu denied, "
           "%llu would have been denied (report-only mode let them "
           "through)\n", decided, r->open[0], r->open[1], r->open[2]);
    printf("requests on reused connections: %llu checked, %llu denied, "
           "%llu would have been denied\n",
           r->reused[0] + r->reused[1] + r->reused[2], r->reused[1],
           r->reused[2]);
    if(st->lost)
      printf("warning: the logs are incomplete: their writers lost %llu "
             "events\n", st->lost);
  }
  if(r->hosts.n || json)
    print_top("denied names", "top_denied_names", &r->hosts, top, json,
              &comma, dest_row, "host");
  print_top("denied destinations", "top_denied", &r->dests, top, json,
            &comma, dest_row, "addr");
  print_top("deciding rules", "top_rules", &r->rules, top, json, &comma,
            rule_row, NULL);
  print_top("programs", "top_programs", &r->progs, top, json, &comma,
            prog_row, NULL);
  if(json)
    puts("}");
}

/* The address rules of rs that decided no logged connection.  Rules are
 * matched to events by file name and line; a name that resolves is
 * compared resolved, so "rules/x.rules" and "/abs/rules/x.rules" meet. */
static int print_unused(const report *r, const char *rules, int json)
{
  cf_ruleset rs;
  cli_tally used = { NULL, 0, 0 };
  size_t i, k;
  int first = 1;
  char key[PATH_MAX + 64], real[PATH_MAX];

  if(cli_load_ruleset(rules, &rs)) {
    cf_ruleset_free(&rs);
    return 2;
  }
  for(k = 0; k < r->rules.cap; k++) {
    unsigned long line;
    const char *file, *text;
    size_t flen;
    char name[PATH_MAX + 1];

    if(!r->rules.ents[k].key)
      continue;
    key_rule(r->rules.ents[k].key, &line, &file, &flen, &text);
    if(!file)
      continue;
    snprintf(name, sizeof(name), "%.*s", (int)flen, file);
    snprintf(key, sizeof(key), "%lu %s", line,
             realpath(name, real) ? real : name);
    if(!cli_tally_get(&used, key)) {
      fputs(CLI_PROG ": out of memory\n", stderr);
      cli_tally_free(&used);
      cf_ruleset_free(&rs);
      return 2;
    }
  }
  if(json)
    fputs("{\"unused\":[", stdout);
  for(i = 0; i < rs.nrules; i++) {
    const cf_rule *rule = &rs.rules[i];
    const char *file = rs.files[rule->file];

    snprintf(key, sizeof(key), "%lu %s", (unsigned long)rule->line,
             realpath(file, real) ? real : file);
    if(cli_tally_find(&used, key))
      continue;
    if(json) {
      printf("%s{\"file\":", first ? "" : ",");
      cli_json_string(stdout, file);
      printf(",\"line\":%lu,\"text\":", (unsigned long)rule->line);
      cli_json_string(stdout, CF_RULE_TEXT(&rs, rule));
      putchar('}');
    }
    else
      printf("%s:%lu: %s\n", file, (unsigned long)rule->line,
             CF_RULE_TEXT(&rs, rule));
    first = 0;
  }
  if(json)
    puts("]}");
  cli_tally_free(&used);
  cf_ruleset_free(&rs);
  return 0;
}

/* RFC 3339 as far as it is written: "2026-11-25", "2026-11-25T06",
 * ... "2026-11-25T06:52:23.744004Z".  Compared as text, like the events'
 * own times, so a date alone means its midnight. */
static int time_ok(const char *s)
{
  static const char shape[] = "dddd-dd-ddTdd:dd:dd";
  size_t i;

  for(i = 0; s[i] && shape[i]; i++)
    if(shape[i] == 'd' ? s[i] < '0' || s[i] > '9' : s[i] != shape[i])
      return 0;
  if(i < 10)
    return 0;
  if(!s[i])
    return 1;
  if(i < sizeof(shape) - 1)
    return 0;
  if(s[i] == '.')
    for(i++; s[i] >= '0' && s[i] <= '9'; i++)
      ;
  return !strcmp(s + i, "Z") || !s[i];
}

static int run_report(const cli_cmd *cmd, int argc, char **argv)
{
  report r;
  cli_readstats st;
  cli_parser ps;
  const char *arg, *rules = NULL;
  long top = 10;
  int key, json = 0, unused = 0, rc;

  memset(&r, 0, sizeof(r));
  cli_parser_init(&ps, cmd, argc, argv);
  while((key = cli_next(&ps, &arg)) != CLI_END) {
    switch(key) {
    case OPT_SINCE: r.since = arg; break;
    case OPT_UNTIL: r.until = arg; break;
    case OPT_TOP: {
      char *end;

      top = strtol(arg, &end, 10);
      if(*arg < '0' || *arg > '9' || *end || top < 1 || top > 1000000)
        return cli_usage_error(cmd, "invalid --top \"%s\" (expected 1 or "
                               "more)", arg);
      break;
    }
    case OPT_UNUSED: unused = 1; break;
    case 'r': rules = arg; break;
    case CLI_KEY_JSON: json = 1; break;
    default: return ps.status;
    }
  }
  if(!ps.noperands)
    return cli_usage_error(cmd, "missing FILE (- for standard input)");
  if(r.since && !time_ok(r.since))
    return cli_usage_error(cmd, "invalid --since \"%s\" (expected a time "
                           "such as 2026-11-25T06:52:23Z)", r.since);
  if(r.until && !time_ok(r.until))
    return cli_usage_error(cmd, "invalid --until \"%s\" (expected a time "
                           "such as 2026-11-25T06:52:23Z)", r.until);
  if(unused && !rules)
    return cli_usage_error(cmd, "--unused needs -r RULES");
  if(rules && !unused)
    return cli_usage_error(cmd, "-r RULES is for --unused");
  /* events name the file of their rule, which rules text read from
   * standard input does not have */
  if(unused && !strcmp(rules, "-"))
    return cli_usage_error(cmd, "--unused -r needs the rules file the "
                           "events name, not standard input");
  if(cli_auditlog_read(CLI_OPERANDS(&ps), ps.noperands, on_event, &r, &st))
    rc = 2;
  else if(unused)
    rc = print_unused(&r, rules, json);
  else {
    print_report(&r, &st, top, json);
    rc = 0;
  }
  if(!rc && st.invalid)
    rc = 1;
  cli_tally_free(&r.dests);
  cli_tally_free(&r.hosts);
  cli_tally_free(&r.rules);
  cli_tally_free(&r.progs);
  return rc;
}

const cli_cmd cli_cmd_report = {
  "report", "FILE...",
  "summarise audit logs: decisions, top denials, rules, programs",
  "FILE is a JSON Lines audit log (schema version 2 to 4), - for standard\n"
  "input.  Connections are counted once, from their \"open\" check.  Exit\n"
  "status: 0 read, 1 some lines were not audit events (each is named on\n"
  "standard error), 2 usage error or unreadable file or rules.\n",
  report_opts, run_report
};
