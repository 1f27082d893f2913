/* SPDX-License-Identifier: MIT */
/*
 * curlfence_attach(): the guard's checks installed as a handle's libcurl
 * callbacks.  The decisions themselves are in guard.c
 * (cf_guard_check_open, cf_guard_check_prereq); this file is the only part
 * of the library that calls libcurl, so that the preload library, which
 * must reach each program's own libcurl at run time, can link everything
 * else (see preload/).
 */
#include "guard.h"

#include <sys/socket.h>

/* ------------------------------------------------------------ callbacks */

static curl_socket_t open_checked(void *clientp, curlsocktype purpose,
                                  struct curl_sockaddr *a, unsigned flags)
{
  return cf_guard_open(clientp, purpose, a, flags, NULL);
}

static curl_socket_t guard_open(void *clientp, curlsocktype purpose,
                                struct curl_sockaddr *a)
{
  return open_checked(clientp, purpose, a, 0);
}

static curl_socket_t guard_open_report(void *clientp, curlsocktype purpose,
                                       struct curl_sockaddr *a)
{
  return open_checked(clientp, purpose, a, CURLFENCE_ATTACH_REPORT_ONLY);
}

static curl_socket_t guard_open_tftp(void *clientp, curlsocktype purpose,
                                     struct curl_sockaddr *a)
{
  return open_checked(clientp, purpose, a, CURLFENCE_ATTACH_ALLOW_TFTP);
}

static curl_socket_t guard_open_tftp_report(void *clientp,
                                            curlsocktype purpose,
                                            struct curl_sockaddr *a)
{
  return open_checked(clientp, purpose, a,
                      CURLFENCE_ATTACH_ALLOW_TFTP |
                          CURLFENCE_ATTACH_REPORT_ONLY);
}

static int guard_prereq(void *clientp, char *primary_ip, char *local_ip,
                        int primary_port, int local_port)
{
  return cf_guard_prereq(clientp, primary_ip, local_ip, primary_port,
                         local_port, 0);
}

static int guard_prereq_report(void *clientp, char *primary_ip,
                               char *local_ip, int primary_port,
                               int local_port)
{
  return cf_guard_prereq(clientp, primary_ip, local_ip, primary_port,
                         local_port, CURLFENCE_ATTACH_REPORT_ONLY);
}

/* --------------------------------------------------------------- attach */

/* Turn DoH off.  A libcurl built without DoH does not know the option,
 * and has nothing to turn off. */
static int no_doh(CURL *h)
{
  CURLcode rc = curl_easy_setopt(h, CURLOPT_DOH_URL, NULL);

  return rc == CURLE_UNKNOWN_OPTION || rc == CURLE_NOT_BUILT_IN ? CURLE_OK
                                                                : (int)rc;
}

static curlfence_code set_hooks(CURL *h, const curlfence_guard *g,
                                unsigned flags)
{
  static curl_opensocket_callback const opens[4] = {
    guard_open, guard_open_report, guard_open_tftp, guard_open_tftp_report
  };
  int rc = CURLE_OK;
  int report = (flags & CURLFENCE_ATTACH_REPORT_ONLY) != 0;
  int tftp = (flags & CURLFENCE_ATTACH_ALLOW_TFTP) != 0;

  /* Report-only and TFTP are properties of the handle, not of the guard,
   * so they are carried by which callbacks are installed. */
  rc |= curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION,
                         opens[report + 2 * tftp]);
  rc |= curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, (void *)g);
  rc |= curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, g->close_fn);
  rc |= curl_easy_setopt(h, CURLOPT_CLOSESOCKETDATA, g->close_data);
  rc |= curl_easy_setopt(h, CURLOPT_PREREQFUNCTION,
                         report ? guard_prereq_report : guard_prereq);
  rc |= curl_easy_setopt(h, CURLOPT_PREREQDATA, (void *)g);
  if(!(flags & CURLFENCE_ATTACH_KEEP_PROXY)) {
    /* "" turns proxies off, including http_proxy and friends from the
     * environment; NOPROXY "*" also covers a later CURLOPT_PROXY. */
    rc |= curl_easy_setopt(h, CURLOPT_PROXY, "");
    rc |= curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
  }
  /* libcurl's DoH requests run on internal handles that carry none of the
   * callbacks above, so their connections would go unchecked. */
  if(!(flags & CURLFENCE_ATTACH_KEEP_DOH))
    rc |= no_doh(h);
  return rc == CURLE_OK ? CURLFENCE_OK : CURLFENCE_E_CURL;
}

CURLFENCE_API curlfence_code curlfence_detach(CURL *handle)
{
  int rc = CURLE_OK;

  if(!handle)
    return CURLFENCE_E_INVAL;
  rc |= curl_easy_setopt(handle, CURLOPT_OPENSOCKETFUNCTION, NULL);
  rc |= curl_easy_setopt(handle, CURLOPT_OPENSOCKETDATA, NULL);
  rc |= curl_easy_setopt(handle, CURLOPT_CLOSESOCKETFUNCTION, NULL);
  rc |= curl_easy_setopt(handle, CURLOPT_CLOSESOCKETDATA, NULL);
  rc |= curl_easy_setopt(handle, CURLOPT_PREREQFUNCTION, NULL);
  rc |= curl_easy_setopt(handle, CURLOPT_PREREQDATA, NULL);
  rc |= curl_easy_setopt(handle, CURLOPT_PROXY, NULL);
  rc |= curl_easy_setopt(handle, CURLOPT_NOPROXY, NULL);
  rc |= no_doh(handle);
  return rc == CURLE_OK ? CURLFENCE_OK : CURLFENCE_E_CURL;
}

CURLFENCE_API curlfence_code curlfence_attach(CURL *handle,
                                              curlfence_guard *guard,
                                              unsigned flags)
{
  curlfence_code rc;

  if(!handle || !guard ||
     (flags & ~(CURLFENCE_ATTACH_KEEP_PROXY | CURLFENCE_ATTACH_REPORT_ONLY |
                CURLFENCE_ATTACH_KEEP_DOH | CURLFENCE_ATTACH_ALLOW_TFTP)))
    return CURLFENCE_E_INVAL;
  rc = set_hooks(handle, guard, flags);
  if(rc) {
    /* Fail closed: callbacks without a guard refuse every connection. */
    curl_easy_setopt(handle, CURLOPT_OPENSOCKETFUNCTION, guard_open);
    curl_easy_setopt(handle, CURLOPT_OPENSOCKETDATA, NULL);
    curl_easy_setopt(handle, CURLOPT_PREREQDATA, NULL);
  }
  return rc;
}
