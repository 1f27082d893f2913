/* SPDX-License-Identifier: MIT */
/*
 * curlfence(1) as installed in the PATH: `run` here, every other command
 * in curlfence-commands, which this program becomes (exec).
 *
 * `curlfence run` is paid for before every program it starts, and what a
 * program pays first is the loader mapping and relocating the libraries
 * it links: for the commands, libcidr, libidn2 with libunistring, libpsl
 * and jansson, whose relocation alone was three quarters of the
 * instructions `run` made before its exec.  This program links libc
 * alone, with run.c, inspect.c and cli_args.c; the commands that decide,
 * review or read logs pay one exec more, next to which loading their
 * rules is large.
 */
#include "cli.h"

#include <string.h>

int main(int argc, char **argv)
{
  if(argc >= 2 && !strcmp(argv[1], cli_cmd_run.name))
    return cli_cmd_run.run(&cli_cmd_run, argc - 1, argv + 1);
  return cli_exec(cli_path(CLI_PATH_COMMANDS), argc - 1, argv + 1);
}
