/* SPDX-License-Identifier: MIT */
/*
 * Per-handle state of the preload library: CURL * -> pl_handle.
 *
 * Layout: a fixed array of PL_BUCKETS chains, keyed by the handle's
 * address; one mutex for the whole table.  Every operation is O(handles /
 * PL_BUCKETS) under the lock, which is held for a few pointer reads.  The
 * table is only consulted when a handle is made, freed or given an option
 * (curl_easy_setopt); the connection checks get their record directly as
 * the callbacks' data pointer and never look it up.
 *
 * fork(): a child has only the thread that forked, and a lock another
 * thread held at that moment would stay held in it for good (its first
 * curl_easy_init() would wait forever).  So fork() takes the lock first
 * and both sides release it (pthread_atfork, registered at load); the
 * child then holds the parent's records, as it holds its handles.
 *
 * A record whose handle libcurl freed where the preload cannot see it
 * (only curl_easy_cleanup() is seen) stays until a new handle is made at
 * the same address: pl_handle_add() then gives the new handle that record,
 * cleared, and pl_handle_remove() drops it for a handle the preload does
 * not keep.  No stale record can then answer for a new handle.
 */
#include "preload.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PL_BUCKETS 1024u

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pl_handle *buckets[PL_BUCKETS];
static int no_fork_handlers;

static void fork_prepare(void)
{
  pthread_mutex_lock(&lock);
}

static void fork_release(void)
{
  pthread_mutex_unlock(&lock);
}

/* At load, before any thread of the program can hold the lock. */
__attribute__((constructor)) static void register_fork_handlers(void)
{
  /* Without the handlers a fork() could leave the lock held; failing
   * that (out of memory at load), handles are refused instead. */
  if(pthread_atfork(fork_prepare, fork_release, fork_release))
    no_fork_handlers = 1;
}

static unsigned bucket(const CURL *curl)
{
  uintptr_t k = (uintptr_t)curl;

  /* Heap addresses share their low bits; fold the higher ones in. */
  k ^= k >> 4 ^ k >> 14;
  return (unsigned)(k % PL_BUCKETS);
}

pl_handle *pl_handle_add(CURL *curl, const pl_curl *lib)
{
  pl_handle *h, *fresh;
  unsigned b = bucket(curl);

  if(no_fork_handlers)
    return NULL;
  fresh = calloc(1, sizeof(*fresh));
  if(!fresh)
    return NULL;
  pthread_mutex_lock(&lock);
  for(h = buckets[b]; h && h->curl != curl; h = h->next)
    ;
  if(h) {
    pl_handle *next = h->next;

    cf_name_memo_free(&h->memo);
    memset(h, 0, sizeof(*h));
    h->next = next;
  }
  else {
    h = fresh;
    fresh = NULL;
    h->next = buckets[b];
    buckets[b] = h;
  }
  h->curl = curl;
  h->lib = lib;
  pthread_mutex_unlock(&lock);
  free(fresh);
  return h;
}

pl_handle *pl_handle_find(CURL *curl)
{
  pl_handle *h;

  pthread_mutex_lock(&lock);
  for(h = buckets[bucket(curl)]; h && h->curl != curl; h = h->next)
    ;
  pthread_mutex_unlock(&lock);
  return h;
}

pl_handle *pl_handle_take(CURL *curl)
{
  pl_handle **pp, *h = NULL;

  pthread_mutex_lock(&lock);
  for(pp = &buckets[bucket(curl)]; *pp; pp = &(*pp)->next) {
    if((*pp)->curl == curl) {
      h = *pp;
      *pp = h->next;
      break;
    }
  }
  pthread_mutex_unlock(&lock);
  return h;
}

void pl_handle_free(pl_handle *h)
{
  if(h) {
    cf_name_memo_free(&h->memo);
    free(h);
  }
}

void pl_handle_remove(CURL *curl)
{
  pl_handle_free(pl_handle_take(curl));
}
