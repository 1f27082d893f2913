/* SPDX-License-Identifier: MIT */
/*
 * What every curlfence(1) subcommand shares: the command table, option
 * parsing (the same long and short spellings everywhere), help text, the
 * default rules path, rules loading with its one-line error, and output
 * helpers.
 *
 * A subcommand is one file tools/NAME.c defining `const cli_cmd
 * cli_cmd_NAME`, declared below and listed in the table in curlfence.c.
 */
#ifndef CURLFENCE_CLI_H
#define CURLFENCE_CLI_H

#include "curlfence.h"

#include <stdio.h>
#include <sys/socket.h>

#define CLI_PROG "curlfence"

/* Keys of options without a short spelling start here (above any char). */
#define CLI_LONG_ONLY 256

/* One option of a subcommand.  key is the short letter ('r'), or a value
 * from CLI_LONG_ONLY up when the option has only a long name. */
typedef struct cli_opt {
  const char *name;       /* long name without "--": "rules" */
  int key;
  const char *arg;        /* argument name for help ("FILE"), NULL: none */
  const char *help;       /* one line */
} cli_opt;

/* Options every subcommand spells the same way. */
#define CLI_OPT_RULES \
  { "rules", 'r', "FILE", "rules file (default: the installed default)" }
#define CLI_OPT_JSON \
  { "json", CLI_LONG_ONLY + 100, NULL, "one JSON object per line" }
#define CLI_KEY_JSON (CLI_LONG_ONLY + 100)
#define CLI_OPT_PORT \
  { "port", 'p', "PORT", "port of every operand that names none" }
#define CLI_OPT_HELP { "help", 'h', NULL, "show this help and exit" }
#define CLI_OPT_END { NULL, 0, NULL, NULL }

typedef struct cli_cmd cli_cmd;
struct cli_cmd {
  const char *name;       /* "check" */
  const char *operands;   /* after the options: "ADDRESS... [PORT]" */
  const char *summary;    /* one line for `curlfence --help` */
  const char *details;    /* printed after the options by CMD --help:
                             exit status, defaults (may be NULL) */
  const cli_opt *opts;    /* ends with CLI_OPT_END */
  int (*run)(const cli_cmd *cmd, int argc, char **argv);
};

/* The subcommands (one file each) and the table main() dispatches on. */
extern const cli_cmd cli_cmd_check;
extern const cli_cmd cli_cmd_fetch;
extern const cli_cmd cli_cmd_diff;
extern const cli_cmd cli_cmd_explain;
extern const cli_cmd cli_cmd_lint;
extern const cli_cmd cli_cmd_run;
extern const cli_cmd cli_cmd_compile;
extern const cli_cmd cli_cmd_report;
extern const cli_cmd cli_cmd_learn;
extern const cli_cmd *const cli_commands[];

/* ------------------------------------------------------------- options */

/* Walks argv[1..argc) of a subcommand.  Options may come anywhere; "--"
 * ends them, and so does the first operand when stop_at_operand is set
 * (a command that runs another, whose own options follow it); "-" and
 * arguments that start with "-" and a digit are operands (so "-1" is a
 * bad port, not an unknown option).  Operands are gathered, in order, at
 * the front of argv and counted in noperands. */
typedef struct cli_parser {
  const cli_cmd *cmd;
  int argc;
  char **argv;
  int next;               /* argv index to look at next */
  int noperands;
  char *pending;          /* rest of a bundle of short options ("-sv") */
  int status;             /* exit status when cli_next returned CLI_EXIT */
  int only_operands;      /* after "--" (or the first operand) */
  int stop_at_operand;    /* set after cli_parser_init: options end at
                             the first operand */
} cli_parser;

#define CLI_END 0         /* no more options: operands are ready */
#define CLI_EXIT (-1)     /* help was printed or an error reported: return
                             p.status from the subcommand */

void cli_parser_init(cli_parser *p, const cli_cmd *cmd, int argc,
                     char **argv);

/* The next option's key with *arg set to its argument (NULL when it takes
 * none), CLI_END, or CLI_EXIT.  --help/-h is handled here. */
int cli_next(cli_parser *p, const char **arg);

/* The operands after parsing: argv[0..noperands). */
#define CLI_OPERANDS(p) ((p)->argv)

/* Report a usage problem as one line and a hint; returns 2. */
int cli_usage_error(const cli_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Print `curlfence CMD --help` (to f). */
void cli_help(FILE *f, const cli_cmd *cmd);

/* Print `curlfence --help` (to f). */
void cli_main_help(FILE *f);

/* Print every command with every spelling of its options, one command a
 * line: "check -r|--rules=FILE --json -h|--help".  For completion scripts
 * and the test that keeps tools/curlfence.bash in step with the table. */
void cli_list_options(FILE *f);

/* Print `curlfence --version` (to f). */
void cli_version(FILE *f);

/* The version of the libcurl in use (tools/fetch.c), NULL when unknown. */
const char *cli_libcurl_version(void);

/* The preload library `curlfence run` uses (tools/run.c):
 * $CURLFENCE_PRELOAD, else the tree's for the tool built in a tree, else
 * the installed one.  It may not exist. */
const char *cli_preload_path(void);

/* ---------------------------------------------------------------- rules */

/* What errors and verdicts call rules read from standard input ("-"). */
#define CLI_STDIN_NAME "<stdin>"

/* Read all of standard input into *text (NUL-terminated, free() it) and
 * its length into *len.  On failure prints why and returns -1. */
int cli_read_stdin(char **text, size_t *len);

/* A setting's value in the one order every command uses: value (from
 * the command line) when not NULL, else the environment variable name
 * when set and not empty, else NULL (the installed default applies). */
const char *cli_setting(const char *value, const char *name);

/* The rules file used when -r is not given: $CURLFENCE_RULES if set and
 * not empty, else the source tree's rules/default.rules for the tool built
 * in that tree, else the installed $(SYSCONFDIR)/curlfence/default.rules. */
const char *cli_default_rules(void);

/* 1 when this program is the tool built in this source tree, or a
 * program of that tree the tool runs (by its own location,
 * /proc/self/exe); 0 for an installed or copied tool. */
int cli_is_tree_tool(void);

/* The programs and the rules the tool uses: the tree's for the tool built
 * in the tree (cli_is_tree_tool), else the installed ones. */
typedef enum {
  CLI_PATH_COMMANDS,  /* curlfence-commands */
  CLI_PATH_FETCH,     /* curlfence-fetch */
  CLI_PATH_RULES      /* default.rules */
} cli_path_id;
const char *cli_path(cli_path_id which);

/* Replace this process with prog, run as "curlfence ARGV..." (argv[0..argc)
 * after the name).  Returns only on failure: says why, and returns 2. */
int cli_exec(const char *prog, int argc, char **argv);

/* Load path (NULL: cli_default_rules(); "-": the rules text on standard
 * input, its includes relative to the working directory).  On failure
 * prints the one-line "curlfence: file:line:column: message" and a hint,
 * and returns -1. */
int cli_load_policy(const char *path, curlfence_policy **out);

/* Parse path (no table is built; "-" as for cli_load_policy()) into *rs,
 * for the review commands, which need the rules themselves.  Errors as
 * cli_load_policy().  rs is zeroed
 * first; free it with cf_ruleset_free() either way. */
struct cf_ruleset;
int cli_load_ruleset(const char *path, struct cf_ruleset *rs);

/* -------------------------------------------------------------- parsing */

/* A port operand: plain decimal, 1-65535.  -1 when it is anything else. */
int cli_parse_port(const char *s, unsigned *port);

/* Split a destination operand in place: "ADDR:PORT", "HOST:PORT",
 * "[V6ADDR]:PORT", "[V6ADDR]", or an address or name without a port (an
 * IPv6 address has two colons or more, so its port needs the brackets).
 * *host points into s.  Returns 1 with *port set when the operand names a
 * port, 0 when it does not, -1 with a message in why when it is
 * malformed. */
int cli_split_dest(char *s, char **host, unsigned *port, char *why,
                   size_t whylen);

/* --resolve HOST:PORT:ADDR[,ADDR...], curl's spelling: the addresses a
 * host name has at a port, decided with that name and never looked up.
 * HOST in any case, with or without a trailing dot; ADDR numeric IPv4 or
 * IPv6, brackets allowed around IPv6. */
typedef struct cli_pin {
  char host[254];         /* canonical (CF_HOST_MAX + 1) */
  unsigned port;
  const char *addrs;      /* the ADDR list as given */
} cli_pin;
typedef struct cli_pins {
  cli_pin *v;
  size_t n;
} cli_pins;
/* Add an option's argument; -1 with why filled when it is malformed. */
int cli_pin_add(cli_pins *pins, const char *arg, char *why, size_t whylen);
/* The entry for the canonical name host at port; port 0 (none given)
 * takes the first entry for host, whatever its port.  NULL: none. */
const cli_pin *cli_pin_find(const cli_pins *pins, const char *host,
                            unsigned port);
/* Address number i (from 0) of a pin's list into ss; -1 past the end. */
int cli_pin_addr(const cli_pin *pin, size_t i, struct sockaddr_storage *ss,
                 socklen_t *len);
void cli_pins_free(cli_pins *pins);

/* --------------------------------------------------------------- output */

/* An output line built in memory and written to f with one fwrite: a
 * batch of `check -` prints millions, and stdio's cost per call was most
 * of its time.  A piece that does not fit is written through. */
typedef struct cli_line {
  FILE *f;
  size_t n;
  char b[1024];
} cli_line;
void cli_line_put(cli_line *l, const char *s);
void cli_line_uint(cli_line *l, unsigned u);
void cli_line_flush(cli_line *l);

/* "file:line: rule", or "built-in: rule" when no rules line decided. */
void cli_print_verdict_source(FILE *f, const curlfence_verdict *v);
void cli_line_verdict_source(cli_line *l, const curlfence_verdict *v);

/* For a verdict whose reason is "nat64/LEN", the IPv4 address the IPv6
 * address addr (text) was decided as, in out; for the reason "loopback",
 * the loopback address the unspecified address addr was decided as.
 * Returns 0, or -1 when the verdict is of another kind. */
int cli_nat64_as(const curlfence_verdict *v, const char *addr, char *out,
                 size_t size);

/* s as a JSON string, quotes included (NULL: null), through the
 * library's escaper: valid UTF-8 whatever the bytes. */
void cli_json_string(FILE *f, const char *s);

#endif
