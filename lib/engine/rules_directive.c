/* SPDX-License-Identifier: MIT */
/*
 * The directives of a rules file but include: address rules and self
 * rules (host rules: rules_host.c), default, unix and mode, nat64 and
 * expect.
 */
#include "rules.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The words of a line joined by single blanks: the rule as reported. */
static char *join_tokens(const token *t, size_t n)
{
  size_t i, len = 0, off = 0;
  char *s;

  for(i = 0; i < n; i++)
    len += t[i].len + 1;
  s = malloc(len ? len : 1);
  if(!s)
    return NULL;
  for(i = 0; i < n; i++) {
    memcpy(s + off, t[i].s, t[i].len);
    off += t[i].len;
    s[off++] = ' ';
  }
  s[off ? off - 1 : 0] = '\0';
  return s;
}

static int parse_mode(const token *t, uint8_t *report)
{
  if(tok_is(t, "enforce"))
    *report = 0;
  else if(tok_is(t, "report"))
    *report = 1;
  else
    return -1;
  return 0;
}

/* "64:ff9b::/96" */
static void nat64_text(char *out, size_t size, const cf_nat64 *d)
{
  char a[INET6_ADDRSTRLEN];

  inet_ntop(AF_INET6, d->prefix, a, sizeof(a));
  snprintf(out, size, "%s/%u", a, (unsigned)d->plen);
}

/* "nat64 PREFIX/LEN": RFC 6052 section 2.2 layouts only. */
curlfence_code cf_rules_nat64(parser *p, const frame *fr, unsigned line,
                              const token *t, size_t n, unsigned eol)
{
  static const uint8_t mapped[16] = { [10] = 0xff, [11] = 0xff };
  cf_ruleset *rs = p->rs;
  cf_rule r;
  cf_nat64 d;
  const char *slash;
  char shown[80], other[600];
  unsigned plen;
  curlfence_code rc;
  size_t i;

  if(n < 2)
    return fail(p, fr, line, eol, CURLFENCE_E_SYNTAX,
                "missing prefix after \"nat64\" (e.g. nat64 64:ff9b::/96)",
                NULL, NULL);
  if(n > 2)
    return unexpected(p, fr, line, &t[2], "end of line");
  snprintf(shown, sizeof(shown), "%.*s",
           (int)(t[1].len < 60 ? t[1].len : 60), t[1].s);
  memset(&r, 0, sizeof(r));
  rc = cf_rules_prefix(p, fr, line, &t[1], &r);
  if(rc)
    return rc;
  if(!memchr(t[1].s, ':', t[1].len))
    return fail(p, fr, line, t[1].col, CURLFENCE_E_ADDRESS,
                "nat64 needs an IPv6 prefix, not \"%s\"", shown, NULL);
  slash = memchr(t[1].s, '/', t[1].len);
  if(!slash)
    return fail(p, fr, line, t[1].col + (unsigned)t[1].len,
                CURLFENCE_E_ADDRESS,
                "missing prefix length after \"%s\" (RFC 6052 allows /32, "
                "/40, /48, /56, /64 or /96)", shown, NULL);
  /* parse_prefix turned an IPv4-mapped block into IPv4 */
  plen = r.v6 ? r.plen : r.plen + 96u;
  if(plen != 32 && plen != 40 && plen != 48 && plen != 56 && plen != 64 &&
     plen != 96) {
    char num[8];

    snprintf(num, sizeof(num), "%u", plen);
    return fail(p, fr, line, t[1].col + (unsigned)(slash - t[1].s) + 1,
                CURLFENCE_E_ADDRESS,
                "invalid NAT64 prefix length \"%s\" (RFC 6052 allows 32, "
                "40, 48, 56, 64 or 96)", num, NULL);
  }
  memset(&d, 0, sizeof(d));
  if(r.v6)
    memcpy(d.prefix, r.addr, 16);
  else {
    memcpy(d.prefix, mapped, 12);
    memcpy(d.prefix + 12, r.addr, 4);
  }
  d.plen = (uint8_t)plen;
  d.file = fr->file;
  d.line = line;
  d.column = t[1].col;
  if(cf_prefix_equal(d.prefix, mapped, plen))
    return fail(p, fr, line, t[1].col, CURLFENCE_E_ADDRESS,
                "nat64 prefix \"%s\" overlaps the IPv4-mapped range "
                "::ffff:0:0/96, which is always decided as IPv4", shown,
                NULL);
  if(plen == 96 && d.prefix[8] != 0)
    return fail(p, fr, line, t[1].col, CURLFENCE_E_ADDRESS,
                "nat64 prefix \"%s\" sets bits 64-71, the \"u\" octet "
                "that RFC 6052 section 2.2 reserves as zero", shown, NULL);
  for(i = 0; i < rs->nnat64; i++) {
    const cf_nat64 *o = &rs->nat64[i];

    if(cf_prefix_equal(o->prefix, d.prefix,
                       o->plen < plen ? o->plen : plen)) {
      char ot[64];

      nat64_text(ot, sizeof(ot), o);
      snprintf(other, sizeof(other), "\"%s\" declared at %s:%u", ot,
               rs->files[o->file], (unsigned)o->line);
      return fail(p, fr, line, t[1].col, CURLFENCE_E_ADDRESS,
                  "nat64 prefix \"%s\" overlaps %s", shown, other);
    }
  }
  for(i = 0; i < rs->nrules; i++) {
    const cf_rule *o = &rs->rules[i];

    if(o->v6 && !o->self && o->plen >= plen &&
       cf_prefix_equal(d.prefix, o->addr, plen)) {
      snprintf(other, sizeof(other), "\"%s\" (%s:%u)", CF_RULE_TEXT(rs, o),
               rs->files[o->file], (unsigned)o->line);
      return fail(p, fr, line, t[1].col, CURLFENCE_E_ADDRESS,
                  "nat64 prefix \"%s\" holds the rule %s, which could "
                  "never apply: inside it only the IPv4 rules decide", shown,
                  other);
    }
  }
  if(cf_grow(&rs->nat64, &rs->capnat64, rs->nnat64 + 1, sizeof(d)))
    return nomem(p);
  rs->nat64[rs->nnat64++] = d;
  return CURLFENCE_OK;
}

/* An IPv6 rule inside a declared nat64 prefix could never apply. */
static curlfence_code rule_in_nat64(parser *p, const frame *fr,
                                    unsigned line, const token *t,
                                    const cf_rule *r)
{
  const cf_ruleset *rs = p->rs;
  char shown[80], where[600], pt[64];
  long i;

  if(!r->v6 || (i = cf_nat64_covering(rs, r->addr, r->plen)) < 0)
    return CURLFENCE_OK;
  snprintf(shown, sizeof(shown), "%.*s",
           (int)(t->len < 60 ? t->len : 60), t->s);
  nat64_text(pt, sizeof(pt), &rs->nat64[i]);
  snprintf(where, sizeof(where), "\"%s\" (declared at %s:%u)", pt,
           rs->files[rs->nat64[i].file], (unsigned)rs->nat64[i].line);
  return fail(p, fr, line, t->col, CURLFENCE_E_ADDRESS,
              "\"%s\" lies inside nat64 prefix %s and could never apply: "
              "inside it only the IPv4 rules decide", shown, where);
}

static curlfence_code add_rule(parser *p, const cf_rule *r)
{
  cf_ruleset *rs = p->rs;

  if(cf_grow(&rs->rules, &rs->caprules, rs->nrules + 1, sizeof(*r)))
    return nomem(p);
  rs->rules[rs->nrules++] = *r;
  return CURLFENCE_OK;
}

/* "allow|deny self [port LIST]": one rule as written, which the table
 * leaves out; the host's addresses it names are resolved once the whole
 * file is read (cf_self_resolve), and again at every load. */
static curlfence_code add_self(parser *p, const token *t, size_t n,
                               cf_rule *r)
{
  cf_ruleset *rs = p->rs;
  long text = cf_rules_add_text(rs, t, n);

  if(text < 0)
    return nomem(p);
  rs->nself++;
  r->self = 1;
  r->text = (uint32_t)text;
  return add_rule(p, r);
}

curlfence_code cf_rules_rule(parser *p, const frame *fr, unsigned line,
                             const token *t, size_t n, unsigned eol)
{
  cf_ruleset *rs = p->rs;
  cf_rule r;
  curlfence_code rc;
  long text;
  int self;

  memset(&r, 0, sizeof(r));
  parse_action(&t[0], &r.action);
  if(n < 2)
    return fail(p, fr, line, eol, CURLFENCE_E_SYNTAX,
                "missing address after \"%s\" (expected an address, "
                "CIDR block, self or host NAME)", tok_is(&t[0], "allow") ?
                "allow" : "deny", NULL);
  if(tok_is(&t[1], "host"))
    return cf_rules_host(p, fr, line, t, n, eol);
  self = tok_is(&t[1], "self");
  rc = self ? CURLFENCE_OK : cf_rules_prefix(p, fr, line, &t[1], &r);
  if(!rc && !self)
    rc = rule_in_nat64(p, fr, line, &t[1], &r);
  if(rc)
    return rc;
  if(n >= 3 && !tok_is(&t[2], "port"))
    return unexpected(p, fr, line, &t[2], "\"port\" or end of line");
  if(n == 3)
    return fail(p, fr, line, eol, CURLFENCE_E_PORT,
                "missing port list after \"port\" (e.g. 80,443,8000-8080)",
                NULL, NULL);
  if(n > 4)
    return unexpected(p, fr, line, &t[4], "end of line");
  if(n == 4) {
    rc = cf_rules_ports(p, fr, line, &t[3], &r);
    if(rc)
      return rc;
  }
  r.file = fr->file;
  r.line = line;
  if(self)
    return add_self(p, t, n, &r);
  text = cf_rules_add_text(rs, t, n);
  if(text < 0)
    return nomem(p);
  r.text = (uint32_t)text;
  return add_rule(p, &r);
}

/* "host NAME at" of "expect allow|deny host NAME at ADDRESS [port P]":
 * one name in canonical form, added to the texts (*name). */
static curlfence_code expect_name(parser *p, const frame *fr, unsigned line,
                                  const token *t, size_t n, unsigned eol,
                                  const char *action, uint32_t *name)
{
  char canon[CF_HOST_MAX + 1], msg[600];
  unsigned off;
  int wild;
  long text;

  if(n < 4)
    return fail(p, fr, line, eol, CURLFENCE_E_SYNTAX,
                "missing name after \"expect %s host\" (expected a host "
                "name)", action, NULL);
  if(cf_hostrule_name(t[3].s, t[3].len, canon, &wild, msg, sizeof(msg),
                      &off))
    return fail(p, fr, line, t[3].col + off, CURLFENCE_E_SYNTAX, "%s", msg,
                NULL);
  if(wild)
    return fail(p, fr, line, t[3].col, CURLFENCE_E_SYNTAX,
                "an expectation is about one name, not every name below "
                "a suffix (write one of them)", NULL, NULL);
  if(n < 5)
    return fail(p, fr, line, eol, CURLFENCE_E_SYNTAX,
                "missing \"at ADDRESS\" after the name (the address the "
                "name is decided at)", NULL, NULL);
  if(!tok_is(&t[4], "at"))
    return unexpected(p, fr, line, &t[4], "\"at\"");
  if(n < 6)
    return fail(p, fr, line, eol, CURLFENCE_E_SYNTAX,
                "missing address after \"at\" (expected an address)", NULL,
                NULL);
  text = cf_rules_add_text(p->rs, &(token){ canon, strlen(canon), 0 }, 1);
  if(text < 0)
    return nomem(p);
  *name = (uint32_t)text;
  return CURLFENCE_OK;
}

/* "expect allow|deny [host NAME at] ADDRESS [port P]": one address (no
 * prefix), for a connection with that name or none, and one port or
 * none (then every port). */
curlfence_code cf_rules_expect(parser *p, const frame *fr, unsigned line,
                               const token *t, size_t n, unsigned eol)
{
  cf_ruleset *rs = p->rs;
  cf_expect e;
  cf_rule r;
  curlfence_code rc;
  unsigned port = 0;
  size_t a = 2;           /* the address token */

  memset(&e, 0, sizeof(e));
  if(n < 2)
    return fail(p, fr, line, eol, CURLFENCE_E_SYNTAX,
                "missing action after \"expect\" (expected allow or deny)",
                NULL, NULL);
  if(parse_action(&t[1], &e.action))
    return unexpected(p, fr, line, &t[1], "allow or deny");
  if(n < 3)
    return fail(p, fr, line, eol, CURLFENCE_E_SYNTAX,
                "missing address after \"expect %s\" (expected an address "
                "or host NAME at ADDRESS)",
                e.action == CURLFENCE_ALLOW ? "allow" : "deny", NULL);
  if(tok_is(&t[2], "host")) {
    rc = expect_name(p, fr, line, t, n, eol,
                     e.action == CURLFENCE_ALLOW ? "allow" : "deny",
                     &e.name);
    if(rc)
      return rc;
    e.named = 1;
    a = 5;
  }
  if(memchr(t[a].s, '/', t[a].len))
    return fail(p, fr, line, t[a].col, CURLFENCE_E_ADDRESS,
                "an expectation is about one address, not a block (write "
                "it without /LEN)", NULL, NULL);
  memset(&r, 0, sizeof(r));
  rc = cf_rules_prefix(p, fr, line, &t[a], &r);
  if(rc)
    return rc;
  if(n > a + 1 && !tok_is(&t[a + 1], "port"))
    return unexpected(p, fr, line, &t[a + 1], "\"port\" or end of line");
  if(n == a + 2)
    return fail(p, fr, line, eol, CURLFENCE_E_PORT,
                "missing port after \"port\" (one port, 1-65535)", NULL,
                NULL);
  if(n > a + 3)
    return unexpected(p, fr, line, &t[a + 3], "end of line");
  if(n == a + 3) {
    rc = cf_rules_port(p, fr, line, t[a + 2].s, t[a + 2].len, t[a + 2].col,
                       &port);
    if(rc)
      return rc;
  }
  memcpy(e.addr, r.addr, sizeof(e.addr));
  e.v6 = r.v6;
  e.port = (uint16_t)port;
  e.file = fr->file;
  e.line = line;
  e.column = t[0].col;
  if(cf_grow(&rs->expects, &rs->capexpects, rs->nexpects + 1, sizeof(e)))
    return nomem(p);
  rs->expects[rs->nexpects++] = e;
  return CURLFENCE_OK;
}

curlfence_code cf_rules_setting(parser *p, const frame *fr, unsigned line,
                                const token *t, size_t n, unsigned eol,
                                cf_setting *set, const char *word)
{
  int is_mode = set == &p->rs->mode;
  const char *expect = is_mode ? "enforce or report" : "allow or deny";
  uint8_t action;
  char where[400];

  if(n < 2)
    return fail(p, fr, line, eol, CURLFENCE_E_SYNTAX,
                is_mode ? "missing value after \"%s\" (expected %s)"
                        : "missing action after \"%s\" (expected %s)",
                word, expect);
  if(is_mode ? parse_mode(&t[1], &action) : parse_action(&t[1], &action))
    return unexpected(p, fr, line, &t[1], expect);
  if(n > 2)
    return unexpected(p, fr, line, &t[2], "end of line");
  if(set->set) {
    snprintf(where, sizeof(where), "%s:%u", p->rs->files[set->file],
             (unsigned)set->line);
    return fail(p, fr, line, t[0].col, CURLFENCE_E_DUPLICATE,
                "duplicate \"%s\" (first given at %s)", word, where);
  }
  set->text = join_tokens(t, n);
  if(!set->text)
    return nomem(p);
  set->set = 1;
  set->action = action;
  set->file = fr->file;
  set->line = line;
  return CURLFENCE_OK;
}
