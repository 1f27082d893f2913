/* SPDX-License-Identifier: MIT */
/*
 * "expect" lines: a policy states what it must decide for addresses that
 * matter (the metadata service denied, a public address allowed), and a
 * load that breaks one fails, so that an edit or a reload cannot quietly
 * open what the rules promise to keep shut.
 *
 * Only the expectations of the file loaded are checked, not those of the
 * files it includes: a policy that includes another (the default rules)
 * and opens something the other denies made that choice itself (lint
 * notes it), and says what it promises in expect lines of its own.
 *
 * An expectation is decided by cf_decide, as a guard decides a
 * connection (with the expectation's name, if it has one), after the
 * table and the host rules' index are built: what is checked is the
 * compiled policy a guard would enforce, nat64 prefixes, self rules and
 * host rules included.  One without a
 * port must hold on every port; the decision for an address changes only
 * where a port range of some rule starts or ends, so those ports (and 1)
 * are the ones tried.
 */
#include "engine.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static const char *action_word(curlfence_action a)
{
  return a == CURLFENCE_ALLOW ? "allow" : "deny";
}

/* The expectation's address at port, with its name if it has one,
 * decided by cf_decide as a guard decides a connection. */
static curlfence_action decide(const curlfence_policy *p, const cf_expect *e,
                               unsigned port, curlfence_verdict *v)
{
  struct sockaddr_in6 in6;
  struct sockaddr_in in;
  cf_decision d;

  if(e->v6) {
    memset(&in6, 0, sizeof(in6));
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons((uint16_t)port);
    memcpy(&in6.sin6_addr, e->addr, 16);
    cf_dest_init(&d.dest, (const struct sockaddr *)&in6, sizeof(in6));
  }
  else {
    memset(&in, 0, sizeof(in));
    in.sin_family = AF_INET;
    in.sin_port = htons((uint16_t)port);
    memcpy(&in.sin_addr, e->addr, 4);
    cf_dest_init(&d.dest, (const struct sockaddr *)&in, sizeof(in));
  }
  d.dest.host = e->named ? p->rs.texts + e->name : NULL;
  cf_decide(p, &d, 1);
  *v = d.verdict;
  return d.action;
}

static curlfence_code broken(const curlfence_policy *p, const cf_expect *e,
                             unsigned port, const curlfence_verdict *v,
                             curlfence_error *err)
{
  char addr[INET6_ADDRSTRLEN], by[1400], what[CF_HOST_MAX + 64];

  inet_ntop(e->v6 ? AF_INET6 : AF_INET, e->addr, addr, sizeof(addr));
  if(e->named)
    snprintf(what, sizeof(what), "host %s at %s", p->rs.texts + e->name,
             addr);
  else
    snprintf(what, sizeof(what), "%s", addr);
  if(v->file)
    snprintf(by, sizeof(by), "%s:%u (%s)", v->file, v->line,
             v->rule ? v->rule : "");
  else
    snprintf(by, sizeof(by), "%s", v->rule ? v->rule : "");
  cf_error_set(err, CURLFENCE_E_EXPECT, p->rs.files[e->file], e->line,
               e->column, "expected %s for %s port %u%s, but %s decides %s",
               action_word((curlfence_action)e->action), what, port,
               e->port ? "" : " (every port)", by, action_word(v->action));
  return CURLFENCE_E_EXPECT;
}

curlfence_code cf_expect_check(const curlfence_policy *p,
                               curlfence_error *err)
{
  const cf_ruleset *rs = &p->rs;
  curlfence_code rc = CURLFENCE_OK;
  curlfence_verdict v;
  uint64_t *edges = NULL;       /* bit P: some port range starts at P */
  size_t i, k;
  unsigned port;

  for(i = 0; i < rs->nexpects && !rc; i++) {
    const cf_expect *e = &rs->expects[i];

    if(e->file != 0)
      continue;
    if(e->port) {
      if(decide(p, e, e->port, &v) != (curlfence_action)e->action)
        rc = broken(p, e, e->port, &v, err);
      continue;
    }
    /* once, and each port once however many ranges share it */
    if(!edges) {
      edges = calloc(65536 / 64, sizeof(*edges));
      if(!edges) {
        cf_error_set(err, CURLFENCE_E_NOMEM, NULL, 0, 0, "out of memory");
        return CURLFENCE_E_NOMEM;
      }
      edges[0] |= 2;            /* port 1 */
      for(k = 0; k < rs->nports; k++) {
        unsigned lo = rs->ports[k].lo, hi = rs->ports[k].hi + 1u;

        edges[lo / 64] |= (uint64_t)1 << (lo % 64);
        if(hi <= 65535)
          edges[hi / 64] |= (uint64_t)1 << (hi % 64);
      }
    }
    for(k = 0; k < 65536 / 64 && !rc; k++) {
      uint64_t w = edges[k];

      while(w && !rc) {
        port = (unsigned)(k * 64) + (unsigned)__builtin_ctzll(w);
        w &= w - 1;
        if(decide(p, e, port, &v) != (curlfence_action)e->action)
          rc = broken(p, e, port, &v, err);
      }
    }
  }
  free(edges);
  return rc;
}

curlfence_code cf_expect_check_rules(const cf_ruleset *rs,
                                     curlfence_error *err)
{
  curlfence_policy p;
  curlfence_code rc;

  if(!rs->nexpects)
    return CURLFENCE_OK;
  memset(&p, 0, sizeof(p));
  p.rs = *rs;
  rc = cf_table_build(&p.table, rs);
  if(!rc)
    rc = cf_hostidx_build(&p.hosts, rs);
  if(rc) {
    cf_error_set(err, rc, NULL, 0, 0, "%s", curlfence_strerror(rc));
    cf_table_free(p.table);
    return rc;
  }
  rc = cf_expect_check(&p, err);
  cf_hostidx_free(p.hosts);
  cf_table_free(p.table);
  return rc;
}
