/* SPDX-License-Identifier: MIT */
/*
 * rules.h - what only the rules parser's files share (engine.h has what
 * the rest of the engine uses of them): a line's words, the stack of files
 * being read, the state of one load, and the pieces each file lends the
 * others.  The files form no circle: rules.c (lines, includes, the entry
 * points) uses rules_directive.c (a line's directive), which uses
 * rules_host.c (host rules) and rules_addr.c (addresses and ports);
 * rules_file.c reads files and rules_set.c holds the rule set's memory.
 * How they all report is here, written once.
 */
#ifndef CURLFENCE_RULES_H
#define CURLFENCE_RULES_H

#include "engine.h"

#include <stdio.h>
#include <string.h>

typedef struct token {
  const char *s;
  size_t len;
  unsigned col;
} token;

/* One file being parsed; frames form the include stack. */
typedef struct frame {
  const struct frame *up;
  uint32_t file;          /* index in rs->files */
  const char *name;       /* == rs->files[file] */
  char *real;             /* realpath, for cycle detection; NULL for text */
  int from_string;
} frame;

typedef struct parser {
  cf_ruleset *rs;
  curlfence_error *err;
  unsigned depth;
  size_t files;           /* read so far in this load */
  size_t bytes;
  unsigned attempt;       /* of cf_rules_parse_file, from 0 */
  int changed;            /* a file's size moved while it was read */
} parser;

static inline int tok_is(const token *t, const char *word)
{
  size_t n = strlen(word);
  return t->len == n && memcmp(t->s, word, n) == 0;
}

/* The parser's reports, each returning the code it set in p->err. */
static inline curlfence_code nomem(parser *p)
{
  cf_error_set(p->err, CURLFENCE_E_NOMEM, NULL, 0, 0, "out of memory");
  return CURLFENCE_E_NOMEM;
}

/* At fr's file, line and col; fmt has up to two %s, a and b (NULL: ""). */
static inline curlfence_code fail(parser *p, const frame *fr, unsigned line,
                                  unsigned col, curlfence_code code,
                                  const char *fmt, const char *a,
                                  const char *b)
{
  char msg[1200];

  snprintf(msg, sizeof(msg), fmt, a ? a : "", b ? b : "");
  cf_error_set(p->err, code, fr->name, line, col, "%s", msg);
  return code;
}

/* The word t where expect was. */
static inline curlfence_code unexpected(parser *p, const frame *fr,
                                        unsigned line, const token *t,
                                        const char *expect)
{
  char shown[64];

  snprintf(shown, sizeof(shown), "%.*s", (int)(t->len < 40 ? t->len : 40),
           t->s);
  return fail(p, fr, line, t->col, CURLFENCE_E_SYNTAX,
              "unexpected \"%s\" (expected %s)", shown, expect);
}

/* allow or deny as a curlfence_action; -1 for another word. */
static inline int parse_action(const token *t, uint8_t *action)
{
  if(tok_is(t, "allow"))
    *action = CURLFENCE_ALLOW;
  else if(tok_is(t, "deny"))
    *action = CURLFENCE_DENY;
  else
    return -1;
  return 0;
}

/* rules_set.c: the words t[0..n) joined by single blanks, appended to the
 * rule set's text block; returns the offset, or -1 when out of memory. */
long cf_rules_add_text(cf_ruleset *rs, const token *t, size_t n);

/* rules_file.c: files.  Record name (st: how it looked when it was
 * opened; NULL for text in memory) as rule set file *idx. */
curlfence_code cf_rules_add_file(parser *p, const char *name,
                                 const struct stat *st, uint32_t *idx);
/* Open the file at path (as named in messages; line and col where up
 * names it): read it, refuse an include cycle, record it.  On success fr
 * is its frame and *buf its bytes, both the caller's to free (fr->real,
 * *buf). */
curlfence_code cf_rules_open(parser *p, const frame *up, const char *path,
                             unsigned line, unsigned col, frame *fr,
                             char **buf, size_t *len);

/* rules_addr.c: a canonical address or CIDR block into r (addr, v6,
 * plen); a port (1-65535) of s[0..n) at column col; a port list ("80,443,
 * 8000-8080") appended to rs->ports as r's. */
curlfence_code cf_rules_prefix(parser *p, const frame *fr, unsigned line,
                               const token *t, cf_rule *r);
curlfence_code cf_rules_port(parser *p, const frame *fr, unsigned line,
                             const char *s, size_t n, unsigned col,
                             unsigned *out);
curlfence_code cf_rules_ports(parser *p, const frame *fr, unsigned line,
                              const token *t, cf_rule *r);

/* rules_host.c: "allow host NAME [to PREFIX] [port LIST]", "deny host
 * NAME [port LIST]": the n words t of a line ending at column eol. */
curlfence_code cf_rules_host(parser *p, const frame *fr, unsigned line,
                             const token *t, size_t n, unsigned eol);

/* rules_directive.c: the directives but include, each given the n words t
 * of its line, which ends at column eol.  allow or deny (an address rule,
 * self, or a host rule); "default", "unix" or "mode" (word) into set;
 * "nat64"; "expect". */
curlfence_code cf_rules_rule(parser *p, const frame *fr, unsigned line,
                             const token *t, size_t n, unsigned eol);
curlfence_code cf_rules_setting(parser *p, const frame *fr, unsigned line,
                                const token *t, size_t n, unsigned eol,
                                cf_setting *set, const char *word);
curlfence_code cf_rules_nat64(parser *p, const frame *fr, unsigned line,
                              const token *t, size_t n, unsigned eol);
curlfence_code cf_rules_expect(parser *p, const frame *fr, unsigned line,
                               const token *t, size_t n, unsigned eol);

#endif
