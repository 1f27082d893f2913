/* SPDX-License-Identifier: MIT */
/*
 * What the libcurl programs of the preload tests share, compiled into
 * each (each may link a different libcurl): a write callback that drops
 * the body, and one transfer on a new easy handle.
 */
#ifndef CURLFENCE_PROG_FETCH_H
#define CURLFENCE_PROG_FETCH_H

#include <curl/curl.h>

static inline size_t discard(char *p, size_t size, size_t n,
                             void *userdata)
{
  (void)p;
  (void)userdata;
  return size * n;
}

/* url fetched on a new handle, with share (or none) and a timeout in
 * seconds (0: none).  The CURLcode; -1 when there is no handle. */
static inline int prog_fetch(const char *url, CURLSH *share, long timeout)
{
  CURL *h = curl_easy_init();
  CURLcode rc;

  if(!h)
    return -1;
  if(share)
    curl_easy_setopt(h, CURLOPT_SHARE, share);
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
  if(timeout)
    curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout);
  rc = curl_easy_perform(h);
  curl_easy_cleanup(h);
  return (int)rc;
}

#endif
