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
#include <stdlib.h>
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

/* The URL text into n->u, parsed; 0, or -1 when libcurl cannot parse it
 * (n->u is then NULL). */
static int parse(cf_name *n)
{
  if(n->u)
    return 0;
  if(!n->text || !(n->u = n->api->url()))
    return -1;
  /* CURLU_NON_SUPPORT_SCHEME: the URL was good enough for the libcurl
   * that connects, whatever this one supports. */
  if(n->api->set(n->u, CURLUPART_URL, n->text, CURLU_NON_SUPPORT_SCHEME) !=
     CURLUE_OK) {
    cf_name_free(n);
    return -1;
  }
  return 0;
}

int cf_name_of(const cf_urlapi *api, CURL *h, cf_name *out)
{
  out->host[0] = '\0';
  out->url[0] = '\0';
  out->api = api;
  out->curl = h;
  out->text = NULL;
  out->u = NULL;
  out->memo = NULL;
  out->prep = NULL;
  out->host_done = 0;
  out->url_done = 0;
  return h ? 0 : -1;
}

void cf_name_remember(cf_name *n, cf_name_memo *memo)
{
  n->memo = memo;
}

/* The memo answers for the same URL text only: a redirect, or a new URL
 * set on the handle, is named afresh. */
const char *cf_name_host(cf_name *n)
{
  cf_name_memo *m = n->memo;
  char *host, *url = NULL;

  if(n->host_done)
    return n->host[0] ? n->host : NULL;
  n->host_done = 1;
  if(n->curl &&
     n->api->getinfo(n->curl, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK)
    n->text = url;
  if(!n->text)
    return NULL;
  if(m && m->url && !strcmp(m->url, n->text)) {
    memcpy(n->host, m->host, sizeof(n->host));
    n->prep = n->host[0] ? &m->prep : NULL;
    return n->host[0] ? n->host : NULL;
  }
  if(!parse(n) && (host = part(n->api, n->u, CURLUPART_HOST,
                               CURLU_PUNYCODE))) {
    if(cf_host_canon(host, strlen(host), n->host))
      n->host[0] = '\0';
    n->api->free(host);
  }
  if(m) {
    /* out of memory: nothing remembered, the next check parses */
    free(m->url);
    m->url = strdup(n->text);
    memcpy(m->host, n->host, sizeof(m->host));
    /* the connection's checks, and the handle's next connections to the
     * same URL, then only read the host rule entries the name hits */
    cf_hostprep_init(&m->prep, m->host[0] ? m->host : NULL);
    n->prep = m->host[0] ? &m->prep : NULL;
  }
  return n->host[0] ? n->host : NULL;
}

const char *cf_name_url(cf_name *n)
{
  const cf_urlapi *api = n->api;
  char *scheme, *host, *port, *path;
  int len;

  if(n->url_done)
    return n->url[0] ? n->url : NULL;
  n->url_done = 1;
  cf_name_host(n);
  if(parse(n))
    return NULL;
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

void cf_name_memo_free(cf_name_memo *m)
{
  if(m) {
    free(m->url);
    m->url = NULL;
    m->host[0] = '\0';
    cf_hostprep_init(&m->prep, NULL);
  }
}
