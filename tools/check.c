/* SPDX-License-Identifier: MIT */
/*
 * curlfence check: decide addresses the way a guard would, without
 * connecting anywhere.  Host names are resolved (getaddrinfo, never with
 * -n) and every address they resolve to is decided.  Exit 0 when
 * everything was allowed, 1 when something was denied, 2 on usage or rules
 * errors or when an address could not be read or resolved (the others are
 * still decided).
 */
#include "check.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const cli_opt check_opts[] = {
  CLI_OPT_RULES,
  CLI_OPT_PORT,
  { "numeric", 'n', NULL, "never resolve host names: a name is an error" },
  { "quiet", 'q', NULL, "print nothing; the exit status tells" },
  { "resolve", CLI_LONG_ONLY + 1, "HOST:PORT:ADDR[,ADDR]",
    "decide HOST at these addresses, without looking it up" },
  CLI_OPT_JSON,
  CLI_OPT_HELP,
  CLI_OPT_END
};

/* host: the canonical name decided with the address, or NULL */
void check_print_one(check_ctx *c, const char *input, const char *host,
                     const char *addr, unsigned port,
                     const curlfence_verdict *v)
{
  const char *act = v->action == CURLFENCE_ALLOW ? "allow" : "deny";
  char as[16];
  int translated = cli_nat64_as(v, addr, as, sizeof(as)) == 0;
  cli_line line;

  if(v->action != CURLFENCE_ALLOW)
    c->denied = 1;
  if(c->quiet)
    return;
  check_sync(c);
  if(c->json) {
    fputs("{\"input\":", stdout);
    cli_json_string(stdout, input);
    fputs(",\"host\":", stdout);
    cli_json_string(stdout, host);
    fputs(",\"addr\":", stdout);
    cli_json_string(stdout, addr);
    /* the IPv4 address a nat64 destination was decided as, as in audit
     * events */
    fputs(",\"as\":", stdout);
    cli_json_string(stdout, translated ? as : NULL);
    printf(",\"port\":%u,\"decision\":\"%s\",\"default\":%s,\"reason\":",
           port, act, v->is_default ? "true" : "false");
    cli_json_string(stdout, v->reason);
    fputs(",\"rule\":{\"file\":", stdout);
    cli_json_string(stdout, v->file);
    printf(",\"line\":%u,\"text\":", v->line);
    cli_json_string(stdout, v->rule);
    fputs("}}\n", stdout);
    return;
  }
  /* The input is repeated only when it is not the address itself: a host
   * name, or an unusual spelling such as 2130706433.  No printf, one
   * fwrite: printing was most of the time of a batch. */
  line.f = stdout;
  line.n = 0;
  cli_line_put(&line, act);
  cli_line_put(&line, " ");
  /* the name the host rules saw, as they compare it */
  if(host || strcmp(input, addr)) {
    cli_line_put(&line, host ? host : input);
    cli_line_put(&line, " ");
  }
  cli_line_put(&line, addr);
  if(port) {
    cli_line_put(&line, " port ");
    cli_line_uint(&line, port);
  }
  if(translated) {
    cli_line_put(&line, " as ");
    cli_line_put(&line, as);
  }
  cli_line_put(&line, " (");
  cli_line_verdict_source(&line, v);
  cli_line_put(&line, ")\n");
  cli_line_flush(&line);
}

void check_print_error(check_ctx *c, const char *input, const char *msg)
{
  c->failed = 1;
  check_sync(c);
  if(c->json && !c->quiet) {
    fputs("{\"input\":", stdout);
    cli_json_string(stdout, input);
    fputs(",\"error\":", stdout);
    cli_json_string(stdout, msg);
    fputs("}\n", stdout);
  }
  fprintf(stderr, CLI_PROG ": \"%s\": %s\n", input, msg);
}

/* a.b.c.d, as inet_ntop writes it, into out (16 bytes) */
static void ipv4_text(const unsigned char *a, char *out)
{
  for(int i = 0; i < 4; i++) {
    unsigned v = a[i];

    if(v >= 100)
      *out++ = (char)('0' + v / 100);
    if(v >= 10)
      *out++ = (char)('0' + v / 10 % 10);
    *out++ = (char)('0' + v % 10);
    *out++ = i < 3 ? '.' : '\0';
  }
}

static void decide_sa(check_ctx *c, const char *input, const char *host,
                      struct sockaddr *sa, socklen_t salen, unsigned port)
{
  curlfence_verdict v;
  char text[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];

  if(sa->sa_family == AF_INET)
    ((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
  else
    ((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
  /* getnameinfo only for a zone id: inet_ntop is several times faster,
   * which shows in a batch of a million lines, and IPv4 by hand faster
   * still (glibc's inet_ntop formats it with sprintf) */
  if(sa->sa_family == AF_INET)
    ipv4_text((const unsigned char *)
              &((struct sockaddr_in *)sa)->sin_addr, text);
  else if(!((struct sockaddr_in6 *)sa)->sin6_scope_id)
    inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, text,
              sizeof(text));
  else if(getnameinfo(sa, salen, text, sizeof(text), NULL, 0,
                      NI_NUMERICHOST))
    snprintf(text, sizeof(text), "?");
  if(host) {
    /* as a guard decides a connection made for the name */
    cf_decision d;

    cf_dest_init(&d.dest, sa, salen);
    d.dest.host = host;
    cf_decide(c->p, &d, 1);
    v = d.verdict;
  }
  else
    curlfence_policy_decide(c->p, sa, salen, &v);
  check_print_one(c, input, host, text, port, &v);
}

/* s is all a usual IPv4 spelling (check_quad_prefix); 0 for anything else,
 * which inet_pton then reads. */
static int dotted_quad(const char *s, unsigned char *out)
{
  size_t n = check_quad_prefix(s, out);

  return n && !s[n];
}

/* Only names that could be in the DNS are looked up: a typo such as
 * "10.0.0.0/8" is reported, not sent to a resolver. */
static int host_name_ok(const char *s)
{
  size_t n = strlen(s);
  const char *last = strrchr(s, '.');
  int digits = 1;

  if(!n || n > 253 || s[0] == '.' || s[0] == '-')
    return 0;
  /* a top-level label is never all digits (RFC 3696 section 2): "080" or
   * "1.2.3.999" is a mistyped port or address, not a name to look up */
  for(last = last && last[1] ? last + 1 : s; *last && *last != '.'; last++)
    if(!isdigit((unsigned char)*last))
      digits = 0;
  if(digits)
    return 0;
  for(; *s; s++)
    if(!isalnum((unsigned char)*s) && *s != '-' && *s != '.' && *s != '_')
      return 0;
  return 1;
}

/* Decide one operand: a numeric address (with a zone id, or in any form
 * inet_aton reads, as libcurl would connect to it), else a host name,
 * every address of which is decided. */
static void check_one(check_ctx *c, const char *input, unsigned port)
{
  struct addrinfo hints, *res = NULL, *ai;
  struct sockaddr_storage ss;
  char canon[CF_HOST_MAX + 1];
  const char *host;
  const cli_pin *pin;
  int rc, rc_numeric;

  memset(&ss, 0, sizeof(ss));
  {
    /* the common case of a batch, without getaddrinfo's cost */
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

    if(dotted_quad(input, (unsigned char *)&in->sin_addr) ||
       inet_pton(AF_INET, input, &in->sin_addr) == 1) {
      in->sin_family = AF_INET;
      decide_sa(c, input, NULL, (struct sockaddr *)in, sizeof(*in), port);
      return;
    }
    if(inet_pton(AF_INET6, input, &in6->sin6_addr) == 1) {
      in6->sin6_family = AF_INET6;
      decide_sa(c, input, NULL, (struct sockaddr *)in6, sizeof(*in6), port);
      return;
    }
  }
  /* a name: decided with its canonical form (none when it has none, as
   * a guard decides such a URL), at the --resolve addresses if given */
  host = cf_host_canon(input, strlen(input), canon) ? NULL : canon;
  pin = host ? cli_pin_find(&c->pins, host, port) : NULL;
  if(pin) {
    socklen_t len;
    size_t i;

    for(i = 0; !cli_pin_addr(pin, i, &ss, &len); i++)
      decide_sa(c, input, host, (struct sockaddr *)&ss, len,
                port ? port : pin->port);
    return;
  }
  /* pinned at another port: never looked up instead */
  if(host && cli_pin_find(&c->pins, host, 0)) {
    check_print_error(c, input,
                      "--resolve gives no address for it at this port");
    return;
  }
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;  /* one entry per address */
  hints.ai_flags = AI_NUMERICHOST;
  rc = getaddrinfo(input, NULL, &hints, &res);
  rc_numeric = rc == 0;
  if(rc == EAI_NONAME && !host_name_ok(input)) {
    check_print_error(c, input, "not an address or a host name");
    return;
  }
  if(rc == EAI_NONAME && c->numeric) {
    check_print_error(c, input, "not a numeric address (-n: host names "
                      "are not resolved)");
    return;
  }
  if(rc == EAI_NONAME) {
    hints.ai_flags = 0;
    rc = getaddrinfo(input, NULL, &hints, &res);
  }
  if(rc) {
    check_print_error(c, input, rc == EAI_NONAME
                ? "not an address, and no such host"
                : gai_strerror(rc));
    return;
  }
  for(ai = res; ai; ai = ai->ai_next) {
    if(ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
      continue;
    memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
    /* a numeric spelling getaddrinfo read (a zone id) has no name */
    decide_sa(c, input, rc_numeric ? NULL : host, (struct sockaddr *)&ss,
              ai->ai_addrlen, port);
  }
  freeaddrinfo(res);
}

/* An operand is taken for a port when nothing in it belongs to an address
 * or a host name, so "080", " +80" and "-1" are rejected as ports. */
static int looks_like_port(const char *s)
{
  if(!strcmp(s, "-"))
    return 0;             /* standard input */
  for(; *s; s++)
    if(!isdigit((unsigned char)*s) && *s != '+' && *s != '-' &&
       !isspace((unsigned char)*s))
      return 0;
  return 1;
}

/* Decide a destination operand or line: ADDRESS, ADDRESS:PORT,
 * [V6ADDR]:PORT, HOST or HOST:PORT.  Its own port wins over port, the
 * command's (-p or the trailing PORT); own_port (NULL: none) is a second
 * word of a standard input line. */
void check_dest(check_ctx *c, char *dest, const char *own_port,
                unsigned port)
{
  char why[96], *host;
  unsigned p = port;
  int rc = cli_split_dest(dest, &host, &p, why, sizeof(why));

  if(rc < 0) {
    check_print_error(c, dest, why);
    return;
  }
  if(own_port && rc) {
    check_print_error(c, own_port,
                      "a second port for an address that names one");
    return;
  }
  if(own_port && cli_parse_port(own_port, &p)) {
    snprintf(why, sizeof(why), "invalid port \"%.40s\" (expected 1-65535)",
             own_port);
    check_print_error(c, own_port, why);
    return;
  }
  check_one(c, host, p);
}

/* A bare port among several addresses: 1 to 5 digits.  Longer numbers are
 * addresses (2130706433 is 127.0.0.1). */
static int is_port_word(const char *s)
{
  size_t n = strspn(s, "0123456789");

  return n && n <= 5 && !s[n];
}

static int check_args(const cli_cmd *cmd, int argc, char **argv,
                      check_ctx *cc)
{
  const char *rules = NULL, *arg, *port_opt = NULL;
  check_ctx c = *cc;
  cli_parser ps;
  unsigned port = 0;
  char **ops, why[160];
  int key, i, n, rc, stdin_ops = 0;

  cli_parser_init(&ps, cmd, argc, argv);
  while((key = cli_next(&ps, &arg)) != CLI_END) {
    switch(key) {
    case 'r': rules = arg; break;
    case 'p': port_opt = arg; break;
    case 'n': c.numeric = 1; break;
    case 'q': c.quiet = 1; break;
    case CLI_KEY_JSON: c.json = 1; break;
    case CLI_LONG_ONLY + 1:
      rc = cli_pin_add(&cc->pins, arg, why, sizeof(why));
      c.pins = cc->pins;
      if(rc)
        return cli_usage_error(cmd, "%s", why);
      break;
    default: return ps.status;
    }
  }
  ops = CLI_OPERANDS(&ps);
  n = ps.noperands;
  if(n < 1)
    return cli_usage_error(cmd, "expected ADDRESS... or - to read standard "
                           "input");
  if(port_opt && cli_parse_port(port_opt, &port))
    return cli_usage_error(cmd, "invalid port \"%s\" (expected 1-65535)",
                           port_opt);
  /* ADDRESS PORT, the form for one address */
  if(n == 2 && looks_like_port(ops[1])) {
    if(port_opt)
      return cli_usage_error(cmd, "\"%s\" is a second port: -p gives it "
                             "already", ops[1]);
    if(cli_parse_port(ops[1], &port))
      return cli_usage_error(cmd, "invalid port \"%s\" (expected 1-65535)",
                             ops[1]);
    n--;
  }
  /* Among several addresses, a bare port could belong to the one before
   * it or to all of them: neither is guessed. */
  for(i = 1; n > 2 && i < n; i++)
    if(is_port_word(ops[i]))
      return cli_usage_error(cmd, "\"%s\" looks like a port, but there are "
                             "several addresses: write ADDRESS:PORT, "
                             "[IPV6]:PORT or -p PORT", ops[i]);
  for(i = 0; i < n; i++)
    stdin_ops += !strcmp(ops[i], "-");
  if(stdin_ops > 1 || (stdin_ops && rules && !strcmp(rules, "-")))
    return cli_usage_error(cmd, "standard input (-) can be read only once");
  if(cli_load_policy(rules, &c.p))
    return 2;
  /* On a terminal each answer as it comes; otherwise in large blocks
   * (--json too), written before standard input is waited for. */
  c.line_mode = isatty(STDOUT_FILENO);
  for(i = 0; i < n && !c.line_mode; i++)
    if(!strcmp(ops[i], "-")) {
      static char outbuf[CHECK_OUT_SIZE];

      setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
      break;
    }
  for(i = 0; i < n; i++) {
    if(!strcmp(ops[i], "-"))
      check_stdin(&c, port);
    else
      check_dest(&c, ops[i], NULL, port);
  }
  check_sync(&c);
  curlfence_policy_unref(c.p);
  if(fflush(stdout) || ferror(stdout)) {
    fputs(CLI_PROG ": cannot write to standard output\n", stderr);
    return 2;
  }
  return c.failed ? 2 : c.denied ? 1 : 0;
}

static int run_check(const cli_cmd *cmd, int argc, char **argv)
{
  static char out[CHECK_OUT_SIZE];
  check_ctx c;
  int rc;

  memset(&c, 0, sizeof(c));
  c.out = out;
  rc = check_args(cmd, argc, argv, &c);
  cli_pins_free(&c.pins);
  return rc;
}

const cli_cmd cli_cmd_check = {
  "check", "ADDRESS[:PORT]... | ADDRESS PORT",
  "decide whether connections to addresses or host names are allowed",
  "ADDRESS is an IPv4 or IPv6 address (a zone id such as %eth0 is\n"
  "accepted), a host name (every address it resolves to is decided; no\n"
  "connection is made; -n refuses names), or - for one \"ADDRESS [PORT]\"\n"
  "per line on standard input.  A port goes after a colon: 10.0.0.1:443,\n"
  "[2001:db8::1]:443, localhost:443; -p PORT is the port of every operand\n"
  "without one, and so is PORT after a single ADDRESS.  PORT is 1-65535;\n"
  "without one only rules without a port list match.\n"
  "A host name is decided with its name, as a guard decides a connection\n"
  "made for it: host rules apply.  --resolve HOST:PORT:ADDR[,ADDR] (as\n"
  "curl spells it; may be repeated) gives HOST's addresses at PORT, which\n"
  "are then decided without looking the name up.\n"
  "Exit status: 0 all allowed, 1 something denied, 2 usage or rules\n"
  "error, or an address that could not be read or resolved.\n",
  check_opts, run_check
};
