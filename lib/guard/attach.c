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

static curlfence_code set_hooks(CURL *h, curlfence_guard *g, unsigned flags)
{
  static curl_opensocket_callback const opens[4] = {
    guard_open, guard_open_report, guard_open_tftp, guard_open_tftp_report
  };
  int report = (flags & CURLFENCE_ATTACH_REPORT_ONLY) != 0;
  int tftp = (flags & CURLFENCE_ATTACH_ALLOW_TFTP) != 0;
  /* Report-only and TFTP are properties of the handle, not of the guard,
   * so they are carried by which callbacks are installed. */
  cf_hooks k = { opens[report + 2 * tftp], g,
                 report ? guard_prereq_report : guard_prereq, g,
                 1, g->close_fn, g->close_data };

  return cf_harden(h, curl_easy_setopt, &k, flags) == CURLE_OK
             ? CURLFENCE_OK : CURLFENCE_E_CURL;
}

CURLFENCE_API curlfence_code curlfence_detach(CURL *handle)
{
  if(!handle)
    return CURLFENCE_E_INVAL;
  return cf_unharden(handle, curl_easy_setopt) == CURLE_OK
             ? CURLFENCE_OK : CURLFENCE_E_CURL;
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
