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

/* The host is read for every check, the URL only for an event: the parsed
 * URL is kept until then (cf_name_free). */
int cf_name_from_url(const cf_urlapi *api, const char *url, cf_name *out)
{
  char *host;

  out->host[0] = '\0';
  out->url[0] = '\0';
  out->api = api;
  out->u = NULL;
  out->url_done = 0;
  if(!url || !(out->u = api->url()))
    return -1;
  /* CURLU_NON_SUPPORT_SCHEME: the URL was good enough for the libcurl
   * that connects, whatever this one supports. */
  if(api->set(out->u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) !=
         CURLUE_OK ||
     !(host = part(api, out->u, CURLUPART_HOST, CURLU_PUNYCODE))) {
    cf_name_free(out);
    return -1;
  }
  if(cf_host_canon(host, strlen(host), out->host))
    out->host[0] = '\0';
  api->free(host);
  return 0;
}

const char *cf_name_url(cf_name *n)
{
  const cf_urlapi *api = n->api;
  char *scheme, *host, *port, *path;
  int len;

  if(n->url_done || !n->u)
    return n->url[0] ? n->url : NULL;
  n->url_done = 1;
  scheme = part(api, n->u, CURLUPART_SCHEME, 0);
  host = n->host[0] ? NULL : part(api, n->u, CURLUPART_HOST, 0);
  port = part(api, n->u, CURLUPART_PORT, CURLU_DEFAULT_PORT);
  path = part(api, n->u, CURLUPART_PATH, 0);
  /* scheme, host, port and path: user info, query and fragment never
   * reach the log.  The canonical name when there is one, else the host
   * as the URL has it (an address, [IPv6]). */
  if(scheme && (n->host[0] || host)) {
    len = snprintf(n->url, sizeof(n->url), "%s://%s%s%s%s", scheme,
                   n->host[0] ? n->host : host, port ? ":" : "",
                   port ? port : "", path ? path : "/");
    if(len < 0 || (size_t)len >= sizeof(n->url))
      n->url[0] = '\0';
  }
  api->free(scheme);
  api->free(host);
  api->free(port);
  api->free(path);
  return n->url[0] ? n->url : NULL;
}

void cf_name_free(cf_name *n)
{
  if(n && n->u) {
    n->api->cleanup(n->u);
    n->u = NULL;
  }
}

int cf_name_of(const cf_urlapi *api, CURL *h, cf_name *out)
{
  char *url = NULL;

  out->host[0] = '\0';
  out->url[0] = '\0';
  out->u = NULL;
  if(!h || api->getinfo(h, CURLINFO_EFFECTIVE_URL, &url) != CURLE_OK)
    return -1;
  return cf_name_from_url(api, url, out);
}
