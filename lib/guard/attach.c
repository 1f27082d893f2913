/* SPDX-License-Identifier: MIT */
/*
 * curlfence_attach(): the guard's checks installed as a handle's libcurl
 * callbacks.  The decisions themselves are in guard.c
 * (cf_guard_check_open, cf_guard_check_prereq); this file is the only part
 * of the library that calls libcurl, so that the preload library, which
 * must reach each program's own libcurl at run time, can link everything
 * else (see preload/).
 *
 * Which handle a check runs for.  Host rules and the "host" of an event
 * need the URL of the handle that is connecting, and the callbacks get only
 * their data pointer, which is the guard: it is shared by every handle
 * attached to it, and curl_easy_duphandle() copies it.  What duphandle
 * copies and what it resets (lib/easy.c, 7.80 to 8.x): dupset() copies the
 * whole "set" block, so every callback and callback data pointer (and
 * CURLOPT_PRIVATE) reaches the copy unchanged; strings and blobs are
 * duplicated; the copy's "info" block is fresh (Curl_initinfo) and lives
 * inside the copy's own memory.  No data pointer can therefore tell a copy
 * from its original.  One argument can: libcurl calls the pre-request
 * callback with primary_ip = data->info.conn_primary_ip (7.x;
 * data->info.primary.remote_ip in 8.x), a buffer inside the calling
 * handle, the very buffer curl_easy_getinfo(CURLINFO_PRIMARY_IP) returns
 * for it.  attach records that address for each handle it is given
 * (cf_named); in the pre-request check an address found there is inside
 * that handle, so the check runs for it and its URL may be read.  A copy
 * that was not attached has its own buffer, is not found, and gets no
 * name; so does any handle if a libcurl passes another buffer (the check
 * can only fail to find).  A handle freed without curlfence_detach() leaves
 * its entry behind: it can only be found again through a handle living at
 * the same address, which is then the handle the check runs for, so the
 * name read is still that of the handle connecting.  The table is fixed in
 * size: memory stays flat however many handles come and go, and a full
 * set forgets its oldest entry (that handle's checks then have no name).
 *
 * The open-socket callback has no such argument (libcurl passes an
 * address inside the connection being made), so the open check cannot
 * know which handle it runs for and decides without a name: host rules
 * do not apply to it, in line with a copy getting no name, and the event
 * shows none (docs/security.md).
 */
#include "guard.h"

#include <sched.h>
#include <stdint.h>
#include <sys/socket.h>

/* ---------------------------------------------------------------- names */

/* curl_url_get() takes a const CURLU * from 8.x on, a CURLU * before */
static CURLUcode url_get(CURLU *u, CURLUPart what, char **part,
                         unsigned int flags)
{
  return curl_url_get(u, what, part, flags);
}

static const cf_urlapi libcurl_api = {
  curl_easy_getinfo, curl_url, curl_url_set, url_get, curl_url_cleanup,
  curl_free
};

const cf_urlapi *cf_libcurl_urlapi(void)
{
  return &libcurl_api;
}

static unsigned named_set(const char *key)
{
  uintptr_t k = (uintptr_t)key;

  /* heap addresses share their low bits; fold the higher ones in */
  k ^= k >> 4 ^ k >> 12 ^ k >> 20;
  return (unsigned)(k % CF_NAMED_SETS);
}

/* Remember h as attached to g, under the address of its own primary IP
 * buffer. */
static void named_add(curlfence_guard *g, CURL *h)
{
  char *key = NULL;
  cf_named *set;
  unsigned i, s, seq;

  if(curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &key) != CURLE_OK || !key)
    return;
  s = named_set(key);
  set = g->named[s];
  pthread_mutex_lock(&g->named_lock);
  for(i = 0; i < CF_NAMED_WAYS; i++) {
    const char *k = atomic_load_explicit(&set[i].key, memory_order_relaxed);

    if(!k || k == key)
      break;
  }
  if(i == CF_NAMED_WAYS) {
    i = g->named_next[s];
    g->named_next[s] = (unsigned char)((i + 1) % CF_NAMED_WAYS);
  }
  seq = atomic_load_explicit(&g->named_seq[s], memory_order_relaxed);
  atomic_store_explicit(&g->named_seq[s], seq + 1, memory_order_relaxed);
  /* release stores: neither is seen before the odd sequence (no fences:
   * ThreadSanitizer does not model them) */
  atomic_store_explicit(&set[i].key, key, memory_order_release);
  atomic_store_explicit(&set[i].curl, h, memory_order_release);
  atomic_store_explicit(&g->named_seq[s], seq + 2, memory_order_release);
  pthread_mutex_unlock(&g->named_lock);
}

/* The attached handle whose primary IP buffer is at key, or NULL.  Only
 * reads: the pre-request checks of many threads write nothing they
 * share. */
static CURL *named_find(curlfence_guard *g, const char *key)
{
  unsigned s, seq, i, tries = 0;
  cf_named *set;
  CURL *h;

  if(!key)
    return NULL;
  s = named_set(key);
  set = g->named[s];
  for(;; tries++) {
    seq = atomic_load_explicit(&g->named_seq[s], memory_order_acquire);
    if(seq & 1) {
      /* an attach is writing this set: a few stores away */
      if(tries > 64)
        sched_yield();
      continue;
    }
    h = NULL;
    /* acquire: an entry being written brings its odd sequence along */
    for(i = 0; i < CF_NAMED_WAYS; i++)
      if(atomic_load_explicit(&set[i].key, memory_order_acquire) == key)
        h = atomic_load_explicit(&set[i].curl, memory_order_acquire);
    if(atomic_load_explicit(&g->named_seq[s], memory_order_relaxed) == seq)
      return h;
  }
}

/* The name for a pre-request check: NULL unless the handle is known.
 * buf is for cf_name_free() either way. */
static cf_name *prereq_name(void *clientp, const char *primary_ip,
                            cf_name *buf)
{
  curlfence_guard *g = clientp;
  CURL *h;

  buf->u = NULL;
  if(!g || atomic_load_explicit(&g->magic, memory_order_relaxed) !=
               CF_GUARD_LIVE)
    return NULL;
  h = named_find(g, primary_ip);
  if(!h || cf_name_of(&libcurl_api, h, buf))
    return NULL;
  return buf;
}

static int prereq_checked(void *clientp, char *primary_ip, char *local_ip,
                          int primary_port, int local_port, unsigned flags)
{
  cf_name buf;
  int rc = cf_guard_prereq(clientp, primary_ip, local_ip, primary_port,
                           local_port, flags,
                           prereq_name(clientp, primary_ip, &buf));

  cf_name_free(&buf);
  return rc;
}

/* ------------------------------------------------------------ callbacks */

static curl_socket_t open_checked(void *clientp, curlsocktype purpose,
                                  struct curl_sockaddr *a, unsigned flags)
{
  return cf_guard_open(clientp, purpose, a, flags, NULL, NULL);
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
  return prereq_checked(clientp, primary_ip, local_ip, primary_port,
                        local_port, 0);
}

static int guard_prereq_report(void *clientp, char *primary_ip,
                               char *local_ip, int primary_port,
                               int local_port)
{
  return prereq_checked(clientp, primary_ip, local_ip, primary_port,
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
  if(!rc)
    named_add(guard, handle);
  if(rc) {
    /* Fail closed: callbacks without a guard refuse every connection. */
    curl_easy_setopt(handle, CURLOPT_OPENSOCKETFUNCTION, guard_open);
    curl_easy_setopt(handle, CURLOPT_OPENSOCKETDATA, NULL);
    curl_easy_setopt(handle, CURLOPT_PREREQDATA, NULL);
  }
  return rc;
}
