/* SPDX-License-Identifier: MIT */
/*
 * Runs a harness over saved inputs without libFuzzer: every file named on
 * the command line, and every file in every directory named, in name
 * order.  `make check` replays the seed corpus and the crash reproducers
 * of test/fuzz/regress/ this way, so a crash once found stays a test.
 * Paths are made absolute first: a harness may change directory.
 */
#include "fuzz.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int run_file(const char *path)
{
  FILE *f = fopen(path, "rb");
  unsigned char *buf = NULL;
  size_t len = 0, cap = 0, r;

  if(!f) {
    perror(path);
    return -1;
  }
  do {
    if(len == cap) {
      unsigned char *nb = realloc(buf, cap = cap ? cap * 2 : 4096);
      if(!nb) {
        free(buf);
        fclose(f);
        return -1;
      }
      buf = nb;
    }
    r = fread(buf + len, 1, cap - len, f);
    len += r;
  } while(r > 0);
  fclose(f);
  /* The bytes sit at the end of an exact-size block, so that reading past
   * them is caught by the sanitizers as it is under libFuzzer. */
  {
    unsigned char *exact = malloc(len ? len : 1);
    if(!exact) {
      free(buf);
      return -1;
    }
    memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
  }
  return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
  return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv)
{
  int i, runs = 0;

  for(i = 1; i < argc; i++) {
    char *abs = realpath(argv[i], NULL);

    if(!abs) {
      perror(argv[i]);
      return 1;
    }
    argv[i] = abs;
  }
  for(i = 1; i < argc; i++) {
    struct stat st;
    struct dirent **names;
    int n, k;

    if(stat(argv[i], &st) != 0) {
      perror(argv[i]);
      return 1;
    }
    if(!S_ISDIR(st.st_mode)) {
      if(run_file(argv[i]))
        return 1;
      runs++;
      continue;
    }
    n = scandir(argv[i], &names, NULL, by_name);
    if(n < 0) {
      perror(argv[i]);
      return 1;
    }
    for(k = 0; k < n; k++) {
      char path[4096];

      snprintf(path, sizeof(path), "%s/%s", argv[i], names[k]->d_name);
      if(names[k]->d_name[0] != '.' && stat(path, &st) == 0 &&
         S_ISREG(st.st_mode)) {
        if(run_file(path))
          return 1;
        runs++;
      }
      free(names[k]);
    }
    free(names);
  }
  for(i = 1; i < argc; i++)
    free(argv[i]);
  printf("%s: %d inputs replayed, no finding\n", argv[0], runs);
  return 0;
}
