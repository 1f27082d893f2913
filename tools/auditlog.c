/* SPDX-License-Identifier: MIT */
/*
 * The audit log reader; see auditlog.h.  jansson parses any event, but
 * building a tree of every line costs more than reading a 1 GB log at disk
 * speed allows, so the lines the library writes (fixed key order, plain
 * ASCII, no escapes) are matched key by key first.  Whatever that match
 * does not accept is handed to jansson whole, so the fast path can only
 * be quicker, never more lenient.
 */
#include "auditlog.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ----------------------------------------------------------- fast path */

typedef struct scan {
  char *p, *end;
  char *cut[16];            /* closing quotes, NUL-terminated on success */
  int ncut;
} scan;

static int lit(scan *s, const char *text, size_t n)
{
  if((size_t)(s->end - s->p) < n || memcmp(s->p, text, n))
    return -1;
  s->p += n;
  return 0;
}
#define LIT(s, text) lit(s, text, sizeof(text) - 1)

static int str(scan *s, const char **out)
{
  char *b;

  if(s->p >= s->end || *s->p != '"' || s->ncut == 16)
    return -1;
  b = ++s->p;
  for(; s->p < s->end; s->p++) {
    unsigned char c = (unsigned char)*s->p;

    if(c == '"') {
      s->cut[s->ncut++] = s->p++;
      *out = b;
      return 0;
    }
    /* escapes and non-ASCII are jansson's to check */
    if(c == '\\' || c < 0x20 || c >= 0x7f)
      return -1;
  }
  return -1;
}

static int str_or_null(scan *s, const char **out)
{
  if(!LIT(s, "null")) {
    *out = NULL;
    return 0;
  }
  return str(s, out);
}

static int num(scan *s, unsigned long long *out)
{
  unsigned long long v = 0;
  char *b = s->p;

  /* jansson's integers are signed 64-bit: no larger here either */
  for(; s->p < s->end && *s->p >= '0' && *s->p <= '9'; s->p++) {
    if(v > (INT64_MAX - 9) / 10)
      return -1;
    v = v * 10 + (unsigned long long)(*s->p - '0');
  }
  if(s->p == b || (*b == '0' && s->p - b > 1))
    return -1;
  *out = v;
  return 0;
}

static int boolean(scan *s, int *out)
{
  if(!LIT(s, "true")) {
    *out = 1;
    return 0;
  }
  if(!LIT(s, "false")) {
    *out = 0;
    return 0;
  }
  return -1;
}

/* The words of "decision" and "check" as the event's flags. */
static int decision_word(const char *w, int *deny)
{
  if(!strcmp(w, "deny"))
    *deny = 1;
  else if(!strcmp(w, "allow"))
    *deny = 0;
  else
    return -1;
  return 0;
}

/* A program's own socket calls under the preload library ("connect",
 * "sendto", "sendmsg", "sendmmsg") each decide a new destination, as
 * "open" does. */
static int check_word(const char *w, int *reused)
{
  if(!strcmp(w, "reused"))
    *reused = 1;
  else if(!strcmp(w, "open") || !strcmp(w, "connect") ||
          !strcmp(w, "sendto") || !strcmp(w, "sendmsg") ||
          !strcmp(w, "sendmmsg"))
    *reused = 0;
  else
    return -1;
  return 0;
}

static int fast_parse(char *line, size_t len, cli_event *ev)
{
  scan s = { line, line + len, { NULL }, 0 };
  const char *decision, *transport, *check;
  unsigned long long port, line_no, n;
  int i;

  memset(ev, 0, sizeof(*ev));
  if(LIT(&s, "{\"v\":") || num(&s, &ev->v) ||
     LIT(&s, ",\"time\":") || str(&s, &ev->time) ||
     LIT(&s, ",\"decision\":") || str(&s, &decision) ||
     LIT(&s, ",\"enforced\":") || boolean(&s, &ev->enforced) ||
     LIT(&s, ",\"addr\":") || str(&s, &ev->addr) ||
     LIT(&s, ",\"as\":") || str_or_null(&s, &ev->as) ||
     LIT(&s, ",\"port\":") || num(&s, &port) ||
     LIT(&s, ",\"family\":") || str(&s, &ev->family) ||
     LIT(&s, ",\"transport\":") || str(&s, &transport) ||
     LIT(&s, ",\"socktype\":") || num(&s, &n) ||
     LIT(&s, ",\"protocol\":") || num(&s, &n) ||
     LIT(&s, ",\"check\":") || str(&s, &check) ||
     LIT(&s, ",\"default\":") || boolean(&s, &ev->is_default) ||
     LIT(&s, ",\"reason\":") || str(&s, &ev->reason) ||
     LIT(&s, ",\"rule\":{\"file\":") || str_or_null(&s, &ev->rule_file) ||
     LIT(&s, ",\"line\":") || num(&s, &line_no) ||
     LIT(&s, ",\"text\":") || str(&s, &ev->rule_text) ||
     LIT(&s, "},\"generation\":") || num(&s, &n) ||
     LIT(&s, ",\"pid\":") || num(&s, &ev->pid))
    return -1;
  /* version 2 ends here; version 3 adds "lost" */
  ev->uid = -1;
  if(!LIT(&s, ",\"lost\":") && num(&s, &ev->lost))
    return -1;
  /* version 4 adds the name, the URL and who connected */
  if(!LIT(&s, ",\"host\":")) {
    if(str_or_null(&s, &ev->host) ||
       LIT(&s, ",\"url\":") || str_or_null(&s, &ev->url) ||
       LIT(&s, ",\"program\":") || str_or_null(&s, &ev->program) ||
       LIT(&s, ",\"exe\":") || str_or_null(&s, &ev->exe) ||
       LIT(&s, ",\"uid\":") || num(&s, &n) || n > UINT32_MAX ||
       LIT(&s, ",\"hostname\":") || str_or_null(&s, &ev->hostname))
      return -1;
    ev->uid = (long long)n;
  }
  if(LIT(&s, "}") || s.p != s.end || port > 65535 || line_no > UINT32_MAX ||
     ev->v < 2 || ev->v > UINT32_MAX)
    return -1;
  ev->port = (unsigned)port;
  ev->rule_line = (unsigned long)line_no;
  for(i = 0; i < s.ncut; i++)
    *s.cut[i] = '\0';
  if(decision_word(decision, &ev->deny) || check_word(check, &ev->reused)) {
    /* give jansson the line as it was, for its reason */
    for(i = 0; i < s.ncut; i++)
      *s.cut[i] = '"';
    return -1;
  }
  return 0;
}

/* ---------------------------------------------------------- any event */

static int get_str(json_t *o, const char *key, int nullable,
                   const char **out, char *why, size_t whylen)
{
  json_t *j = json_object_get(o, key);

  if(j && nullable && json_is_null(j)) {
    *out = NULL;
    return 0;
  }
  if(!json_is_string(j)) {
    snprintf(why, whylen, "\"%s\" %s", key,
             j ? "is not a string" : "is missing");
    return -1;
  }
  *out = json_string_value(j);
  return 0;
}

static int get_num(json_t *o, const char *key, unsigned long long max,
                   unsigned long long *out, char *why, size_t whylen)
{
  json_t *j = json_object_get(o, key);

  if(!json_is_integer(j) || json_integer_value(j) < 0 ||
     (unsigned long long)json_integer_value(j) > max) {
    snprintf(why, whylen, "\"%s\" %s", key,
             j ? "is not a number in range" : "is missing");
    return -1;
  }
  *out = (unsigned long long)json_integer_value(j);
  return 0;
}

static int get_bool(json_t *o, const char *key, int *out, char *why,
                    size_t whylen)
{
  json_t *j = json_object_get(o, key);

  if(!json_is_boolean(j)) {
    snprintf(why, whylen, "\"%s\" %s", key,
             j ? "is not true or false" : "is missing");
    return -1;
  }
  *out = json_is_true(j);
  return 0;
}

int cli_event_parse_tree(const char *line, size_t len, cli_event *ev,
                         void **doc, char *why, size_t whylen)
{
  json_error_t jerr;
  json_t *o, *rule;
  const char *word;
  unsigned long long n;

  memset(ev, 0, sizeof(*ev));
  o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
  if(!o) {
    snprintf(why, whylen, "not JSON: %s", jerr.text);
    return -1;
  }
  *doc = o;
  if(!json_is_object(o)) {
    snprintf(why, whylen, "not a JSON object");
    return -1;
  }
  if(get_num(o, "v", UINT32_MAX, &ev->v, why, whylen))
    return -1;
  if(ev->v < 2) {
    snprintf(why, whylen, "schema version %llu (2 or later is read)", ev->v);
    return -1;
  }
  rule = json_object_get(o, "rule");
  if(!json_is_object(rule)) {
    snprintf(why, whylen, "\"rule\" %s",
             rule ? "is not an object" : "is missing");
    return -1;
  }
  if(get_str(o, "time", 0, &ev->time, why, whylen) ||
     get_str(o, "decision", 0, &word, why, whylen))
    return -1;
  if(decision_word(word, &ev->deny)) {
    snprintf(why, whylen, "\"decision\" is neither allow nor deny");
    return -1;
  }
  if(get_str(o, "check", 0, &word, why, whylen))
    return -1;
  if(check_word(word, &ev->reused)) {
    snprintf(why, whylen, "\"check\" is not open, reused, connect, "
             "sendto, sendmsg or sendmmsg");
    return -1;
  }
  if(get_bool(o, "enforced", &ev->enforced, why, whylen) ||
     get_bool(o, "default", &ev->is_default, why, whylen) ||
     get_str(o, "addr", 0, &ev->addr, why, whylen) ||
     get_str(o, "as", 1, &ev->as, why, whylen) ||
     get_str(o, "family", 0, &ev->family, why, whylen) ||
     get_str(o, "reason", 0, &ev->reason, why, whylen) ||
     get_num(o, "port", 65535, &n, why, whylen))
    return -1;
  ev->port = (unsigned)n;
  if(get_str(rule, "file", 1, &ev->rule_file, why, whylen) ||
     get_str(rule, "text", 0, &ev->rule_text, why, whylen) ||
     get_num(rule, "line", UINT32_MAX, &n, why, whylen))
    return -1;
  ev->rule_line = (unsigned long)n;
  if(get_num(o, "pid", UINT64_MAX >> 1, &ev->pid, why, whylen))
    return -1;
  if(json_object_get(o, "lost") &&
     get_num(o, "lost", UINT64_MAX >> 1, &ev->lost, why, whylen))
    return -1;
  if(json_object_get(o, "host") &&
     get_str(o, "host", 1, &ev->host, why, whylen))
    return -1;
  ev->uid = -1;
  if((json_object_get(o, "url") &&
      get_str(o, "url", 1, &ev->url, why, whylen)) ||
     (json_object_get(o, "program") &&
      get_str(o, "program", 1, &ev->program, why, whylen)) ||
     (json_object_get(o, "exe") &&
      get_str(o, "exe", 1, &ev->exe, why, whylen)) ||
     (json_object_get(o, "hostname") &&
      get_str(o, "hostname", 1, &ev->hostname, why, whylen)))
    return -1;
  if(json_object_get(o, "uid")) {
    if(get_num(o, "uid", UINT32_MAX, &n, why, whylen))
      return -1;
    ev->uid = (long long)n;
  }
  return 0;
}

int cli_event_parse(char *line, size_t len, cli_event *ev, void **doc,
                    char *why, size_t whylen)
{
  if(!fast_parse(line, len, ev))
    return 0;
  return cli_event_parse_tree(line, len, ev, doc, why, whylen);
}

void cli_event_release(void **doc)
{
  if(*doc) {
    json_decref((json_t *)*doc);
    *doc = NULL;
  }
}

/* --------------------------------------------------------------- files */

int cli_auditlog_open(cli_auditlog *r, const char *name)
{
  memset(r, 0, sizeof(*r));
  r->name = name;
  if(!strcmp(name, "-")) {
    r->f = stdin;
    r->name = "<stdin>";
  }
  else if(!(r->f = fopen(name, "r"))) {
    fprintf(stderr, "curlfence: %s: %s\n", name, strerror(errno));
    return -1;
  }
  return 0;
}

int cli_auditlog_next(cli_auditlog *r, cli_event *ev, char *why,
                      size_t whylen)
{
  ssize_t n;

  cli_event_release(&r->doc);
  errno = 0;
  n = getline(&r->buf, &r->cap, r->f);
  if(n < 0) {
    if(ferror(r->f)) {
      fprintf(stderr, "curlfence: %s: %s\n", r->name,
              strerror(errno ? errno : EIO));
      return -1;
    }
    return 0;
  }
  r->line++;
  if(n > 0 && r->buf[n - 1] == '\n')
    n--;
  if(memchr(r->buf, '\0', (size_t)n)) {
    snprintf(why, whylen, "holds a NUL byte");
    return 2;
  }
  return cli_event_parse(r->buf, (size_t)n, ev, &r->doc, why, whylen) ? 2 : 1;
}

int cli_auditlog_read(char **names, int n, cli_event_fn fn, void *ud,
                      cli_readstats *st)
{
  cli_auditlog r;
  cli_event ev;
  char why[200];
  int i, rc;

  memset(st, 0, sizeof(*st));
  for(i = 0; i < n; i++) {
    if(cli_auditlog_open(&r, names[i]))
      return -1;
    while((rc = cli_auditlog_next(&r, &ev, why, sizeof(why))) > 0) {
      if(rc == 2) {
        if(st->invalid++ < CLI_INVALID_SHOWN)
          fprintf(stderr, "curlfence: %s:%lu: not an audit event: %s\n",
                  r.name, r.line, why);
        continue;
      }
      st->events++;
      st->lost += ev.lost;
      if(fn(&ev, ud)) {
        rc = -1;
        break;
      }
    }
    cli_auditlog_close(&r);
    if(rc < 0)
      return -1;
  }
  if(st->invalid > CLI_INVALID_SHOWN)
    fprintf(stderr, "curlfence: %llu more lines are not audit events\n",
            st->invalid - CLI_INVALID_SHOWN);
  return 0;
}

void cli_auditlog_close(cli_auditlog *r)
{
  cli_event_release(&r->doc);
  if(r->f && r->f != stdin)
    fclose(r->f);
  free(r->buf);
  memset(r, 0, sizeof(*r));
}

/* --------------------------------------------------------------- tally */

static size_t hash(const char *s)
{
  size_t h = 14695981039346656037u;   /* FNV-1a */

  for(; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211u;
  return h;
}

cli_tally_ent *cli_tally_find(const cli_tally *t, const char *key)
{
  size_t i;

  if(!t->cap)
    return NULL;
  for(i = hash(key) & (t->cap - 1); t->ents[i].key; i = (i + 1) & (t->cap - 1))
    if(!strcmp(t->ents[i].key, key))
      return &t->ents[i];
  return NULL;
}

cli_tally_ent *cli_tally_get(cli_tally *t, const char *key)
{
  cli_tally_ent *e;
  size_t i;

  if((e = cli_tally_find(t, key)))
    return e;
  if((t->n + 1) * 2 > t->cap) {
    cli_tally bigger = { NULL, 0, t->cap ? t->cap * 2 : 64 };
    size_t j;

    bigger.ents = calloc(bigger.cap, sizeof(*bigger.ents));
    if(!bigger.ents)
      return NULL;
    for(j = 0; j < t->cap; j++) {
      if(!t->ents[j].key)
        continue;
      for(i = hash(t->ents[j].key) & (bigger.cap - 1); bigger.ents[i].key;
          i = (i + 1) & (bigger.cap - 1))
        ;
      bigger.ents[i] = t->ents[j];
    }
    free(t->ents);
    t->ents = bigger.ents;
    t->cap = bigger.cap;
  }
  for(i = hash(key) & (t->cap - 1); t->ents[i].key; i = (i + 1) & (t->cap - 1))
    ;
  e = &t->ents[i];
  if(!(e->key = strdup(key)))
    return NULL;
  t->n++;
  return e;
}

void cli_tally_hit(cli_tally_ent *e, const char *time)
{
  size_t n = strlen(time);

  if(n >= sizeof(e->first))
    n = sizeof(e->first) - 1;
  if(!e->count++ || strncmp(time, e->first, n) < 0) {
    memcpy(e->first, time, n);
    e->first[n] = '\0';
  }
  if(strncmp(time, e->last, n) > 0) {
    memcpy(e->last, time, n);
    e->last[n] = '\0';
  }
}

static int by_count(const void *a, const void *b)
{
  const cli_tally_ent *x = *(cli_tally_ent *const *)a;
  const cli_tally_ent *y = *(cli_tally_ent *const *)b;

  if(x->count != y->count)
    return x->count > y->count ? -1 : 1;
  return strcmp(x->key, y->key);
}

cli_tally_ent **cli_tally_sorted(const cli_tally *t)
{
  cli_tally_ent **v = malloc((t->n + 1) * sizeof(*v));
  size_t i, k = 0;

  if(!v)
    return NULL;
  for(i = 0; i < t->cap; i++)
    if(t->ents[i].key)
      v[k++] = &t->ents[i];
  qsort(v, k, sizeof(*v), by_count);
  v[k] = NULL;
  return v;
}

void cli_tally_free(cli_tally *t)
{
  size_t i;

  for(i = 0; i < t->cap; i++)
    free(t->ents[i].key);
  free(t->ents);
  memset(t, 0, sizeof(*t));
}
