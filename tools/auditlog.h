/* SPDX-License-Identifier: MIT */
/*
 * Reading audit logs (docs/audit.md, schema versions 2 to 4) for
 * `curlfence report` and `curlfence learn`.  Lines exactly as the library
 * writes them take a fast path; any other spelling of an event (keys in
 * another order, escapes, non-ASCII, fields added later such as "host")
 * goes through jansson, so both read the same events.  A line that is not
 * an event is counted with its number, never fatal.
 */
#ifndef CURLFENCE_AUDITLOG_H
#define CURLFENCE_AUDITLOG_H

#include <stdio.h>

/* One event.  The strings point into the reader's current line (or the
 * parsed document of an odd one) and live until the next line is read. */
typedef struct cli_event {
  unsigned long long v;
  const char *time;         /* RFC 3339 text, sorts as time */
  int deny;                 /* "decision": 1 deny, 0 allow */
  int enforced;
  const char *addr;
  const char *as;           /* NULL for null */
  unsigned port;
  const char *family;
  int reused;               /* "check": 1 reused, 0 open */
  int is_default;
  const char *reason;
  const char *rule_file;    /* NULL for a built-in decision */
  unsigned long rule_line;
  const char *rule_text;
  unsigned long long pid;
  unsigned long long lost;  /* 0 in version 2 */
  const char *host;         /* the name connected to, when the event has
                               one; NULL otherwise */
  /* version 4; NULL (uid: -1) when absent or null */
  const char *url;
  const char *program;
  const char *exe;
  long long uid;
  const char *hostname;
} cli_event;

/* Parse line (len bytes, no newline; it may be changed in place) into
 * *ev.  Returns 0, or -1 with a short reason in why.  *doc holds what the
 * strings point into for a line read by jansson: release it with
 * cli_event_release() before the next call. */
int cli_event_parse(char *line, size_t len, cli_event *ev, void **doc,
                    char *why, size_t whylen);
void cli_event_release(void **doc);

/* cli_event_parse() without its fast path: what every line would get.
 * The fuzz harness holds the fast path to it. */
int cli_event_parse_tree(const char *line, size_t len, cli_event *ev,
                         void **doc, char *why, size_t whylen);

/* A log read line by line: a file, or "-" for standard input. */
typedef struct cli_auditlog {
  const char *name;
  FILE *f;
  char *buf;
  size_t cap;
  unsigned long line;       /* number of the line last read */
  void *doc;
} cli_auditlog;

/* 0, or -1 after printing why the file cannot be opened. */
int cli_auditlog_open(cli_auditlog *r, const char *name);

/* The next line as an event: 1 with *ev set, 0 at the end, -1 on a read
 * error (printed); 2 for a line that is not an event, with why set. */
int cli_auditlog_next(cli_auditlog *r, cli_event *ev, char *why,
                      size_t whylen);
void cli_auditlog_close(cli_auditlog *r);

/* Read every event of the logs names[0..n) ("-": standard input) in
 * order, calling fn for each; fn returns 0, or -1 to stop (after printing
 * why).  Lines that are not events are counted, and the first
 * CLI_INVALID_SHOWN of them printed on standard error as "NAME:LINE: not
 * an audit event: why".  Returns 0, or -1 when a log could not be read
 * or fn stopped. */
#define CLI_INVALID_SHOWN 10
typedef struct cli_readstats {
  unsigned long long events, invalid, lost;
} cli_readstats;
typedef int (*cli_event_fn)(const cli_event *ev, void *ud);
int cli_auditlog_read(char **names, int n, cli_event_fn fn, void *ud,
                      cli_readstats *st);

/* Counting by key, for both commands: a hash table of NUL-terminated
 * keys (copied) with a count, the first and last time seen, and a value
 * of the caller's. */
typedef struct cli_tally_ent {
  char *key;
  unsigned long long count;
  char first[40], last[40];
  unsigned long long aux;
} cli_tally_ent;

typedef struct cli_tally {
  cli_tally_ent *ents;
  size_t n, cap;             /* cap: a power of two, or 0 */
} cli_tally;

/* The entry of key (created with count 0), or NULL when out of memory. */
cli_tally_ent *cli_tally_get(cli_tally *t, const char *key);
cli_tally_ent *cli_tally_find(const cli_tally *t, const char *key);
/* Count one event of time at e. */
void cli_tally_hit(cli_tally_ent *e, const char *time);
/* The entries sorted by count, largest first, ties by key; free() it. */
cli_tally_ent **cli_tally_sorted(const cli_tally *t);
void cli_tally_free(cli_tally *t);

#endif
