/* SPDX-License-Identifier: MIT */
/*
 * A threaded libcurl program for the preload library's tests: THREADS
 * threads each make, duplicate, reset and free handles at once and fetch
 * the two URLs given (the first allowed, the second denied) ROUNDS times.
 * Every result is checked; the exit status is the number of wrong ones
 * (capped at 100).  It knows nothing of curlfence: the preload library,
 * or its objects linked in (the sanitizer builds), does the guarding.
 *
 *   preload-threads ALLOWED-URL DENIED-URL
 */
#include "fetch.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define THREADS 8
#define ROUNDS 12

static const char *urls[2];
static atomic_int wrong, own_opens;

/* The program's own open callback: counts, then opens as libcurl would. */
static curl_socket_t own_open(void *clientp, curlsocktype purpose,
                              struct curl_sockaddr *a)
{
  (void)clientp;
  (void)purpose;
  atomic_fetch_add(&own_opens, 1);
  return socket(a->family, a->socktype, a->protocol);
}

static void expect(CURL *h, int denied, const char *what)
{
  CURLcode rc = curl_easy_perform(h);
  CURLcode want = denied ? CURLE_COULDNT_CONNECT : CURLE_OK;

  if(rc != want) {
    fprintf(stderr, "%s %s: %d, want %d\n", what, urls[denied], (int)rc,
            (int)want);
    atomic_fetch_add(&wrong, 1);
  }
}

static void setup(CURL *h, int denied, int own)
{
  curl_easy_setopt(h, CURLOPT_URL, urls[denied]);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
  if(own)
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, own_open);
}

static void *worker(void *arg)
{
  int id = (int)(long)arg, i;

  for(i = 0; i < ROUNDS; i++) {
    int denied = (id + i) % 2, own = id % 3 == 0;
    CURL *h = curl_easy_init(), *d;

    if(!h) {
      atomic_fetch_add(&wrong, 1);
      continue;
    }
    setup(h, denied, own);
    expect(h, denied, "init");
    d = curl_easy_duphandle(h);
    if(d) {
      expect(d, denied, "duphandle");
      curl_easy_cleanup(d);
    }
    else {
      atomic_fetch_add(&wrong, 1);
    }
    curl_easy_reset(h);
    setup(h, !denied, 0);
    expect(h, !denied, "reset");
    curl_easy_cleanup(h);
  }
  return NULL;
}

int main(int argc, char **argv)
{
  pthread_t t[THREADS];
  long i;
  int n;

  if(argc != 3) {
    fputs("usage: preload-threads ALLOWED-URL DENIED-URL\n", stderr);
    return 100;
  }
  urls[0] = argv[1];
  urls[1] = argv[2];
  curl_global_init(CURL_GLOBAL_DEFAULT);
  for(i = 0; i < THREADS; i++)
    pthread_create(&t[i], NULL, worker, (void *)i);
  for(i = 0; i < THREADS; i++)
    pthread_join(t[i], NULL);
  curl_global_cleanup();
  /* Threads 0, 3 and 6 set their own callback on the first handle of each
   * round and its duplicate; it runs only for the allowed half. */
  if(atomic_load(&own_opens) != 3 * ROUNDS) {
    fprintf(stderr, "own open callback ran %d times, want %d\n",
            atomic_load(&own_opens), 3 * ROUNDS);
    atomic_fetch_add(&wrong, 1);
  }
  n = atomic_load(&wrong);
  printf("preload-threads: %d wrong\n", n);
  return n > 100 ? 100 : n;
}
