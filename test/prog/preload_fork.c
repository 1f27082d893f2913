/* SPDX-License-Identifier: MIT */
/*
 * A libcurl program that forks while another thread works on handles, for
 * the preload library's tests.  It knows nothing of curlfence.
 *
 * One thread sets options on a handle, and duplicates and frees it, without
 * pause, while the main thread forks FORKS children.  Each child makes a
 * handle, asks for the denied URL and exits with 0 when that was refused.
 * A child that has not exited LIMIT seconds after the last fork is stuck (a
 * lock held in it for good): it is killed and counted.  The thread never
 * calls curl_easy_init(), whose global lock in libcurl 7.88.1 a fork can
 * leave held as well.
 *
 *   preload-fork DENIED-URL
 *
 * Prints "forks N stuck S wrong W" and exits with 1 unless S and W are 0.
 */
#include "fetch.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FORKS 300
#define LIMIT 20

static const char *denied;
static atomic_int stop;

/* In a child: 0 when the denied URL is refused. */
static int child(void)
{
  CURL *h = curl_easy_init();
  CURLcode rc;

  if(!h)
    return 1;
  curl_easy_setopt(h, CURLOPT_URL, denied);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
  rc = curl_easy_perform(h);
  curl_easy_cleanup(h);
  return rc == CURLE_COULDNT_CONNECT ? 0 : 1;
}

static void *busy(void *arg)
{
  CURL *h = arg;
  unsigned n = 0;

  do {
    curl_easy_setopt(h, CURLOPT_URL, denied);
    curl_easy_setopt(h, CURLOPT_VERBOSE, 0L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    if(++n % 16 == 0)
      curl_easy_cleanup(curl_easy_duphandle(h));
  } while(!atomic_load(&stop));
  return NULL;
}

static double now(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reap pids[0..n); 0 for each child that exited with 0.  The ones left
 * after LIMIT seconds are killed; returns how many. */
static int reap(pid_t *pids, int n, int *wrong)
{
  double until = now() + LIMIT;
  int left = n, stuck = 0, i;

  while(left && now() < until) {
    for(i = 0; i < n; i++) {
      int st;

      if(pids[i] > 0 && waitpid(pids[i], &st, WNOHANG) == pids[i]) {
        if(!WIFEXITED(st) || WEXITSTATUS(st))
          (*wrong)++;
        pids[i] = 0;
        left--;
      }
    }
    if(left) {
      struct timespec ts = { 0, 10000000 };

      nanosleep(&ts, NULL);
    }
  }
  for(i = 0; i < n; i++) {
    if(pids[i] > 0) {
      kill(pids[i], SIGKILL);
      waitpid(pids[i], NULL, 0);
      stuck++;
    }
  }
  return stuck;
}

int main(int argc, char **argv)
{
  static pid_t pids[FORKS];
  int i, stuck, wrong = 0;
  pthread_t t;
  CURL *h;

  if(argc != 2) {
    fputs("usage: preload-fork DENIED-URL\n", stderr);
    return 2;
  }
  denied = argv[1];
  fflush(stdout);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  h = curl_easy_init();
  if(!h || pthread_create(&t, NULL, busy, h))
    return 1;
  for(i = 0; i < FORKS; i++) {
    pids[i] = fork();
    if(pids[i] == 0)
      _exit(child());
    if(pids[i] < 0)
      wrong++;
  }
  atomic_store(&stop, 1);
  pthread_join(t, NULL);
  curl_easy_cleanup(h);
  stuck = reap(pids, FORKS, &wrong);
  printf("forks %d stuck %d wrong %d\n", FORKS, stuck, wrong);
  curl_global_cleanup();
  return stuck || wrong;
}
