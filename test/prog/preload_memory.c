/* SPDX-License-Identifier: MIT */
/*
 * Memory over many handles, for the preload library's tests: CYCLES times
 * either an easy handle made, used for one transfer of URL and freed ("easy"),
 * or a multi handle made and freed ("multi").  The easy handles share one
 * connection (a share handle with CURL_LOCK_DATA_CONNECT), so the run is not
 * one TCP connection and one server thread per cycle.  libcurl makes and frees
 * handles of its own in each (one per multi handle, and one for the multi
 * handle of each curl_easy_perform), which the preload library must not keep
 * records of.  It knows nothing of curlfence.
 *
 *   preload-memory easy|multi CYCLES [URL]
 *
 * Prints "grew KB": the resident set after all cycles less the resident
 * set after the first WARMUP, when the allocator's arenas and libcurl's
 * caches have their size.  Exits with 1 when a transfer fails.
 */
#include "fetch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WARMUP 1000L

static long rss_kb(void)
{
  FILE *f = fopen("/proc/self/statm", "r");
  long size = 0, resident = 0;

  if(f) {
    if(fscanf(f, "%ld %ld", &size, &resident) != 2)
      resident = 0;
    fclose(f);
  }
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static int cycle(int easy, const char *url, CURLSH *share)
{
  if(easy) {
    int rc = prog_fetch(url, share, 10L);

    if(rc > 0)
      fprintf(stderr, "preload-memory: %s: %s\n", url,
              curl_easy_strerror((CURLcode)rc));
    if(rc)
      return -1;
  }
  else {
    CURLM *m = curl_multi_init();

    if(!m)
      return -1;
    curl_multi_cleanup(m);
  }
  return 0;
}

int main(int argc, char **argv)
{
  long cycles, i, base = 0;
  CURLSH *share;
  int easy;

  if(argc < 3 || (strcmp(argv[1], "easy") && strcmp(argv[1], "multi")) ||
     (!strcmp(argv[1], "easy") && argc != 4) ||
     (cycles = strtol(argv[2], NULL, 10)) <= WARMUP) {
    fputs("usage: preload-memory easy|multi CYCLES [URL]\n", stderr);
    return 2;
  }
  easy = !strcmp(argv[1], "easy");
  curl_global_init(CURL_GLOBAL_DEFAULT);
  share = curl_share_init();
  if(!share ||
     curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT))
    return 1;
  for(i = 0; i < cycles; i++) {
    if(i == WARMUP)
      base = rss_kb();
    if(cycle(easy, argv[3], share))
      return 1;
  }
  printf("grew %ld\n", rss_kb() - base);
  curl_share_cleanup(share);
  curl_global_cleanup();
  return 0;
}
