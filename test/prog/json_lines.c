/* SPDX-License-Identifier: MIT */
/*
 * json-lines FILE [COUNT]: every line of FILE is one JSON object, strict
 * JSON and strict UTF-8 (test/fuzz/json_check.c), and, with COUNT, there
 * are that many.  For test/tool.sh, on the tool's --json output: a
 * Python parser would take a lone surrogate escape or a NaN that other
 * consumers refuse.  Exit 0 and "json-lines: N lines ok", else 1 and the
 * first problem.
 */
#include "json_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
  FILE *f;
  char *line = NULL;
  size_t cap = 0, n = 0;
  ssize_t len;
  int rc = 0;

  if(argc < 2 || argc > 3) {
    fputs("usage: json-lines FILE [COUNT]\n", stderr);
    return 2;
  }
  f = fopen(argv[1], "rb");
  if(!f) {
    perror(argv[1]);
    return 2;
  }
  while(!rc && (len = getline(&line, &cap, f)) >= 0) {
    const char *why = NULL;
    size_t at = 0;

    n++;
    if(len == 0 || line[len - 1] != '\n') {
      printf("json-lines: line %zu is not complete\n", n);
      rc = 1;
    }
    else if(jc_check_object(line, (size_t)len - 1, &why, &at)) {
      printf("json-lines: line %zu, byte %zu: %s\n", n, at + 1, why);
      rc = 1;
    }
  }
  free(line);
  fclose(f);
  if(!rc && argc == 3 && n != strtoul(argv[2], NULL, 10)) {
    printf("json-lines: %zu lines, want %s\n", n, argv[2]);
    rc = 1;
  }
  if(!rc)
    printf("json-lines: %zu lines ok\n", n);
  return rc;
}
