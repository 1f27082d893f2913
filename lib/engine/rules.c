/* SPDX-License-Identifier: MIT */
/*
 * Rules file parser: a buffer cut into lines, each line cut at '#', split
 * on blanks and dispatched on its first word (docs/rules.md); includes
 * recurse here; the entry points of a load.
 *
 * Parsing either succeeds completely or leaves an error and a rule set the
 * caller frees: there is no partial policy.
 */
#include "rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* one more than the longest directive: "expect allow host NAME at
 * ADDRESS port P" */
#define MAX_TOKENS 9

static curlfence_code parse_buffer(parser *p, const frame *fr,
                                   const char *buf, size_t len);

/* Parse the file at path (as named in messages) below frame up. */
static curlfence_code parse_path(parser *p, const frame *up, const char *path,
                                 unsigned line, unsigned col)
{
  frame fr;
  char *buf;
  size_t len;
  curlfence_code rc = cf_rules_open(p, up, path, line, col, &fr, &buf, &len);

  if(rc)
    return rc;
  rc = parse_buffer(p, &fr, buf, len);
  free(fr.real);
  free(buf);
  return rc;
}

static curlfence_code parse_include(parser *p, const frame *fr, unsigned line,
                                    const token *t, size_t n, unsigned eol)
{
  char *path;
  size_t dirlen = 0;
  const char *slash;
  curlfence_code rc;

  if(n < 2)
    return fail(p, fr, line, eol, CURLFENCE_E_SYNTAX,
                "missing file name after \"include\"", NULL, NULL);
  if(n > 2)
    return unexpected(p, fr, line, &t[2], "end of line");
  if(p->depth >= CF_MAX_INCLUDE_DEPTH)
    return fail(p, fr, line, t[1].col, CURLFENCE_E_INCLUDE,
                "includes nested deeper than 16 levels", NULL, NULL);
  /* Relative names are relative to the including file's directory. */
  if(t[1].s[0] != '/' && !fr->from_string &&
     (slash = strrchr(fr->name, '/')) != NULL)
    dirlen = (size_t)(slash - fr->name) + 1;
  path = malloc(dirlen + t[1].len + 1);
  if(!path)
    return nomem(p);
  memcpy(path, fr->name, dirlen);
  memcpy(path + dirlen, t[1].s, t[1].len);
  path[dirlen + t[1].len] = '\0';
  p->depth++;
  rc = parse_path(p, fr, path, line, t[1].col);
  p->depth--;
  free(path);
  return rc;
}

static curlfence_code parse_line(parser *p, const frame *fr, unsigned line,
                                 const char *s, size_t len)
{
  token t[MAX_TOKENS];
  size_t n = 0, i = 0;
  const char *hash = memchr(s, '#', len);
  unsigned eol;

  if(hash)
    len = (size_t)(hash - s);
  while(i < len) {
    while(i < len && (s[i] == ' ' || s[i] == '\t'))
      i++;
    if(i == len)
      break;
    /* No directive takes MAX_TOKENS words, so the first word too many is
     * among those kept and its directive names it, whole; what follows it
     * cannot change the error. */
    if(n == MAX_TOKENS)
      break;
    t[n].s = s + i;
    t[n].col = (unsigned)i + 1;
    while(i < len && s[i] != ' ' && s[i] != '\t')
      i++;
    t[n].len = i - (t[n].col - 1);
    n++;
  }
  if(n == 0)
    return CURLFENCE_OK;
  eol = (unsigned)(t[n - 1].col + t[n - 1].len);

  if(tok_is(&t[0], "allow") || tok_is(&t[0], "deny"))
    return cf_rules_rule(p, fr, line, t, n, eol);
  if(tok_is(&t[0], "default"))
    return cf_rules_setting(p, fr, line, t, n, eol, &p->rs->dflt, "default");
  if(tok_is(&t[0], "unix"))
    return cf_rules_setting(p, fr, line, t, n, eol, &p->rs->unix_, "unix");
  if(tok_is(&t[0], "mode"))
    return cf_rules_setting(p, fr, line, t, n, eol, &p->rs->mode, "mode");
  if(tok_is(&t[0], "include"))
    return parse_include(p, fr, line, t, n, eol);
  if(tok_is(&t[0], "nat64"))
    return cf_rules_nat64(p, fr, line, t, n, eol);
  if(tok_is(&t[0], "expect"))
    return cf_rules_expect(p, fr, line, t, n, eol);
  if(memchr(t[0].s, '.', t[0].len) || memchr(t[0].s, ':', t[0].len) ||
     memchr(t[0].s, '/', t[0].len)) {
    char shown[64];
    snprintf(shown, sizeof(shown), "%.*s",
             (int)(t[0].len < 40 ? t[0].len : 40), t[0].s);
    return fail(p, fr, line, t[0].col, CURLFENCE_E_SYNTAX,
                "missing action before \"%s\" (expected allow or deny)",
                shown, NULL);
  }
  return unexpected(p, fr, line, &t[0],
                    "allow, deny, default, unix, mode, include, nat64 or "
                    "expect");
}

/* How many rules the text can hold at most, and how many bytes their
 * texts take: only a line whose first word is allow or deny holds one.
 * The arrays are sized for that once, as big tables would otherwise spend
 * their time copying while the arrays double; sizing them by the number
 * of lines made a large file of blank lines run out of memory. */
void cf_rules_presize(const char *buf, size_t len, size_t *rules,
                      size_t *text)
{
  const char *s = buf, *end = buf + len;

  *rules = *text = 0;
  while(s < end) {
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    const char *e = nl ? nl : end, *w = s;
    size_t kw;

    while(w < e && (*w == ' ' || *w == '\t'))
      w++;
    kw = (size_t)(e - w) > 5 && !memcmp(w, "allow", 5) ? 5
         : (size_t)(e - w) > 4 && !memcmp(w, "deny", 4) ? 4 : 0;
    if(kw && (w[kw] == ' ' || w[kw] == '\t')) {
      (*rules)++;
      *text += (size_t)(e - s) + 1;
    }
    if(!nl)
      break;
    s = nl + 1;
  }
}

static curlfence_code parse_buffer(parser *p, const frame *fr,
                                   const char *buf, size_t len)
{
  const char *s = buf, *end = buf + len;
  unsigned line = 0;
  size_t nrules, ntext;
  curlfence_code rc;
  cf_ruleset *rs = p->rs;

  if(len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
    return fail(p, fr, 1, 1, CURLFENCE_E_SYNTAX,
                "file starts with a UTF-8 byte order mark (rules are plain "
                "ASCII: save the file without it)", NULL, NULL);
  /* Sizing ahead is only an optimisation: if it fails the arrays grow as
   * the rules come, and a file whose lines are not rules is still
   * reported for what is wrong with it. */
  cf_rules_presize(buf, len, &nrules, &ntext);
  if(nrules) {
    (void)cf_grow(&rs->rules, &rs->caprules, rs->nrules + nrules,
                  sizeof(cf_rule));
    (void)cf_grow(&rs->texts, &rs->captexts, rs->ntexts + ntext, 1);
  }

  while(s < end) {
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    size_t l = nl ? (size_t)(nl - s) : (size_t)(end - s);
    const char *nul;

    line++;
    if(l && s[l - 1] == '\r')
      l--;
    /* The first offending byte decides: a NUL before column 4097 is
     * reported as such, not as a long line. */
    if((nul = memchr(s, '\0', l > CF_MAX_LINE ? CF_MAX_LINE : l)))
      return fail(p, fr, line, (unsigned)(nul - s) + 1, CURLFENCE_E_LIMIT,
                  "NUL byte in rules text", NULL, NULL);
    if(l > CF_MAX_LINE)
      return fail(p, fr, line, CF_MAX_LINE + 1, CURLFENCE_E_LIMIT,
                  "line longer than 4096 bytes", NULL, NULL);
    rc = parse_line(p, fr, line, s, l);
    if(rc)
      return rc;
    if(!nl)
      break;
    s = nl + 1;
  }
  return CURLFENCE_OK;
}

curlfence_code cf_rules_parse_file(cf_ruleset *rs, const char *path,
                                   curlfence_error *err)
{
  unsigned attempt;

  for(attempt = 0;; attempt++) {
    parser p = { rs, err, 0, 0, 0, attempt, 0 };
    curlfence_code rc = parse_path(&p, NULL, path, 0, 0);

    /* An error stands only when nothing changed: half a rewrite can be a
     * syntax error, or name an include not written yet. */
    switch(cf_load_retry(rs, p.changed, attempt, err)) {
    case 0:
      return rc ? rc : cf_self_resolve(rs, err);
    case 1:
      cf_ruleset_free(rs);
      break;
    default:
      return CURLFENCE_E_IO;
    }
  }
}

curlfence_code cf_rules_parse_string(cf_ruleset *rs, const char *text,
                                     size_t len, const char *name,
                                     curlfence_error *err)
{
  parser p = { rs, err, 0, 0, len, 0, 0 };
  frame fr;
  curlfence_code rc;

  memset(&fr, 0, sizeof(fr));
  fr.from_string = 1;
  rc = cf_rules_add_file(&p, name ? name : "<string>", NULL, &fr.file);
  if(rc)
    return rc;
  fr.name = rs->files[fr.file];
  rc = parse_buffer(&p, &fr, text, len);
  return rc ? rc : cf_self_resolve(rs, err);
}
