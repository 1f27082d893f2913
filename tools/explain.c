/* SPDX-License-Identifier: MIT */
/*
 * curlfence explain [-r RULES] [-p PORT] ADDRESS[:PORT] | ADDRESS PORT:
 * every rule that matches the address, best first, what happened to
 * each, and why the winner wins.  Exit 0 when the address is allowed, 1
 * when denied, 2 on errors (like check).
 */
#include "cli.h"
#include "review/review.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

static const cli_opt explain_opts[] = {
  CLI_OPT_RULES,
  CLI_OPT_PORT,
  { "resolve", CLI_LONG_ONLY + 1, "HOST:PORT:ADDR[,ADDR]",
    "explain HOST at these addresses, without looking it up" },
  CLI_OPT_JSON,
  CLI_OPT_HELP,
  CLI_OPT_END
};

typedef struct ex_ctx {
  const cf_ruleset *rs;
  unsigned port;
  int json, nlines;
  int v6;                 /* the address decided, after nat64 */
  const uint8_t *key;
  const char *host;       /* the name, canonical; NULL: none */
  long win;               /* the address rule that decides, -1: none */
} ex_ctx;

static const char *act_name(unsigned a)
{
  return a == CURLFENCE_ALLOW ? "allow" : "deny";
}

/* Why rule w outranks rule l (both match address and port): as the
 * loser's reason (for_winner 0) or as the winner's (1). */
static void outranked(char *buf, size_t n, const cf_ruleset *rs, int v6,
                      const uint8_t *key, long w, long l, int for_winner)
{
  cf_rule ra, rb;
  const cf_rule *a = &ra, *b = &rb;

  /* a self rule ranks as the entry holding the address: its /32 or /128,
   * or a loopback interface's prefix */
  cf_rule_ranked(rs, w, v6, key, &ra);
  cf_rule_ranked(rs, l, v6, key, &rb);

  if(a->plen != b->plen) {
    if(for_winner)
      snprintf(buf, n, "longest matching prefix: /%u is longer than /%u "
               "(line %u)", a->plen, b->plen, b->line);
    else
      snprintf(buf, n, "shorter prefix: /%u loses to /%u (line %u)",
               b->plen, a->plen, a->line);
  }
  else if(!!a->nports != !!b->nports) {
    if(for_winner)
      snprintf(buf, n, "same prefix as line %u: a rule with a port list "
               "ranks above one without", b->line);
    else
      snprintf(buf, n, "same prefix: the rule with a port list (line %u) "
               "ranks first", a->line);
  }
  else if(a->action != b->action) {
    if(for_winner)
      snprintf(buf, n, "same prefix and ports as line %u: deny wins a tie",
               b->line);
    else
      snprintf(buf, n, "same prefix and ports: deny (line %u) wins a tie",
               a->line);
  }
  else if(for_winner)
    snprintf(buf, n, "line %u says the same; the first one decides",
             b->line);
  else
    snprintf(buf, n, "repeats line %u, which comes first", a->line);
}

static void json_str_field(const char *key, const char *val, int comma)
{
  printf("%s\"%s\":", comma ? "," : "", key);
  cli_json_string(stdout, val);
}

/* A rule as written, or a self rule with the address it names. */
static const char *rule_text(const ex_ctx *c, long i)
{
  const cf_ruleset *rs = c->rs;
  long e = rs->rules[i].self ? cf_self_next(rs, c->v6, c->key, -1) : -1;

  for(; e >= 0; e = cf_self_next(rs, c->v6, c->key, e))
    if(rs->selfv[e].rule == (uint32_t)i)
      return rs->selfv[e].text;
  return CF_RULE_TEXT(rs, &rs->rules[i]);
}

static void print_rule_line(ex_ctx *c, long i, const char *outcome,
                            const char *why)
{
  const cf_rule *r = &c->rs->rules[i];

  if(c->json) {
    printf("%s{", c->nlines++ ? "," : "");
    json_str_field("file", c->rs->files[r->file], 0);
    printf(",\"line\":%u", r->line);
    json_str_field("rule", rule_text(c, i), 1);
    json_str_field("outcome", outcome, 1);
    json_str_field("why", why, 1);
    putchar('}');
    return;
  }
  printf("  %d. %s:%u: %s -- %s%s%s\n", ++c->nlines, c->rs->files[r->file],
         r->line, rule_text(c, i), outcome, why[0] ? ": " : "", why);
}

/* Every rule that matches c->key (family c->v6) best first, what became
 * of each at c->port, and the default's line; why the winner wins in why.
 * Returns the decision of that address alone, or -1 when out of memory. */
static int list_rules(ex_ctx *c, const char *shown, char *why, size_t whylen)
{
  const cf_ruleset *rs = c->rs;
  long *m, win = -1, second = -1;
  size_t n, i;
  char out[200];
  int action;

  n = cf_match_all(rs, c->v6, c->key, NULL, 0);
  m = calloc(n ? n : 1, sizeof(*m));
  if(!m) {
    fputs(CLI_PROG ": out of memory\n", stderr);
    return -1;
  }
  cf_match_all(rs, c->v6, c->key, m, n);
  for(i = 0; i < n; i++)
    if(cf_rule_port_match(rs, &rs->rules[m[i]], c->port) &&
       (c->port || !rs->rules[m[i]].nports)) {
      if(win < 0)
        win = m[i];
      else if(second < 0)
        second = m[i];
    }
  if(c->json)
    fputs(",\"rules\":[", stdout);
  else if(!n)
    printf("  no rule matches %s\n", shown);
  c->nlines = 0;
  for(i = 0; i < n; i++) {
    const cf_rule *r = &rs->rules[m[i]];

    if(m[i] == win) {
      print_rule_line(c, m[i], "decides", "");
      continue;
    }
    if(r->nports && !c->port)
      print_rule_line(c, m[i], "skipped",
                      "no port given, and a port list needs one");
    else if(!cf_rule_port_match(rs, r, c->port)) {
      snprintf(out, sizeof(out), "port %u is not in its list", c->port);
      print_rule_line(c, m[i], "skipped", out);
    }
    else {
      outranked(out, sizeof(out), rs, c->v6, c->key, win, m[i], 0);
      print_rule_line(c, m[i], "outranked", out);
    }
  }
  if(win < 0)
    snprintf(why, whylen, "%s", n ? "no rule matches this port: the "
                                    "default decides"
                                  : "no rule matches: the default decides");
  else if(second < 0)
    snprintf(why, whylen, "the only rule that matches");
  else
    outranked(why, whylen, rs, c->v6, c->key, win, second, 1);
  if(c->json) {
    fputs("],\"default\":{", stdout);
    json_str_field("file", rs->dflt.set ? rs->files[rs->dflt.file] : NULL, 0);
    printf(",\"line\":%u", rs->dflt.set ? rs->dflt.line : 0);
    json_str_field("rule", rs->dflt.set ? rs->dflt.text
                                        : "default deny (built-in)", 1);
    printf(",\"used\":%s}", win < 0 ? "true" : "false");
  }
  else if(rs->dflt.set)
    printf("  default: %s:%u: %s -- %s\n", rs->files[rs->dflt.file],
           rs->dflt.line, rs->dflt.text,
           win < 0 ? "decides" : "not used, a rule matched");
  else
    printf("  default: default deny (built-in) -- %s\n",
           win < 0 ? "decides" : "not used, a rule matched");
  action = win >= 0 ? rs->rules[win].action
           : rs->dflt.set ? rs->dflt.action : CURLFENCE_DENY;
  c->win = win;
  free(m);
  return action;
}

/* One step of the precedence for a name (docs/rules.md, section 5.2):
 * the host rule it found (-1: none) and what came of it. */
static void print_host_step(ex_ctx *c, int n, const char *what, long h,
                            const char *outcome)
{
  const cf_hostrule *r = h >= 0 ? &c->rs->hosts[h] : NULL;

  if(c->json) {
    printf("%s{\"step\":%d", n > 1 ? "," : "", n);
    json_str_field("what", what, 1);
    json_str_field("file", r ? c->rs->files[r->file] : NULL, 1);
    printf(",\"line\":%u", r ? r->line : 0);
    json_str_field("rule", r ? c->rs->texts + r->text : NULL, 1);
    json_str_field("outcome", outcome, 1);
    putchar('}');
    return;
  }
  printf("    %d. %s: ", n, what);
  if(r)
    printf("%s:%u: %s -- ", c->rs->files[r->file], r->line,
           c->rs->texts + r->text);
  printf("%s\n", outcome);
}

/* The four steps of a decision with the name c->host at c->key, after
 * list_rules gave the address rules' action: returns the decision. */
static int host_steps(ex_ctx *c, int addr_action)
{
  const cf_ruleset *rs = c->rs;
  long d = cf_host_match_linear(rs, CF_HOSTQ_DENY, c->host, c->v6, c->key,
                                c->port);
  long t = -1, a = -1;
  int decided = 0, action = addr_action;

  /* without host rules the output stays as it always was */
  if(!rs->nhosts)
    return action;
  if(c->json) {
    json_str_field("host", c->host, 1);
    fputs(",\"host_steps\":[", stdout);
  }
  else if(c->host)
    printf("  host %s:\n", c->host);
  else
    printf("  host: none (an IP address): host rules do not apply\n");
  if(!c->host) {
    if(c->json)
      putchar(']');
    return action;
  }
  print_host_step(c, 1, "deny host", d, d >= 0 ? "decides: deny"
                  : "none matches");
  decided = d >= 0;
  if(decided)
    action = CURLFENCE_DENY;
  if(!decided && c->win >= 0 && addr_action != CURLFENCE_ALLOW) {
    t = cf_host_match_linear(rs, CF_HOSTQ_TO, c->host, c->v6, c->key,
                             c->port);
    print_host_step(c, 2, "an address rule denies; allow host NAME to "
                    "PREFIX holding the address", t,
                    t >= 0 ? "decides: allow" : "none matches: the address "
                    "rule decides");
    action = t >= 0 ? CURLFENCE_ALLOW : CURLFENCE_DENY;
    decided = 1;
  }
  else
    print_host_step(c, 2, "an address rule denies", -1,
                    decided ? "not reached" : "no address rule denies");
  if(!decided && c->win >= 0) {
    print_host_step(c, 3, "an address rule allows", -1, "decides: allow");
    decided = 1;
  }
  else
    print_host_step(c, 3, "an address rule allows", -1,
                    decided ? "not reached" : "no address rule allows");
  if(!decided) {
    a = cf_host_match_linear(rs, CF_HOSTQ_ALLOW, c->host, c->v6, c->key,
                             c->port);
    print_host_step(c, 4, "no address rule matched; allow host", a,
                    a >= 0 ? "decides: allow" : "none matches: the default "
                    "decides");
    if(a >= 0)
      action = CURLFENCE_ALLOW;
  }
  else
    print_host_step(c, 4, "no address rule matched; allow host", -1,
                    "not reached");
  if(c->json)
    putchar(']');
  return action;
}

/* What an address is decided as: the steps before the rules. */
typedef struct ex_addr {
  char text[INET6_ADDRSTRLEN + 20];   /* the address as given, numeric */
  char shown[INET6_ADDRSTRLEN];       /* what it is decided as */
  char lo_shown[INET6_ADDRSTRLEN];    /* the loopback address, as_lo 0 */
  char step[400];                     /* the unspecified address's step */
  char mapped[1400];                  /* the IPv4-mapped or nat64 step */
  uint8_t key[16], lo[16];
  int v6;
  int as_lo;                          /* 0: also decided as lo; -1: not */
} ex_addr;

/* The address steps for ss (sslen bytes) at port: an IPv4-mapped
 * address or one inside a nat64 prefix is decided as the IPv4 address it
 * holds, the unspecified address also as the loopback address.  0, or
 * the exit status of a usage error. */
static int address_steps(const cli_cmd *cmd, const ex_ctx *c, ex_addr *a,
                         const char *input, struct sockaddr_storage *ss,
                         socklen_t sslen, unsigned port)
{
  cf_dest dest;

  memset(a, 0, sizeof(*a));
  a->as_lo = -1;
  if(ss->ss_family == AF_INET)
    ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
  else
    ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
  if(getnameinfo((struct sockaddr *)ss, sslen, a->text, sizeof(a->text),
                 NULL, 0, NI_NUMERICHOST))
    snprintf(a->text, sizeof(a->text), "%s", input);
  cf_dest_init(&dest, (struct sockaddr *)ss, sslen);
  if(dest.kind != CF_DEST_IP)
    return cli_usage_error(cmd, "\"%s\" cannot be decided", input);
  a->v6 = dest.v6;
  memcpy(a->key, dest.key, sizeof(a->key));
  inet_ntop(a->v6 ? AF_INET6 : AF_INET, a->key, a->shown, sizeof(a->shown));
  if(dest.as == CF_AS_MAPPED)
    snprintf(a->mapped, sizeof(a->mapped), "%s is an IPv4-mapped IPv6 "
             "address (::ffff:0:0/96): it is decided as the IPv4 address %s",
             a->text, a->shown);
  if(a->v6) {
    /* inside a nat64 prefix only the IPv4 rules decide */
    long n64 = cf_nat64_find(c->rs, a->key);

    if(n64 >= 0) {
      const cf_nat64 *d = &c->rs->nat64[n64];
      char pfx[INET6_ADDRSTRLEN];

      cf_nat64_extract(d->plen, dest.key, a->key);
      a->v6 = 0;
      inet_ntop(AF_INET, a->key, a->shown, sizeof(a->shown));
      inet_ntop(AF_INET6, d->prefix, pfx, sizeof(pfx));
      snprintf(a->mapped, sizeof(a->mapped), "%s is inside nat64 prefix "
               "%s/%u (%s:%u): it is decided as the IPv4 address %s it "
               "embeds", a->text, pfx, (unsigned)d->plen,
               c->rs->files[d->file], (unsigned)d->line, a->shown);
    }
    else if(cf_unspecified_loopback(a->v6, a->key, a->lo))
      a->as_lo = 0;
  }
  else if(cf_unspecified_loopback(a->v6, a->key, a->lo))
    a->as_lo = 0;
  if(a->as_lo == 0) {
    inet_ntop(a->v6 ? AF_INET6 : AF_INET, a->lo, a->lo_shown,
              sizeof(a->lo_shown));
    snprintf(a->step, sizeof(a->step), "%s is the unspecified address: a "
             "connection to it reaches this host's loopback address %s, so "
             "it is decided as both and allowed only when both are allowed",
             a->shown, a->lo_shown);
  }
  return 0;
}

/* The loopback step of curlfence_policy_decide(3) for an unspecified
 * address whose own rules gave own, why said so: the rules and host
 * steps again as the loopback address; its denial wins over an allow as
 * the address itself.  Whether the loopback decision decides (why now
 * says which), or -1 on errors. */
static int loopback_steps(ex_ctx *c, ex_addr *a, int own, char *why,
                          size_t whylen)
{
  char lo_why[200];
  int lo_action, decides;

  if(c->json) {
    json_str_field("why", why, 1);
    fputs(",\"loopback\":{", stdout);
    json_str_field("decided_as", a->lo_shown, 0);
    json_str_field("step", a->step, 1);
  }
  else {
    printf("why: %s\n", why);
    printf("as %s%s%.0u:\n", a->lo_shown, c->port ? " port " : "",
           c->port);
  }
  c->key = a->lo;
  lo_action = list_rules(c, a->lo_shown, lo_why, sizeof(lo_why));
  if(lo_action < 0)
    return -1;
  lo_action = host_steps(c, lo_action);
  decides = own == CURLFENCE_ALLOW && lo_action != CURLFENCE_ALLOW;
  snprintf(why, whylen, "%s as %s, %s as %s: the decision as %s "
           "decides", act_name((unsigned)own), a->shown,
           act_name((unsigned)lo_action), a->lo_shown,
           decides ? a->lo_shown : a->shown);
  if(c->json) {
    printf(",\"decision\":\"%s\"", act_name((unsigned)lo_action));
    json_str_field("why", lo_why, 1);
    printf(",\"decides\":%s}", decides ? "true" : "false");
  }
  else
    printf("why: %s\n", lo_why);
  return decides;
}

/* Explain one address: ss (sslen bytes, port not yet set) as given in
 * input, at c->port, for the name c->host (NULL: none): the address
 * steps, the rules, then the host steps.  0 allowed, 1 denied, 2 on
 * errors. */
static int explain_one(const cli_cmd *cmd, curlfence_policy *p, ex_ctx *cc,
                       const char *input, struct sockaddr_storage ss,
                       socklen_t sslen)
{
  ex_ctx c = *cc;
  ex_addr a;
  curlfence_verdict v;
  char why[200];
  unsigned port = c.port;
  int own, as_lo, rc;

  rc = address_steps(cmd, &c, &a, input, &ss, sslen, port);
  if(rc)
    return rc;
  as_lo = a.as_lo;
  c.v6 = a.v6;
  c.key = a.key;
  /* the decision as a guard makes it, the name included */
  {
    cf_decision d;

    cf_dest_init(&d.dest, (struct sockaddr *)&ss, sslen);
    d.dest.host = c.host;
    cf_decide(p, &d, 1);
    v = d.verdict;
  }

  if(c.json) {
    printf("{");
    json_str_field("input", input, 0);
    json_str_field("addr", a.text, 1);
    printf(",\"port\":%u", port);
    json_str_field("decided_as", a.shown, 1);
    json_str_field("step", a.mapped[0] ? a.mapped : NULL, 1);
  }
  else {
    printf("%s%s%s%s%.0u:\n", c.host ? c.host : "", c.host ? " " : "",
           a.text, port ? " port " : "", port);
    if(a.mapped[0])
      printf("  %s\n", a.mapped);
    if(a.step[0])
      printf("  %s\n", a.step);
  }
  own = list_rules(&c, a.shown, why, sizeof(why));
  if(own < 0)
    return 2;
  own = host_steps(&c, own);
  if(as_lo == 0) {
    as_lo = loopback_steps(&c, &a, own, why, sizeof(why));
    if(as_lo < 0)
      return 2;
  }
  if(c.json) {
    if(as_lo < 0)
      fputs(",\"loopback\":null", stdout);
    printf(",\"decision\":\"%s\"", act_name(v.action));
    json_str_field(as_lo < 0 ? "why" : "loopback_why", why, 1);
    fputs("}\n", stdout);
  }
  else {
    printf("%s: %s\n", as_lo < 0 ? "why" : "loopback step", why);
    printf("decision: %s (", act_name(v.action));
    cli_print_verdict_source(stdout, &v);
    fputs(")\n", stdout);
  }
  return v.action == CURLFENCE_ALLOW ? 0 : 1;
}

static int run_explain(const cli_cmd *cmd, int argc, char **argv)
{
  const char *rules = NULL, *arg, *port_opt = NULL;
  char *input, canon[CF_HOST_MAX + 1], why[160], bad[96];
  struct addrinfo hints, *res = NULL;
  curlfence_policy *p = NULL;
  struct sockaddr_storage ss;
  socklen_t sslen;
  cli_parser ps;
  cli_pins pins = { NULL, 0 };
  const cli_pin *pin;
  ex_ctx c;
  unsigned port = 0;
  size_t i;
  int k, own, one, status = 2;

  memset(&c, 0, sizeof(c));
  cli_parser_init(&ps, cmd, argc, argv);
  while((k = cli_next(&ps, &arg)) != CLI_END) {
    switch(k) {
    case 'r': rules = arg; break;
    case 'p': port_opt = arg; break;
    case CLI_KEY_JSON: c.json = 1; break;
    case CLI_LONG_ONLY + 1:
      if(cli_pin_add(&pins, arg, why, sizeof(why))) {
        cli_pins_free(&pins);
        return cli_usage_error(cmd, "%s", why);
      }
      break;
    default: cli_pins_free(&pins); return ps.status;
    }
  }
  if(ps.noperands < 1 || ps.noperands > 2)
    status = cli_usage_error(cmd, "expected ADDRESS[:PORT] or ADDRESS PORT");
  else if(port_opt && cli_parse_port(port_opt, &port))
    status = cli_usage_error(cmd, "invalid port \"%s\" (expected 1-65535)",
                             port_opt);
  else if(ps.noperands == 2 && port_opt)
    status = cli_usage_error(cmd, "\"%s\" is a second port: -p gives it "
                             "already", CLI_OPERANDS(&ps)[1]);
  else if(ps.noperands == 2 && cli_parse_port(CLI_OPERANDS(&ps)[1], &port))
    status = cli_usage_error(cmd, "invalid port \"%s\" (expected 1-65535)",
                             CLI_OPERANDS(&ps)[1]);
  /* the operand's own port wins over -p, as in check */
  else if((own = cli_split_dest(CLI_OPERANDS(&ps)[0], &input, &port, bad,
                                sizeof(bad))) < 0)
    status = cli_usage_error(cmd, "\"%s\": %s", CLI_OPERANDS(&ps)[0], bad);
  else if(own && ps.noperands == 2)
    status = cli_usage_error(cmd, "\"%s\" is a second port for an address "
                             "that names one", CLI_OPERANDS(&ps)[1]);
  else
    status = -1;
  if(status >= 0) {
    cli_pins_free(&pins);
    return status;
  }
  memset(&hints, 0, sizeof(hints));
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST;
  pin = NULL;
  if(getaddrinfo(input, NULL, &hints, &res) || !res ||
     res->ai_addrlen > sizeof(ss)) {
    if(res)
      freeaddrinfo(res);
    res = NULL;
    /* a name: only at the addresses --resolve gives it, never looked up */
    if(!cf_host_canon(input, strlen(input), canon)) {
      pin = cli_pin_find(&pins, canon, port);
      c.host = canon;
    }
    if(!pin) {
      status = cli_usage_error(cmd, "\"%s\" is not a numeric IPv4 or "
                               "IPv6 address%s", input, c.host ?
                               " (a host name needs --resolve NAME:PORT:"
                               "ADDRESS for its port)" : "");
      cli_pins_free(&pins);
      return status;
    }
    if(!port)
      port = pin->port;
  }
  else {
    memcpy(&ss, res->ai_addr, res->ai_addrlen);
    sslen = res->ai_addrlen;
    freeaddrinfo(res);
  }
  if(cli_load_policy(rules, &p)) {
    cli_pins_free(&pins);
    return 2;
  }
  c.rs = &p->rs;
  c.port = port;
  if(!pin)
    status = explain_one(cmd, p, &c, input, ss, sslen);
  else
    for(i = 0, status = 0; !cli_pin_addr(pin, i, &ss, &sslen); i++) {
      one = explain_one(cmd, p, &c, input, ss, sslen);
      status = one > status ? one : status;
    }
  curlfence_policy_unref(p);
  cli_pins_free(&pins);
  return status;
}

const cli_cmd cli_cmd_explain = {
  "explain", "ADDRESS[:PORT] | ADDRESS PORT",
  "show every rule that matches an address and why the winner wins",
  "Rules are listed best first: longest prefix, then a rule with a port\n"
  "list, then deny, then the earlier line.  An IPv4-mapped IPv6 address\n"
  "is decided as its IPv4 address.  The unspecified address (0.0.0.0, ::)\n"
  "is decided as itself and as the loopback address it reaches; both are\n"
  "listed, and it is allowed only when both are.  ADDRESS is numeric; its\n"
  "port goes after a colon (10.0.0.1:443, [2001:db8::1]:443), after it as\n"
  "a second operand, or in -p PORT.  With --resolve HOST:PORT:ADDR[,ADDR]\n"
  "(curl's spelling), ADDRESS may be HOST: each of its addresses is\n"
  "explained with the name, step by step through the host rules; the\n"
  "name is never looked up.\n"
  "Exit status: 0 allowed, 1 denied, 2 usage or rules error.\n",
  explain_opts, run_explain
};
