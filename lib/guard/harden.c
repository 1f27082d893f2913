/* SPDX-License-Identifier: MIT */
/*
 * The options that put the guard on an easy handle, in one table, for
 * curlfence_attach() (attach.c) and the preload library (preload/).  It
 * calls libcurl only through the setopt function it is given: attach.c
 * passes the library's curl_easy_setopt, the preload the one of the
 * libcurl that made the handle, so this file links no libcurl.
 */
#include "guard.h"

#include <stddef.h>

/* What an option of the table is set to: one of the hooks' callbacks
 * (each of its own type, as libcurl reads it), the pointer at offset
 * data in the hooks, or a string. */
enum { V_OPEN_FN, V_CLOSE_FN, V_PREREQ_FN, V_DATA, V_STRING };
#define DATA(field) V_DATA, offsetof(cf_hooks, field)

/* skip: the attach flag that leaves the option as the program set it;
 * close: set only when the hooks carry a close callback of their own;
 * optional: a libcurl built without the option has nothing to turn off. */
static const struct {
  CURLoption opt;
  unsigned char close, optional;
  unsigned skip;
  unsigned char value;
  size_t data;            /* V_DATA: offsetof(cf_hooks, ...) */
  const char *string;     /* V_STRING when hardening; detaching sets NULL */
} options[] = {
  { CURLOPT_OPENSOCKETFUNCTION, 0, 0, 0, V_OPEN_FN, 0, NULL },
  { CURLOPT_OPENSOCKETDATA, 0, 0, 0, DATA(open_data), NULL },
  { CURLOPT_CLOSESOCKETFUNCTION, 1, 0, 0, V_CLOSE_FN, 0, NULL },
  { CURLOPT_CLOSESOCKETDATA, 1, 0, 0, DATA(close_data), NULL },
  { CURLOPT_PREREQFUNCTION, 0, 0, 0, V_PREREQ_FN, 0, NULL },
  { CURLOPT_PREREQDATA, 0, 0, 0, DATA(prereq_data), NULL },
  /* "" turns proxies off, including http_proxy and friends from the
   * environment; NOPROXY "*" also covers a proxy chosen any other way. */
  { CURLOPT_PROXY, 0, 0, CURLFENCE_ATTACH_KEEP_PROXY, V_STRING, 0, "" },
  { CURLOPT_NOPROXY, 0, 0, CURLFENCE_ATTACH_KEEP_PROXY, V_STRING, 0, "*" },
  /* libcurl's DoH requests run on internal handles that carry none of the
   * callbacks, so their connections would go unchecked. */
  { CURLOPT_DOH_URL, 0, 1, CURLFENCE_ATTACH_KEEP_DOH, V_STRING, 0, NULL },
};

/* One option of the table set to its hardened value (set) or back to
 * libcurl's default (!set).  Inline: a fresh handle per request pays for
 * every option of the table, and a call per option cost a third as much
 * again as libcurl's own setopt. */
static inline __attribute__((always_inline)) CURLcode
set_one(CURL *h, cf_setopt_fn setopt, size_t i, const cf_hooks *k, int set)
{
  CURLoption o = options[i].opt;

  switch(options[i].value) {
  case V_OPEN_FN: return setopt(h, o, set ? k->open_fn : NULL);
  case V_CLOSE_FN: return setopt(h, o, set ? k->close_fn : NULL);
  case V_PREREQ_FN: return setopt(h, o, set ? k->prereq_fn : NULL);
  case V_DATA:
    return setopt(h, o, set ? *(void *const *)(const void *)
                                ((const char *)k + options[i].data) : NULL);
  default:
    return setopt(h, o, set ? options[i].string : (const char *)NULL);
  }
}

static int apply(CURL *h, cf_setopt_fn setopt, const cf_hooks *k,
                 unsigned flags, int set)
{
  int rc = CURLE_OK;
  size_t i;

  /* Every option is tried even after one fails, so that as much of the
   * guard as libcurl accepts is on the handle; the caller fails closed. */
  for(i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
    CURLcode one;

    if(set && ((options[i].skip & flags) ||
               (options[i].close && !k->set_close)))
      continue;
    one = set_one(h, setopt, i, k, set);
    if(options[i].optional &&
       (one == CURLE_UNKNOWN_OPTION || one == CURLE_NOT_BUILT_IN))
      one = CURLE_OK;
    rc |= (int)one;
  }
  return rc;
}

int cf_harden(CURL *h, cf_setopt_fn setopt, const cf_hooks *hooks,
              unsigned flags)
{
  return apply(h, setopt, hooks, flags, 1);
}

int cf_unharden(CURL *h, cf_setopt_fn setopt)
{
  static const cf_hooks none;

  return apply(h, setopt, &none, 0, 0);
}
