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
  "declared in one file only has a line of its own.  Either OLD or NEW\n"
  "may be - for standard input: curlfence diff /etc/rules - <new.rules.\n"
  "Exit status: 0 no change, 1 changes, 2 errors.\n",
  diff_opts, run_diff
};
