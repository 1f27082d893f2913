/* SPDX-License-Identifier: MIT */
/*
 * curlfence(1): review and apply curlfence rules files.  main() only
 * dispatches; each subcommand lives in tools/NAME.c and the parts they
 * share in tools/cli.c.
 */
#include "cli.h"

#include <string.h>

/* To add a subcommand: write tools/NAME.c defining cli_cmd_NAME, declare
 * it in cli.h, and list it here. */
const cli_cmd *const cli_commands[] = {
  &cli_cmd_check,
  &cli_cmd_fetch,
  &cli_cmd_explain,
  &cli_cmd_lint,
  &cli_cmd_diff,
  &cli_cmd_run,
  &cli_cmd_compile,
  &cli_cmd_report,
  &cli_cmd_learn,
  NULL
};

int main(int argc, char **argv)
{
  const cli_cmd *const *c;

  if(argc < 2)
    return cli_usage_error(NULL, "missing command");
  for(c = cli_commands; *c; c++)
    if(!strcmp(argv[1], (*c)->name))
      return (*c)->run(*c, argc - 1, argv + 1);
  if(!strcmp(argv[1], "version") || !strcmp(argv[1], "--version") ||
     !strcmp(argv[1], "-V")) {
    cli_version(stdout);
    return 0;
  }
  if(!strcmp(argv[1], "--list-options")) {
    cli_list_options(stdout);
    return 0;
  }
  if(!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
     !strcmp(argv[1], "help")) {
    if(argc > 2) {
      for(c = cli_commands; *c; c++)
        if(!strcmp(argv[2], (*c)->name)) {
          cli_help(stdout, *c);
          return 0;
        }
      return cli_usage_error(NULL, "unknown command \"%s\"", argv[2]);
    }
    cli_main_help(stdout);
    return 0;
  }
  return cli_usage_error(NULL, "unknown command \"%s\"", argv[1]);
}
