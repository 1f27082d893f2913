/* SPDX-License-Identifier: MIT */
/*
 * The plugin of test/prog/two_libcurls.c: a library linked with
 * libcurl-gnutls.so.4 that fetches a URL and returns the CURLcode.
 */
#include "fetch.h"

__attribute__((visibility("default"))) int two_fetch(const char *url);

int two_fetch(const char *url)
{
  return prog_fetch(url, NULL, 0);
}
