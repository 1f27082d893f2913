/* SPDX-License-Identifier: MIT */
/*
 * Which name a connection has: the host of the URL libcurl is connecting
 * for, as host rules match it and audit events show it.
 *
 * The URL is the handle's CURLINFO_EFFECTIVE_URL, which libcurl sets to
 * each redirect hop before it connects for it, so a redirect's second hop
 * is decided with the second name.  With CURLOPT_RESOLVE and
 * CURLOPT_CONNECT_TO the URL keeps its name while the address comes from
 * elsewhere; an FTP data connection belongs to the FTP URL; through a proxy
 * the URL's host is the name and the proxy's address the address.
 *
 * The text is parsed by libcurl's own URL parser (curl_url), never by
 * ours, so "http://allowed@other/" has the host libcurl connects to
 * ("other"), and IDN names come back as A-labels (CURLU_PUNYCODE, in
 * libcurl 7.88.0 and later).  The host is then put in canonical form by
 * cf_host_canon(); one that has none (an IP literal, a malformed name)
 * gives no name, which no host rule matches.
 *
 * This file calls libcurl only through the functions it is handed:
 * attach.c passes the library's libcurl, the preload library the libcurl
 * that made the handle.
 */
#include "guard.h"

#include <stdio.h>
#include <string.h>

#ifndef CURLU_PUNYCODE
#define CURLU_PUNYCODE 0
#endif

/* One part of u, or NULL. */
static char *part(const cf_urlapi *api, CURLU *u, CURLUPart what,
                  unsigned flags)
{
  char *s = NULL;

  if(api->get(u, what, &s, flags) != CURLUE_OK)
    return NULL;
  return s;
}

int cf_name_from_url(const cf_urlapi *api, const char *url, cf_name *out)
{
  CURLU *u;
  char *scheme, *host, *port, *path;
  int rc = -1;

  out->host[0] = '\0';
  out->url[0] = '\0';
  if(!url || !(u = api->url()))
    return -1;
  /* CURLU_NON_SUPPORT_SCHEME: the URL was good enough for the libcurl
   * that connects, whatever this one supports. */
  if(api->set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) !=
     CURLUE_OK) {
    api->cleanup(u);
    return -1;
  }
  scheme = part(api, u, CURLUPART_SCHEME, 0);
  host = part(api, u, CURLUPART_HOST, CURLU_PUNYCODE);
  port = part(api, u, CURLUPART_PORT, CURLU_DEFAULT_PORT);
  path = part(api, u, CURLUPART_PATH, 0);
  if(host) {
    if(cf_host_canon(host, strlen(host), out->host))
      out->host[0] = '\0';
    /* scheme, host, port and path: user info, query and fragment never
     * reach the log.  The host as the URL has it when it is no name (an
     * address, [IPv6]); the canonical name when it is one. */
    if(scheme) {
      int n = snprintf(out->url, sizeof(out->url), "%s://%s%s%s%s", scheme,
                       out->host[0] ? out->host : host, port ? ":" : "",
                       port ? port : "", path ? path : "/");

      if(n < 0 || (size_t)n >= sizeof(out->url))
        out->url[0] = '\0';
    }
    rc = 0;
  }
  api->free(scheme);
  api->free(host);
  api->free(port);
  api->free(path);
  api->cleanup(u);
  return rc;
}

int cf_name_of(const cf_urlapi *api, CURL *h, cf_name *out)
{
  char *url = NULL;

  out->host[0] = '\0';
  out->url[0] = '\0';
  if(!h || api->getinfo(h, CURLINFO_EFFECTIVE_URL, &url) != CURLE_OK)
    return -1;
  return cf_name_from_url(api, url, out);
}
