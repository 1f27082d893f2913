/* SPDX-License-Identifier: MIT */
/*
 * The plugin of test/prog/two_libcurls.c: a library linked with
 * libcurl-gnutls.so.4 that fetches a URL and returns the CURLcode.
 */
#include <curl/curl.h>

static size_t discard(char *p, size_t size, size_t n, void *userdata)
{
  (void)p;
  (void)userdata;
  return size * n;
}

__attribute__((visibility("default"))) int two_fetch(const char *url);

int two_fetch(const char *url)
{
  CURL *h = curl_easy_init();
  CURLcode rc;

  if(!h)
    return -1;
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
  rc = curl_easy_perform(h);
  curl_easy_cleanup(h);
  return (int)rc;
}
