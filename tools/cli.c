/* SPDX-License-Identifier: MIT */
/*
 * Shared parts of curlfence(1); see cli.h.  Option parsing is done here
 * rather than with getopt_long() because getopt takes "-1" for an option
 * and cannot tell a subcommand's operands from the rest the same way in
 * every subcommand.
 */
#include "cli.h"
#include "guard/guard.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cli_main_help(FILE *f)
{
  const cli_cmd *const *c;

  fputs("usage: " CLI_PROG " COMMAND [OPTIONS] [ARGS]\n"
        "       " CLI_PROG " -V|--version | -h|--help | COMMAND --help\n"
        "commands:\n", f);
  for(c = cli_commands; *c; c++)
    fprintf(f, "  %-10s %s\n", (*c)->name, (*c)->summary);
  fprintf(f, "RULES defaults to %s.\n", cli_default_rules());
}

void cli_list_options(FILE *f)
{
  const cli_cmd *const *c;
  const cli_opt *o;

  for(c = cli_commands; *c; c++) {
    fputs((*c)->name, f);
    for(o = (*c)->opts; o->name; o++) {
      if(o->key < CLI_LONG_ONLY)
        fprintf(f, " -%c|", o->key);
      else
        putc(' ', f);
      fprintf(f, "--%s%s%s", o->name, o->arg ? "=" : "", o->arg ? o->arg : "");
    }
    putc('\n', f);
  }
}

void cli_version(FILE *f)
{
  const char *curl = cli_libcurl_version();
  const char *preload = cli_preload_path();

  fprintf(f, CLI_PROG " %s\n", curlfence_version());
  /* the libcurl loaded now, which may be newer than the one built with */
  fprintf(f, "libcurl %s\n", curl ? curl : "unknown");
  fprintf(f, "rules: %s\n", cli_default_rules());
  fprintf(f, "preload: %s%s\n", preload,
          access(preload, R_OK) ? " (not found)" : "");
}

/* ---------------------------------------------------------------- rules */

/* CURLFENCE_RULES, else the tree's rules for the tool built in a source
 * tree, else the installed default. */
const char *cli_default_rules(void)
{
  const char *env = cli_setting(NULL, "CURLFENCE_RULES");

  if(env)
    return env;
  return cli_path(CLI_PATH_RULES);
}

int cli_read_stdin(char **text, size_t *len)
{
  size_t cap = 65536, n = 0, got;
  char *buf = malloc(cap), *q;

  while(buf) {
    got = fread(buf + n, 1, cap - n - 1, stdin);
    n += got;
    if(n + 1 < cap)
      break;
    q = realloc(buf, cap * 2);
    if(!q) {
      free(buf);
      buf = NULL;
      errno = ENOMEM;
      break;
    }
    buf = q;
    cap *= 2;
  }
  if(!buf || ferror(stdin)) {
    fprintf(stderr, CLI_PROG ": cannot read standard input: %s\n",
            strerror(errno));
    free(buf);
    return -1;
  }
  buf[n] = '\0';
  *text = buf;
  *len = n;
  return 0;
}

static void load_error(const char *path, const curlfence_error *err)
{
  fprintf(stderr, CLI_PROG ": %s\n", err->text);
  if(err->code == CURLFENCE_E_IO)
    fputs("Use -r FILE to name the rules file.\n", stderr);
  else
    fprintf(stderr, "Run '" CLI_PROG " lint %s' for every problem in it.\n",
            path);
}

/* Rules text from standard input, given to load (a policy's or a rule
 * set's) as CLI_STDIN_NAME; errors are reported. */
static int load_stdin(curlfence_code (*load)(void *out, const char *text,
                                             size_t len,
                                             curlfence_error *err),
                      void *out)
{
  curlfence_error err;
  char *text;
  size_t len;
  curlfence_code rc;

  if(cli_read_stdin(&text, &len))
    return -1;
  rc = load(out, text, len, &err);
  free(text);
  if(rc) {
    load_error("-", &err);
    return -1;
  }
  return 0;
}

static curlfence_code policy_text(void *out, const char *text, size_t len,
                                  curlfence_error *err)
{
  return curlfence_policy_load_string(out, text, len, CLI_STDIN_NAME, err);
}

static curlfence_code ruleset_text(void *out, const char *text, size_t len,
                                   curlfence_error *err)
{
  return cf_rules_parse_string(out, text, len, CLI_STDIN_NAME, err);
}

int cli_load_policy(const char *path, curlfence_policy **out)
{
  curlfence_error err;

  *out = NULL;
  if(path && !strcmp(path, "-"))
    return load_stdin(policy_text, out);
  if(!path)
    path = cli_default_rules();
  if(curlfence_policy_load_file(out, path, &err)) {
    load_error(path, &err);
    return -1;
  }
  /* A compiled image still works when its rules changed, but it is not
   * what they say any more: say so wherever one is loaded. */
  if(curlfence_policy_image_stale(*out, &err))
    fprintf(stderr, CLI_PROG ": warning: %s is stale: %s\n", path, err.text);
  return 0;
}

int cli_load_ruleset(const char *path, struct cf_ruleset *rs)
{
  curlfence_error err;

  memset(rs, 0, sizeof(*rs));
  if(path && !strcmp(path, "-"))
    return load_stdin(ruleset_text, rs);
  if(!path)
    path = cli_default_rules();
  if(cf_image_probe(path)) {
    fprintf(stderr, CLI_PROG ": %s is a compiled image: give the rules file "
            "it was compiled from\n", path);
    return -1;
  }
  if(cf_rules_parse_file(rs, path, &err)) {
    load_error(path, &err);
    return -1;
  }
  return 0;
}

/* -------------------------------------------------------------- parsing */

int cli_parse_port(const char *s, unsigned *port)
{
  unsigned v = 0;
  const char *c;

  /* strtoul would take blanks, a sign and leading zeros */
  if(s[0] < '1' || s[0] > '9')
    return -1;
  for(c = s; *c; c++) {
    if(*c < '0' || *c > '9' || c - s >= 5)
      return -1;
    v = v * 10 + (unsigned)(*c - '0');
  }
  if(v > 65535)
    return -1;
  *port = v;
  return 0;
}

int cli_split_dest(char *s, char **host, unsigned *port, char *why,
                   size_t whylen)
{
  char *close = NULL, *colon;

  /* s is changed only on success, so a caller can still quote it */
  if(s[0] == '[') {
    close = strchr(s, ']');
    if(!close) {
      snprintf(why, whylen, "missing \"]\" after the IPv6 address");
      return -1;
    }
    if(!memchr(s + 1, ':', (size_t)(close - s - 1))) {
      snprintf(why, whylen, "brackets hold only IPv6 addresses");
      return -1;
    }
    if(close[1] && close[1] != ':') {
      snprintf(why, whylen, "expected \":PORT\" after \"]\"");
      return -1;
    }
    colon = close[1] ? close + 1 : NULL;
  }
  else {
    colon = strchr(s, ':');
    /* two colons or more: an IPv6 address, which has no port here */
    if(colon && strchr(colon + 1, ':'))
      colon = NULL;
    if(colon == s) {
      snprintf(why, whylen, "missing address before \":\"");
      return -1;
    }
  }
  if(colon && cli_parse_port(colon + 1, port)) {
    snprintf(why, whylen, "invalid port \"%.40s\" (expected 1-65535)",
             colon + 1);
    return -1;
  }
  if(colon)
    *colon = '\0';
  if(close) {
    *close = '\0';
    s++;
  }
  *host = s;
  return colon != NULL;
}

/* ---------------------------------------------------------- --resolve */

/* Item i of a comma-separated list into out (size bytes), brackets
 * around it dropped; -1 past the end or when it does not fit. */
static int list_item(const char *list, size_t i, char *out, size_t size)
{
  const char *s = list, *e;
  size_t n;

  for(; i; i--) {
    s = strchr(s, ',');
    if(!s)
      return -1;
    s++;
  }
  e = strchr(s, ',');
  n = e ? (size_t)(e - s) : strlen(s);
  if(n >= 2 && s[0] == '[' && s[n - 1] == ']') {
    s++;
    n -= 2;
  }
  if(n >= size)
    return -1;
  memcpy(out, s, n);
  out[n] = '\0';
  return 0;
}

int cli_pin_addr(const cli_pin *pin, size_t i, struct sockaddr_storage *ss,
                 socklen_t *len)
{
  char a[INET6_ADDRSTRLEN + 1];
  struct sockaddr_in *in = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

  memset(ss, 0, sizeof(*ss));
  if(list_item(pin->addrs, i, a, sizeof(a)))
    return -1;
  if(inet_pton(AF_INET, a, &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    *len = sizeof(*in);
    return 0;
  }
  if(inet_pton(AF_INET6, a, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    *len = sizeof(*in6);
    return 0;
  }
  return -1;
}

int cli_pin_add(cli_pins *pins, const char *arg, char *why, size_t whylen)
{
  const char *c1 = strchr(arg, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
  char port[8];
  cli_pin pin, *nv;
  struct sockaddr_storage ss;
  socklen_t len;
  size_t i, n;

  if(!c2) {
    snprintf(why, whylen, "\"%.80s\": expected HOST:PORT:ADDRESS[,ADDRESS]",
             arg);
    return -1;
  }
  memset(&pin, 0, sizeof(pin));
  if(cf_host_canon(arg, (size_t)(c1 - arg), pin.host)) {
    snprintf(why, whylen, "\"%.*s\" is not a host name", (int)(c1 - arg),
             arg);
    return -1;
  }
  snprintf(port, sizeof(port), "%.*s", (int)(c2 - c1 - 1), c1 + 1);
  if((size_t)(c2 - c1 - 1) >= sizeof(port) ||
     cli_parse_port(port, &pin.port)) {
    snprintf(why, whylen, "invalid port \"%.*s\" in --resolve (expected "
             "1-65535)", (int)(c2 - c1 - 1), c1 + 1);
    return -1;
  }
  pin.addrs = c2 + 1;
  for(i = 0, n = 1; pin.addrs[i]; i++)
    n += pin.addrs[i] == ',';
  for(i = 0; i < n; i++)
    if(cli_pin_addr(&pin, i, &ss, &len)) {
      char a[64] = "";

      list_item(pin.addrs, i, a, sizeof(a));
      snprintf(why, whylen, "\"%.60s\" in --resolve is not a numeric "
               "address", a);
      return -1;
    }
  nv = realloc(pins->v, (pins->n + 1) * sizeof(*nv));
  if(!nv) {
    snprintf(why, whylen, "out of memory");
    return -1;
  }
  pins->v = nv;
  pins->v[pins->n++] = pin;
  return 0;
}

const cli_pin *cli_pin_find(const cli_pins *pins, const char *host,
                            unsigned port)
{
  size_t i;

  for(i = 0; i < pins->n; i++)
    if(!strcmp(pins->v[i].host, host) && (!port || pins->v[i].port == port))
      return &pins->v[i];
  return NULL;
}

void cli_pins_free(cli_pins *pins)
{
  free(pins->v);
  pins->v = NULL;
  pins->n = 0;
}

/* --------------------------------------------------------------- output */

int cli_nat64_as(const curlfence_verdict *v, const char *addr, char *out,
                 size_t size)
{
  return cf_nat64_as_text(v->reason, addr, out, size);
}

void cli_line_flush(cli_line *l)
{
  if(l->n)
    fwrite(l->b, 1, l->n, l->f);
  l->n = 0;
}

void cli_line_put(cli_line *l, const char *s)
{
  size_t n = strlen(s);

  if(n > sizeof(l->b) - l->n) {
    cli_line_flush(l);
    if(n > sizeof(l->b)) {
      fwrite(s, 1, n, l->f);
      return;
    }
  }
  memcpy(l->b + l->n, s, n);
  l->n += n;
}

void cli_line_uint(cli_line *l, unsigned u)
{
  char buf[12], *p = buf + sizeof(buf);

  *--p = '\0';
  do
    *--p = (char)('0' + u % 10);
  while(u /= 10);
  cli_line_put(l, p);
}

void cli_line_verdict_source(cli_line *l, const curlfence_verdict *v)
{
  if(v->file) {
    cli_line_put(l, v->file);
    cli_line_put(l, ":");
    cli_line_uint(l, v->line);
    cli_line_put(l, ": ");
  }
  else
    cli_line_put(l, "built-in: ");
  cli_line_put(l, v->rule);
}

void cli_print_verdict_source(FILE *f, const curlfence_verdict *v)
{
  cli_line l;

  l.f = f;
  l.n = 0;
  cli_line_verdict_source(&l, v);
  cli_line_flush(&l);
}

/* The library's escaper, so that --json output and audit events write
 * the same bytes the same way: valid UTF-8 whatever a file name or an
 * operand holds. */
void cli_json_string(FILE *f, const char *s)
{
  char small[512], *buf = small;
  size_t n = cf_json_string(small, sizeof(small), s);

  if(n >= sizeof(small)) {
    buf = malloc(n + 1);
    if(!buf) {
      /* half a string would be invalid JSON: stop instead */
      fputs(CLI_PROG ": out of memory\n", stderr);
      exit(2);
    }
    cf_json_string(buf, n + 1, s);
  }
  fwrite(buf, 1, n, f);
  if(buf != small)
    free(buf);
}
