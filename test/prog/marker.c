/* SPDX-License-Identifier: MIT */
/*
 * Creates the file its last argument names, so a test can tell whether it
 * ran.  Built statically, for test/test_preload_run.c: `curlfence run` must
 * refuse to start it, directly or as a #! interpreter.
 */
#include <fcntl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
  int fd;

  if(argc < 2)
    return 2;
  fd = open(argv[argc - 1], O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if(fd < 0)
    return 1;
  close(fd);
  return 0;
}
