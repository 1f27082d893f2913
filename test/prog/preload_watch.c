/* SPDX-License-Identifier: MIT */
/*
 * preload-watch URL RULES NEW WAIT_MS
 *
 * One long-running libcurl program for test/test_preload_curl.c's rules
 * watcher test: one handle fetches URL, NEW is renamed over RULES (as an
 * editor or a deployment would replace it), and after WAIT_MS the same
 * handle fetches URL again.  Prints "first CODE\nsecond CODE\n" with the
 * CURLcode of each transfer.  Every curl process reads the rules anew at
 * start, so only a process that lives across the change sees the watcher
 * at work.
 */
#include "fetch.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
  struct timespec ts;
  long ms;
  CURL *h;
  int first, second;

  if(argc != 5) {
    fputs("usage: preload-watch URL RULES NEW WAIT_MS\n", stderr);
    return 2;
  }
  ms = atol(argv[4]);
  h = curl_easy_init();
  if(!h)
    return 1;
  curl_easy_setopt(h, CURLOPT_URL, argv[1]);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
  first = (int)curl_easy_perform(h);
  if(rename(argv[3], argv[2])) {
    perror("rename");
    curl_easy_cleanup(h);
    return 1;
  }
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (ms % 1000) * 1000000L;
  nanosleep(&ts, NULL);
  second = (int)curl_easy_perform(h);
  printf("first %d\nsecond %d\n", first, second);
  curl_easy_cleanup(h);
  return 0;
}
