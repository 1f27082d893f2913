/* SPDX-License-Identifier: MIT */
/*
 * Host rules as written in a rules file (hostrule.c checks the name and
 * matches them).
 */
#include "rules.h"

#include <stdio.h>
#include <string.h>

/* "allow host NAME [to PREFIX] [port LIST]", "deny host NAME [port
 * LIST]". */
curlfence_code cf_rules_host(parser *p, const frame *fr, unsigned line,
                             const token *t, size_t n, unsigned eol)
{
  cf_ruleset *rs = p->rs;
  cf_hostrule h;
  cf_rule r;
  char name[CF_HOST_MAX + 1], msg[600];
  size_t i = 3;
  int wild;
  unsigned off;
  long text, ntext;
  curlfence_code rc;

  memset(&h, 0, sizeof(h));
  memset(&r, 0, sizeof(r));
  parse_action(&t[0], &h.action);
  if(n < 3)
    return fail(p, fr, line, eol, CURLFENCE_E_SYNTAX,
                "missing name after \"%s host\" (expected a host name or "
                "*.SUFFIX)", h.action == CURLFENCE_ALLOW ? "allow" : "deny",
                NULL);
  if(cf_hostrule_name(t[2].s, t[2].len, name, &wild, msg, sizeof(msg),
                      &off))
    return fail(p, fr, line, t[2].col + off, CURLFENCE_E_SYNTAX, "%s", msg,
                NULL);
  if(n > i && tok_is(&t[i], "to")) {
    if(h.action != CURLFENCE_ALLOW)
      return fail(p, fr, line, t[i].col, CURLFENCE_E_SYNTAX,
                  "\"deny host ... to\" is not a rule: a deny host rule "
                  "holds for every address (write \"deny host NAME\")",
                  NULL, NULL);
    if(n == i + 1)
      return fail(p, fr, line, eol, CURLFENCE_E_SYNTAX,
                  "missing address block after \"to\"", NULL, NULL);
    rc = cf_rules_prefix(p, fr, line, &t[i + 1], &r);
    if(rc)
      return rc;
    memcpy(h.addr, r.addr, sizeof(h.addr));
    h.v6 = r.v6;
    h.plen = r.plen;
    h.to = 1;
    i += 2;
  }
  if(n > i && !tok_is(&t[i], "port"))
    return unexpected(p, fr, line, &t[i], h.action == CURLFENCE_ALLOW &&
                      !h.to ? "\"to\", \"port\" or end of line"
                            : "\"port\" or end of line");
  if(n == i + 1)
    return fail(p, fr, line, eol, CURLFENCE_E_PORT,
                "missing port list after \"port\" (e.g. 80,443,8000-8080)",
                NULL, NULL);
  if(n > i + 2)
    return unexpected(p, fr, line, &t[i + 2], "end of line");
  if(n == i + 2) {
    rc = cf_rules_ports(p, fr, line, &t[i + 1], &r);
    if(rc)
      return rc;
  }
  text = cf_rules_add_text(rs, t, n);
  ntext = text < 0 ? -1
          : cf_rules_add_text(rs, &(token){ name, strlen(name), 0 }, 1);
  if(ntext < 0 || cf_grow(&rs->hosts, &rs->caphosts, rs->nhosts + 1,
                          sizeof(*rs->hosts)))
    return nomem(p);
  h.wild = (uint8_t)wild;
  h.port_off = r.port_off;
  h.nports = r.nports;
  h.file = fr->file;
  h.line = line;
  h.text = (uint32_t)text;
  h.name = (uint32_t)ntext;
  h.namelen = (uint32_t)strlen(name);
  rs->hosts[rs->nhosts++] = h;
  return CURLFENCE_OK;
}
