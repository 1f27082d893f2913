/* SPDX-License-Identifier: MIT */
/*
 * callgrind.c - the instruction counts the benchmarks take from callgrind.
 */
#include "callgrind.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

unsigned long long bench_callgrind_totals(const char *path)
{
  char line[256];
  unsigned long long n = 0;
  FILE *f = fopen(path, "r");

  while(f && fgets(line, sizeof(line), f))
    if(!strncmp(line, "totals: ", 8))
      n = strtoull(line + 8, NULL, 10);
  if(f)
    fclose(f);
  return n;
}
