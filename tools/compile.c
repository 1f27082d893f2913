/* SPDX-License-Identifier: MIT */
/*
 * curlfence compile: load a rules file (with its includes), compile it and
 * write the policy as an image that curlfence_policy_load_file() maps
 * instead of parsing (docs/images.md).  The image replaces FILE by
 * rename(2), so processes watching FILE see the old policy or the new one,
 * never a part.  Exit 0 when written, 2 on usage, rules or write errors.
 */
#include "cli.h"

#include <sys/stat.h>

static const cli_opt compile_opts[] = {
  CLI_OPT_RULES,
  { "output", 'o', "FILE", "the image to write (required)" },
  CLI_OPT_HELP,
  CLI_OPT_END
};

static int run_compile(const cli_cmd *cmd, int argc, char **argv)
{
  const char *rules = NULL, *out = NULL, *arg;
  curlfence_policy *p = NULL;
  curlfence_error err;
  cli_parser ps;
  struct stat st;
  int key;

  cli_parser_init(&ps, cmd, argc, argv);
  while((key = cli_next(&ps, &arg)) != CLI_END) {
    switch(key) {
    case 'r': rules = arg; break;
    case 'o': out = arg; break;
    default: return ps.status;
    }
  }
  if(ps.noperands > 1 || (ps.noperands == 1 && rules))
    return cli_usage_error(cmd, "expected one RULES file");
  if(ps.noperands == 1)
    rules = CLI_OPERANDS(&ps)[0];
  if(!out)
    return cli_usage_error(cmd, "missing -o FILE");
  if(cli_load_policy(rules, &p))
    return 2;
  if(curlfence_policy_save_image(p, out, &err)) {
    fprintf(stderr, CLI_PROG ": %s\n", err.text);
    curlfence_policy_unref(p);
    return 2;
  }
  printf("%s: %zu rules", out, curlfence_policy_rule_count(p));
  if(stat(out, &st) == 0)
    printf(", %lld bytes", (long long)st.st_size);
  printf("\n");
  curlfence_policy_unref(p);
  return 0;
}

const cli_cmd cli_cmd_compile = {
  "compile", "[RULES]",
  "compile rules into an image that loads without parsing",
  "RULES may be given as an operand or with -r, and may be - for the\n"
  "rules text on standard input (never stale: it has no file to change).\n"
  "The image is written next to FILE and renamed over it.  Exit status: 0\n"
  "written, 2 usage, rules or write error.\n",
  compile_opts, run_compile
};
