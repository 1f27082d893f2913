/* SPDX-License-Identifier: MIT */
/*
 * Shared parts of curlfence(1); see cli.h.  Option parsing is done here
 * rather than with getopt_long() because getopt takes "-1" for an option
 * and cannot tell a subcommand's operands from the rest the same way in
 * every subcommand.
 */
#include "cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_RULES "rules/default.rules"

/* ------------------------------------------------------------- options */

void cli_parser_init(cli_parser *p, const cli_cmd *cmd, int argc,
                     char **argv)
{
  memset(p, 0, sizeof(*p));
  p->cmd = cmd;
  p->argc = argc;
  p->argv = argv;
  p->next = 1;
}

int cli_usage_error(const cli_cmd *cmd, const char *fmt, ...)
{
  va_list ap;

  fprintf(stderr, CLI_PROG "%s%s: ", cmd ? " " : "", cmd ? cmd->name : "");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  if(cmd)
    fprintf(stderr, "\nTry '" CLI_PROG " %s --help'.\n", cmd->name);
  else
    fputs("\nTry '" CLI_PROG " --help'.\n", stderr);
  return 2;
}

static int is_operand(const char *a)
{
  return a[0] != '-' || a[1] == '\0' || (a[1] >= '0' && a[1] <= '9');
}

static int parse_error(cli_parser *p, const char *fmt, const char *what)
{
  char msg[300];

  snprintf(msg, sizeof(msg), fmt, what);
  p->status = cli_usage_error(p->cmd, "%s", msg);
  return CLI_EXIT;
}

static int found(cli_parser *p, const cli_opt *o)
{
  if(o->key == 'h') {
    cli_help(stdout, p->cmd);
    p->status = 0;
    return CLI_EXIT;
  }
  return o->key;
}

static int next_long(cli_parser *p, char *a, const char **arg)
{
  const cli_opt *o;
  char *eq = strchr(a, '=');
  size_t n = eq ? (size_t)(eq - a) : strlen(a);

  for(o = p->cmd->opts; o->name; o++)
    if(strlen(o->name) == n && !strncmp(o->name, a, n))
      break;
  if(!o->name) {
    if(eq)
      *eq = '\0';
    return parse_error(p, "unknown option '--%s'", a);
  }
  if(!o->arg) {
    if(eq)
      return parse_error(p, "option '--%s' takes no argument", o->name);
    return found(p, o);
  }
  if(eq)
    *arg = eq + 1;
  else if(p->next < p->argc)
    *arg = p->argv[p->next++];
  else
    return parse_error(p, "option '--%s' needs an argument", o->name);
  return found(p, o);
}

static int next_short(cli_parser *p, const char **arg)
{
  const cli_opt *o;
  char c = *p->pending++;
  char name[2] = { c, '\0' };

  for(o = p->cmd->opts; o->name; o++)
    if(o->key == (unsigned char)c)
      break;
  if(!o->name)
    return parse_error(p, "unknown option '-%s'", name);
  if(o->arg) {
    if(*p->pending)
      *arg = p->pending;          /* -rFILE */
    else if(p->next < p->argc)
      *arg = p->argv[p->next++];
    else
      return parse_error(p, "option '-%s' needs an argument", name);
    p->pending = NULL;
  }
  else if(!*p->pending)
    p->pending = NULL;
  return found(p, o);
}

int cli_next(cli_parser *p, const char **arg)
{
  *arg = NULL;
  if(p->pending)
    return next_short(p, arg);
  while(p->next < p->argc) {
    char *a = p->argv[p->next++];

    if(p->only_operands || is_operand(a)) {
      /* noperands < next, so this never overwrites an unread argument */
      p->argv[p->noperands++] = a;
      continue;
    }
    if(!strcmp(a, "--")) {
      p->only_operands = 1;
      continue;
    }
    if(a[1] == '-')
      return next_long(p, a + 2, arg);
    p->pending = a + 1;
    return next_short(p, arg);
  }
  return CLI_END;
}

void cli_help(FILE *f, const cli_cmd *cmd)
{
  const cli_opt *o;

  fprintf(f, "usage: " CLI_PROG " %s [OPTIONS] %s\n%s\n", cmd->name,
          cmd->operands, cmd->summary);
  fputs("options:\n", f);
  for(o = cmd->opts; o->name; o++) {
    char spell[64];

    if(o->key < CLI_LONG_ONLY)
      snprintf(spell, sizeof(spell), "-%c, --%s%s%s", o->key, o->name,
               o->arg ? " " : "", o->arg ? o->arg : "");
    else
      snprintf(spell, sizeof(spell), "    --%s%s%s", o->name,
               o->arg ? " " : "", o->arg ? o->arg : "");
    fprintf(f, "  %-24s %s\n", spell, o->help);
  }
  if(cmd->details)
    fputs(cmd->details, f);
}

void cli_main_help(FILE *f)
{
  const cli_cmd *const *c;

  fputs("usage: " CLI_PROG " COMMAND [OPTIONS] [ARGS]\n"
        "       " CLI_PROG " --version | --help | COMMAND --help\n"
        "commands:\n", f);
  for(c = cli_commands; *c; c++)
    fprintf(f, "  %-10s %s\n", (*c)->name, (*c)->summary);
  fprintf(f, "RULES defaults to %s.\n", cli_default_rules());
}

/* ---------------------------------------------------------------- rules */

const char *cli_default_rules(void)
{
  return DEFAULT_RULES;
}

int cli_load_policy(const char *path, curlfence_policy **out)
{
  curlfence_error err;

  *out = NULL;
  if(!path)
    path = cli_default_rules();
  if(curlfence_policy_load_file(out, path, &err)) {
    fprintf(stderr, CLI_PROG ": %s\n", err.text);
    return -1;
  }
  return 0;
}

/* -------------------------------------------------------------- parsing */

int cli_parse_port(const char *s, unsigned *port)
{
  char *end;
  unsigned long v = strtoul(s, &end, 10);

  if(!*s || *end || v > 65535 || s[0] == '-' || s[0] == '+')
    return -1;
  *port = (unsigned)v;
  return 0;
}

/* --------------------------------------------------------------- output */

void cli_print_verdict_source(FILE *f, const curlfence_verdict *v)
{
  if(v->file)
    fprintf(f, "%s:%u: %s", v->file, v->line, v->rule);
  else
    fprintf(f, "built-in: %s", v->rule);
}

void cli_json_string(FILE *f, const char *s)
{
  const unsigned char *c;

  putc('"', f);
  for(c = (const unsigned char *)s; *c; c++) {
    if(*c == '"' || *c == '\\')
      fprintf(f, "\\%c", *c);
    else if(*c < 0x20 || *c == 0x7f)
      fprintf(f, "\\u%04x", *c);
    else
      putc(*c, f);
  }
  putc('"', f);
}
