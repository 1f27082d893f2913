/* SPDX-License-Identifier: MIT */
/*
 * curlfence diff OLD NEW: the address ranges and ports whose decision
 * changes between two rules files, as minimal CIDR lists per family, each
 * with the rule that decided before and the one that decides after.
 * Exit 0 when nothing changes, 1 when something does, 2 on errors.  The
 * work is done by cf_diff() in lib/review/diff.c.
 */
#include "cli.h"
#include "review/review.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

static const cli_opt diff_opts[] = {
  CLI_OPT_JSON,
  CLI_OPT_HELP,
  CLI_OPT_END
};

typedef struct diff_out {
  const cf_ruleset *rs[2];
  int json;
  unsigned long changes;
} diff_out;

static const char *act_name(curlfence_action a)
{
  return a == CURLFENCE_ALLOW ? "allow" : "deny";
}

/* The loopback address the unspecified address of family v6 was decided
 * as when as_lo, else NULL. */
static const char *loopback_of(int v6, int as_lo)
{
  return !as_lo ? NULL : v6 ? "::1" : "127.0.0.1";
}

/* "(file:line)", "(file:line default)" or "(built-in default)", with
 * ", as 127.0.0.1" inside when the loopback address's rule decided */
static void print_source(const cf_ruleset *rs, long rule, const char *as)
{
  if(rule >= 0)
    printf("(%s:%u", rs->files[rs->rules[rule].file], rs->rules[rule].line);
  else if(rs->dflt.set)
    printf("(%s:%u default", rs->files[rs->dflt.file], rs->dflt.line);
  else
    fputs("(built-in default", stdout);
  if(as)
    printf(", as %s", as);
  putchar(')');
}

static void json_side(const cf_ruleset *rs, long rule, curlfence_action a,
                      const char *as)
{
  printf("{\"decision\":\"%s\",\"default\":%s,\"as\":", act_name(a),
         rule < 0 ? "true" : "false");
  if(as)
    cli_json_string(stdout, as);
  else
    fputs("null", stdout);
  fputs(",\"file\":", stdout);
  if(rule >= 0) {
    cli_json_string(stdout, rs->files[rs->rules[rule].file]);
    printf(",\"line\":%u,\"rule\":", rs->rules[rule].line);
    cli_json_string(stdout, CF_RULE_TEXT(rs, &rs->rules[rule]));
  }
  else if(rs->dflt.set) {
    cli_json_string(stdout, rs->files[rs->dflt.file]);
    printf(",\"line\":%u,\"rule\":", rs->dflt.line);
    cli_json_string(stdout, rs->dflt.text);
  }
  else
    fputs("null,\"line\":0,\"rule\":\"default deny (built-in)\"", stdout);
  putchar('}');
}

static int on_change(const cf_diff_change *c, void *userdata)
{
  diff_out *o = userdata;
  char addr[INET6_ADDRSTRLEN];

  o->changes++;
  inet_ntop(c->v6 ? AF_INET6 : AF_INET, c->addr, addr, sizeof(addr));
  if(o->json) {
    printf("{\"family\":\"%s\",\"range\":\"%s/%u\",\"ports\":",
           c->v6 ? "inet6" : "inet", addr, c->plen);
    if(!c->nports)
      fputs("null", stdout);
    else {
      putchar('[');
      for(size_t i = 0; i < c->nports; i++)
        printf("%s[%u,%u]", i ? "," : "", c->ports[i].lo, c->ports[i].hi);
      putchar(']');
    }
    fputs(",\"old\":", stdout);
    json_side(o->rs[0], c->old_rule, c->old_action,
              loopback_of(c->v6, c->old_loopback));
    fputs(",\"new\":", stdout);
    json_side(o->rs[1], c->new_rule, c->new_action,
              loopback_of(c->v6, c->new_loopback));
    fputs("}\n", stdout);
    return 0;
  }
  printf("%s/%u ", addr, c->plen);
  if(!c->nports)
    fputs("any port", stdout);
  else {
    fputs(c->nports == 1 && c->ports[0].lo == c->ports[0].hi ? "port "
                                                             : "ports ",
          stdout);
    for(size_t i = 0; i < c->nports; i++) {
      printf("%s%u", i ? "," : "", c->ports[i].lo);
      if(c->ports[i].hi != c->ports[i].lo)
        printf("-%u", c->ports[i].hi);
    }
  }
  printf(": %s ", act_name(c->old_action));
  print_source(o->rs[0], c->old_rule, loopback_of(c->v6, c->old_loopback));
  printf(" -> %s ", act_name(c->new_action));
  print_source(o->rs[1], c->new_rule, loopback_of(c->v6, c->new_loopback));
  putchar('\n');
  return 0;
}

/* The unix setting is part of the decision too. */
static void diff_unix(diff_out *o)
{
  const cf_setting *s[2] = { &o->rs[0]->unix_, &o->rs[1]->unix_ };
  int a[2];

  for(int i = 0; i < 2; i++)
    a[i] = s[i]->set ? s[i]->action : CURLFENCE_DENY;
  if(a[0] == a[1])
    return;
  o->changes++;
  if(o->json) {
    fputs("{\"family\":\"unix\",\"range\":null,\"ports\":null", stdout);
    for(int i = 0; i < 2; i++) {
      printf(",\"%s\":{\"decision\":\"%s\",\"default\":false,\"file\":",
             i ? "new" : "old", act_name((curlfence_action)a[i]));
      if(s[i]->set) {
        cli_json_string(stdout, o->rs[i]->files[s[i]->file]);
        printf(",\"line\":%u,\"rule\":", s[i]->line);
        cli_json_string(stdout, s[i]->text);
      }
      else
        fputs("null,\"line\":0,\"rule\":\"unix deny (built-in)\"", stdout);
      putchar('}');
    }
    fputs("}\n", stdout);
    return;
  }
  fputs("unix sockets:", stdout);
  for(int i = 0; i < 2; i++) {
    printf("%s%s ", i ? " -> " : " ", act_name((curlfence_action)a[i]));
    if(s[i]->set)
      printf("(%s:%u)", o->rs[i]->files[s[i]->file], s[i]->line);
    else
      fputs("(built-in)", stdout);
  }
  putchar('\n');
}

/* nat64 prefixes declared on one side only: the addresses inside are
 * decided as IPv6 on one side and as the IPv4 addresses they embed on the
 * other, which no single rule pair describes. */
static void diff_nat64(diff_out *o)
{
  for(int s = 0; s < 2; s++) {
    const cf_ruleset *a = o->rs[s], *b = o->rs[1 - s];

    for(size_t i = 0; i < a->nnat64; i++) {
      const cf_nat64 *n = &a->nat64[i];
      char text[INET6_ADDRSTRLEN];
      size_t j;

      for(j = 0; j < b->nnat64; j++)
        if(b->nat64[j].plen == n->plen &&
           !memcmp(b->nat64[j].prefix, n->prefix, 16))
          break;
      if(j < b->nnat64)
        continue;
      o->changes++;
      inet_ntop(AF_INET6, n->prefix, text, sizeof(text));
      if(o->json) {
        printf("{\"family\":\"nat64\",\"range\":\"%s/%u\",\"ports\":null,"
               "\"%s\":{\"declared\":true,\"file\":", text, n->plen,
               s ? "new" : "old");
        cli_json_string(stdout, a->files[n->file]);
        printf(",\"line\":%u},\"%s\":{\"declared\":false}}\n", n->line,
               s ? "old" : "new");
        continue;
      }
      if(s)
        printf("nat64 %s/%u: not declared -> declared (%s:%u)\n", text,
               n->plen, a->files[n->file], n->line);
      else
        printf("nat64 %s/%u: declared (%s:%u) -> not declared\n", text,
               n->plen, a->files[n->file], n->line);
    }
  }
}

/* Host rules by what they say (action, name, exemption prefix, ports),
 * for sorting and matching the two sides. */
static const cf_ruleset *cmp_rs;

static int host_cmp(const cf_ruleset *ra, const cf_hostrule *a,
                    const cf_ruleset *rb, const cf_hostrule *b)
{
  int c;

  if(a->wild != b->wild)
    return a->wild - b->wild;
  if(a->namelen != b->namelen)
    return a->namelen < b->namelen ? -1 : 1;
  if((c = memcmp(ra->texts + a->name, rb->texts + b->name, a->namelen)))
    return c;
  if(a->action != b->action)
    return a->action - b->action;
  if(a->to != b->to || a->v6 != b->v6 || a->plen != b->plen)
    return a->to != b->to ? a->to - b->to
           : a->v6 != b->v6 ? a->v6 - b->v6 : a->plen - b->plen;
  if((c = memcmp(a->addr, b->addr, 16)))
    return c;
  if(a->nports != b->nports)
    return a->nports < b->nports ? -1 : 1;
  return memcmp(ra->ports + a->port_off, rb->ports + b->port_off,
                a->nports * sizeof(cf_port_range));
}

static int host_cmp_idx(const void *pa, const void *pb)
{
  const cf_hostrule *a = &cmp_rs->hosts[*(const size_t *)pa];
  const cf_hostrule *b = &cmp_rs->hosts[*(const size_t *)pb];
  int c = host_cmp(cmp_rs, a, cmp_rs, b);

  return c ? c : a < b ? -1 : a > b;
}

/* What a host rule does to decisions (docs/rules.md, 5.2). */
static const char *host_effect(const cf_hostrule *h)
{
  return h->action == CURLFENCE_DENY ? "denies the name at every address"
         : h->to ? "exempts the name from address denials inside the prefix"
                 : "allows the name where no address rule matches";
}

/* Host rules on one side only: each is a change of the decisions for its
 * name, whatever the address. */
static int diff_hosts(diff_out *o)
{
  size_t *ix[2] = { NULL, NULL }, i[2] = { 0, 0 };
  int rc = 0;

  for(int s = 0; s < 2; s++) {
    ix[s] = malloc((o->rs[s]->nhosts ? o->rs[s]->nhosts : 1) *
                   sizeof(size_t));
    if(!ix[s]) {
      rc = -1;
      goto out;
    }
    for(size_t k = 0; k < o->rs[s]->nhosts; k++)
      ix[s][k] = k;
    cmp_rs = o->rs[s];
    qsort(ix[s], o->rs[s]->nhosts, sizeof(size_t), host_cmp_idx);
  }
  while(i[0] < o->rs[0]->nhosts || i[1] < o->rs[1]->nhosts) {
    const cf_hostrule *h[2] = {
      i[0] < o->rs[0]->nhosts ? &o->rs[0]->hosts[ix[0][i[0]]] : NULL,
      i[1] < o->rs[1]->nhosts ? &o->rs[1]->hosts[ix[1][i[1]]] : NULL };
    int c = !h[0] ? 1 : !h[1] ? -1
            : host_cmp(o->rs[0], h[0], o->rs[1], h[1]);
    int s = c < 0 ? 0 : 1;
    const cf_ruleset *rs = o->rs[s];

    if(!c) {
      i[0]++;
      i[1]++;
      continue;
    }
    i[s]++;
    o->changes++;
    if(o->json) {
      fputs("{\"family\":\"host\",\"range\":null,\"ports\":null,", stdout);
      printf("\"%s\":{\"file\":", s ? "new" : "old");
      cli_json_string(stdout, rs->files[h[s]->file]);
      printf(",\"line\":%u,\"rule\":", h[s]->line);
      cli_json_string(stdout, rs->texts + h[s]->text);
      fputs(",\"effect\":", stdout);
      cli_json_string(stdout, host_effect(h[s]));
      printf("},\"%s\":null}\n", s ? "old" : "new");
      continue;
    }
    if(s)
      printf("host rule added: %s (%s:%u): %s\n", rs->texts + h[s]->text,
             rs->files[h[s]->file], h[s]->line, host_effect(h[s]));
    else
      printf("host rule removed: %s (%s:%u): no longer %s\n",
             rs->texts + h[s]->text, rs->files[h[s]->file], h[s]->line,
             host_effect(h[s]));
  }
out:
  free(ix[0]);
  free(ix[1]);
  return rc;
}

static int run_diff(const cli_cmd *cmd, int argc, char **argv)
{
  cf_ruleset rs[2];
  diff_out o;
  cli_parser ps;
  const char *arg;
  curlfence_code rc;
  int key, status = 2;

  memset(&o, 0, sizeof(o));
  memset(rs, 0, sizeof(rs));
  cli_parser_init(&ps, cmd, argc, argv);
  while((key = cli_next(&ps, &arg)) != CLI_END) {
    switch(key) {
    case CLI_KEY_JSON: o.json = 1; break;
    default: return ps.status;
    }
  }
  if(ps.noperands != 2)
    return cli_usage_error(cmd, "expected OLD and NEW rules files");
  if(!strcmp(CLI_OPERANDS(&ps)[0], "-") && !strcmp(CLI_OPERANDS(&ps)[1], "-"))
    return cli_usage_error(cmd, "only one of OLD and NEW may be - "
                           "(standard input)");
  if(cli_load_ruleset(CLI_OPERANDS(&ps)[0], &rs[0]) ||
     cli_load_ruleset(CLI_OPERANDS(&ps)[1], &rs[1]))
    goto out;
  o.rs[0] = &rs[0];
  o.rs[1] = &rs[1];
  rc = cf_diff(&rs[0], &rs[1], on_change, &o);
  if(rc) {
    fprintf(stderr, CLI_PROG ": %s\n", curlfence_strerror(rc));
    goto out;
  }
  diff_unix(&o);
  diff_nat64(&o);
  if(diff_hosts(&o)) {
    fputs(CLI_PROG ": out of memory\n", stderr);
    goto out;
  }
  status = o.changes ? 1 : 0;
  if(fflush(stdout) || ferror(stdout)) {
    fputs(CLI_PROG ": cannot write to standard output\n", stderr);
    status = 2;
  }
out:
  cf_ruleset_free(&rs[0]);
  cf_ruleset_free(&rs[1]);
  return status;
}

const cli_cmd cli_cmd_diff = {
  "diff", "OLD NEW",
  "print the address ranges and ports whose decision changes",
  "Each line is a CIDR block and its ports, the old decision and its\n"
  "rule, and the new one: 10.20.0.0/16 any port: deny (old.rules:3) ->\n"
  "allow (new.rules:4).  IPv4 first, then IPv6, in address order; the\n"
  "IPv4-mapped block ::ffff:0:0/96 is decided as IPv4 and may be covered\n"
  "by an IPv6 line without changing there; so are nat64 prefixes, and one\n"
  "declared in one file only has a line of its own, and so has a host rule\n"
  "in one file only (host rule added: ... / removed: ...), with what it\n"
  "does to the decisions for its name.  Either OLD or NEW\n"
  "may be - for standard input: curlfence diff /etc/rules - <new.rules.\n"
  "Exit status: 0 no change, 1 changes, 2 errors.\n",
  diff_opts, run_diff
};
