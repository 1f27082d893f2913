/* SPDX-License-Identifier: MIT */
/*
 * The guard against real libcurl transfers: allowed and denied hosts,
 * spellings, redirects, proxies, reused and shared connections, and the
 * names in the audit events (guard_fixture.h).
 */
#include "guard_fixture.h"
#include "guard/guard.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* --------------------------------------------------------------- tests */

TU_SUITE("guard", NULL);
TU_CASE(tc_curl, "curl", 60, guard_setup, guard_teardown);

TU_TEST(tc_curl, test_allowed_and_denied)
{
  char url[128];
  body b = { "", 0 };

  url_for(url, sizeof(url), "127.0.0.2", allowed_srv, "/");
  ck_assert_int_eq(fetch(url, &b), CURLE_OK);
  ck_assert_str_eq(b.data, "hello from allowed\n");
  ck_assert_int_eq(rec.n, 0);

  b.len = 0;
  b.data[0] = '\0';
  url_for(url, sizeof(url), "127.0.0.3", denied_srv, "/");
  ck_assert_int_eq(fetch(url, &b), CURLE_COULDNT_CONNECT);
  ck_assert_uint_eq(b.len, 0);
  ck_assert_uint_eq(th_requests(denied_srv), 0);
  assert_one_denial(CURLFENCE_CHECK_OPEN);
  ck_assert_int_eq(rec.ev[0].family, AF_INET);
  ck_assert_int_eq(rec.ev[0].socktype, SOCK_STREAM);
}
END_TEST

/* Other spellings of the denied address, and a name that resolves to it. */
TU_TEST(tc_curl, test_spellings_and_rebinding)
{
  static const char *const hosts[] = { "[::ffff:127.0.0.3]", "2130706435",
                                       "innocent.example" };
  char url[128], resolve[128];
  struct curl_slist *rl;
  body b = { "", 0 };
  size_t i;

  snprintf(resolve, sizeof(resolve), "innocent.example:%u:127.0.0.3",
           th_port(denied_srv));
  rl = curl_slist_append(NULL, resolve);
  for(i = 0; i < 3; i++) {
    CURL *h;

    url_for(url, sizeof(url), hosts[i], denied_srv, "/");
    h = new_handle(url, &b);
    curl_easy_setopt(h, CURLOPT_RESOLVE, rl);
    ck_assert_int_eq(curlfence_attach(h, guard, 0), CURLFENCE_OK);
    ck_assert_msg(curl_easy_perform(h) == CURLE_COULDNT_CONNECT,
                  "%s was not blocked", url);
    curl_easy_cleanup(h);
    ck_assert_int_eq(rec.n, (int)i + 1);
    ck_assert_str_eq(rec.ev[i].addr, "127.0.0.3");
    ck_assert_str_eq(rec.ev[i].verdict.rule, "deny 127.0.0.3");
  }
  /* The mapped spelling arrives as an IPv6 socket. */
  ck_assert_int_eq(rec.ev[0].family, AF_INET6);
  ck_assert_uint_eq(th_requests(denied_srv), 0);
  ck_assert_uint_eq(b.len, 0);
  curl_slist_free_all(rl);
}
END_TEST

TU_TEST(tc_curl, test_redirect_second_hop)
{
  char url[256], target[128];
  body b = { "", 0 };
  CURL *h;

  url_for(target, sizeof(target), "127.0.0.3", denied_srv, "/secret");
  snprintf(url, sizeof(url), "http://127.0.0.2:%u/redirect?to=%s",
           th_port(allowed_srv), target);
  h = new_handle(url, &b);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  ck_assert_int_eq(curlfence_attach(h, guard, 0), CURLFENCE_OK);
  ck_assert_int_eq(curl_easy_perform(h), CURLE_COULDNT_CONNECT);
  curl_easy_cleanup(h);
  ck_assert_uint_eq(th_requests(allowed_srv), 1);
  ck_assert_uint_eq(th_requests(denied_srv), 0);
  assert_one_denial(CURLFENCE_CHECK_OPEN);
}
END_TEST

/* A name with a denied and an allowed address reaches the allowed one. */
TU_TEST(tc_curl, test_mixed_resolution)
{
  char url[128], resolve[128];
  struct curl_slist *rl;
  body b = { "", 0 };
  CURL *h;

  snprintf(resolve, sizeof(resolve), "mixed.example:%u:127.0.0.3,127.0.0.2",
           th_port(denied_srv));
  rl = curl_slist_append(NULL, resolve);
  url_for(url, sizeof(url), "mixed.example", denied_srv, "/");
  h = new_handle(url, &b);
  curl_easy_setopt(h, CURLOPT_RESOLVE, rl);
  ck_assert_int_eq(curlfence_attach(h, guard, 0), CURLFENCE_OK);
  ck_assert_int_eq(curl_easy_perform(h), CURLE_OK);
  curl_easy_cleanup(h);
  curl_slist_free_all(rl);
  ck_assert_str_eq(b.data, "hello from allowed\n");
  ck_assert_uint_eq(th_requests(denied_srv), 0);
  ck_assert_int_eq(rec.n, 1);
  ck_assert_str_eq(rec.ev[0].addr, "127.0.0.3");
}
END_TEST

TU_TEST(tc_curl, test_proxy_from_environment)
{
  th_server *proxy = th_start("127.0.0.4", "proxy");
  char url[128], purl[64];
  body b = { "", 0 };
  CURL *h;

  ck_assert_ptr_nonnull(proxy);
  snprintf(purl, sizeof(purl), "http://127.0.0.4:%u", th_port(proxy));
  setenv("http_proxy", purl, 1);
  setenv("ALL_PROXY", purl, 1);

  url_for(url, sizeof(url), "127.0.0.3", denied_srv, "/");
  ck_assert_int_eq(fetch(url, &b), CURLE_COULDNT_CONNECT);
  ck_assert_uint_eq(th_requests(proxy), 0);
  ck_assert_uint_eq(th_requests(denied_srv), 0);
  ck_assert_int_eq(rec.n, 1);
  ck_assert_str_eq(rec.ev[0].addr, "127.0.0.3");

  /* Allowed hosts are fetched directly, not through the proxy. */
  url_for(url, sizeof(url), "127.0.0.2", allowed_srv, "/");
  ck_assert_int_eq(fetch(url, &b), CURLE_OK);
  ck_assert_str_eq(b.data, "hello from allowed\n");
  ck_assert_uint_eq(th_requests(proxy), 0);

  /* KEEP_PROXY: the proxy is used and only its address is checked. */
  url_for(url, sizeof(url), "127.0.0.3", denied_srv, "/via-proxy");
  h = new_handle(url, &b);
  ck_assert_int_eq(curlfence_attach(h, guard, CURLFENCE_ATTACH_KEEP_PROXY),
                   CURLFENCE_OK);
  ck_assert_int_eq(curl_easy_perform(h), CURLE_OK);
  curl_easy_cleanup(h);
  ck_assert_uint_eq(th_requests(proxy), 1);
  th_last_target(proxy, purl, sizeof(purl));
  ck_assert_ptr_nonnull(strstr(purl, "/via-proxy"));

  unsetenv("http_proxy");
  unsetenv("ALL_PROXY");
  th_stop(proxy);
}
END_TEST

/* An unguarded handle leaves a connection to the denied host in the pool
 * of m or of sh (the other NULL); a guarded handle on the same pool must
 * not use it. */
static void reuse_refused(CURLM *m, CURLSH *sh)
{
  char url[128];
  body b = { "", 0 };
  CURL *h;

  url_for(url, sizeof(url), "127.0.0.3", denied_srv, "/");
  h = new_handle(url, &b);
  curl_easy_setopt(h, CURLOPT_SHARE, sh);
  ck_assert_int_eq(m ? multi_run(m, h) : curl_easy_perform(h), CURLE_OK);
  curl_easy_cleanup(h);
  ck_assert_str_eq(b.data, "hello from denied\n");
  ck_assert_uint_eq(th_requests(denied_srv), 1);

  b.len = 0;
  b.data[0] = '\0';
  h = new_handle(url, &b);
  curl_easy_setopt(h, CURLOPT_SHARE, sh);
  ck_assert_int_eq(curlfence_attach(h, guard, 0), CURLFENCE_OK);
  ck_assert_int_eq(m ? multi_run(m, h) : curl_easy_perform(h),
                   CURLE_ABORTED_BY_CALLBACK);
  curl_easy_cleanup(h);
  ck_assert_uint_eq(b.len, 0);
  ck_assert_uint_eq(th_requests(denied_srv), 1);
  assert_one_denial(CURLFENCE_CHECK_REUSED);
}

TU_TEST(tc_curl, test_reused_connection)
{
  CURLM *m = curl_multi_init();

  reuse_refused(m, NULL);
  curl_multi_cleanup(m);
}
END_TEST

/* The same through a share handle, which also closes the pooled
 * connection last, after the guard is gone. */
TU_TEST(tc_curl, test_reused_from_share)
{
  CURLSH *sh = curl_share_init();

  ck_assert_int_eq(curl_share_setopt(sh, CURLSHOPT_SHARE,
                                     CURL_LOCK_DATA_CONNECT), CURLSHE_OK);
  reuse_refused(NULL, sh);
  curlfence_guard_free(guard);
  curlfence_policy_unref(policy);
  guard = NULL;
  policy = NULL;
  ck_assert_int_eq(curl_share_cleanup(sh), CURLSHE_OK);
}
END_TEST

TU_TEST(tc_curl, test_duphandle)
{
  char url[128];
  body b = { "", 0 };
  CURL *h, *dup;

  url_for(url, sizeof(url), "127.0.0.3", denied_srv, "/");
  h = new_handle(url, &b);
  ck_assert_int_eq(curlfence_attach(h, guard, 0), CURLFENCE_OK);
  dup = curl_easy_duphandle(h);
  ck_assert_ptr_nonnull(dup);
  curl_easy_cleanup(h);
  ck_assert_int_eq(curl_easy_perform(dup), CURLE_COULDNT_CONNECT);
  ck_assert_int_eq(rec.n, 1);
  url_for(url, sizeof(url), "127.0.0.2", allowed_srv, "/");
  curl_easy_setopt(dup, CURLOPT_URL, url);
  ck_assert_int_eq(curl_easy_perform(dup), CURLE_OK);
  ck_assert_str_eq(b.data, "hello from allowed\n");
  curl_easy_cleanup(dup);
  ck_assert_uint_eq(th_requests(denied_srv), 0);
}
END_TEST

/* ------------------------------------------------------------- names */

/* A handle for url with every spelling of the names in it pinned to
 * 127.0.0.2 (libcurl matches CURLOPT_RESOLVE entries ignoring case but
 * not a trailing dot): nothing is resolved anywhere. */
static CURL *named_handle(const char *url, body *b, struct curl_slist **pins)
{
  static const char *const names[] = {
    "allowed.example", "allowed.example.", "other.example", "first.example",
    "second.example"
  };
  char pin[128];
  size_t i;
  CURL *h = new_handle(url, b);

  for(i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    snprintf(pin, sizeof(pin), "%s:%u:127.0.0.2", names[i],
             th_port(allowed_srv));
    *pins = curl_slist_append(*pins, pin);
    ck_assert_ptr_nonnull(*pins);
  }
  curl_easy_setopt(h, CURLOPT_RESOLVE, *pins);
  return h;
}

/* The index of the first recorded event of the given check, or -1. */
static int event_of(curlfence_check check)
{
  int i;

  for(i = 0; i < rec.n && i < TU_MAX_EVENTS; i++)
    if(rec.ev[i].check == check)
      return i;
  return -1;
}

static void audit_all(void)
{
  ck_assert_int_eq(curlfence_guard_set_audit(guard, tu_record, &rec,
                                             CURLFENCE_AUDIT_ALL),
                   CURLFENCE_OK);
}

/* h performed, on a fresh record, to success: the index of the event of
 * its pre-request check, the one that knows the handle. */
static int performed(CURL *h)
{
  int k;

  memset(&rec, 0, sizeof(rec));
  ck_assert_int_eq(curl_easy_perform(h), CURLE_OK);
  k = event_of(CURLFENCE_CHECK_REUSED);
  ck_assert_int_ge(k, 0);
  return k;
}

/* url fetched on a guarded handle of its own with the names pinned, as
 * performed(). */
static int named_fetch(const char *url)
{
  struct curl_slist *pins = NULL;
  body b = { "", 0 };
  CURL *h = named_handle(url, &b, &pins);
  int k;

  ck_assert_int_eq(curlfence_attach(h, guard, 0), CURLFENCE_OK);
  k = performed(h);
  curl_easy_cleanup(h);
  curl_slist_free_all(pins);
  return k;
}

/* The pre-request check of an attached handle knows its URL: the name in
 * canonical form (case, trailing dot), the URL without user info, query
 * and fragment, and libcurl's reading of "user@host" (the host is what
 * follows the @). */
TU_TEST(tc_curl, test_name_in_events)
{
  static const struct {
    const char *url, *host, *path;
  } rows[] = {
    { "http://u:secret@Allowed.Example.:%u/a/b?token=x#frag",
      "allowed.example", "/a/b" },
    { "http://allowed.example@other.example:%u/", "other.example", "/" },
    { "http://127.0.0.2:%u/", NULL, "/" },
  };
  char url[256], want[256];
  size_t i;
  int k;

  audit_all();
  for(i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    snprintf(url, sizeof(url), rows[i].url, th_port(allowed_srv));
    k = named_fetch(url);
    if(!rows[i].host) {
      /* an address URL has no name, and its URL shows the address */
      ck_assert_ptr_null(rec.hostp[k]);
      snprintf(want, sizeof(want), "http://127.0.0.2:%u/",
               th_port(allowed_srv));
      ck_assert_ptr_nonnull(rec.urlp[k]);
      ck_assert_str_eq(rec.urlp[k], want);
      continue;
    }
    ck_assert_ptr_nonnull(rec.hostp[k]);
    ck_assert_str_eq(rec.hostp[k], rows[i].host);
    snprintf(want, sizeof(want), "http://%s:%u%s", rows[i].host,
             th_port(allowed_srv), rows[i].path);
    ck_assert_ptr_nonnull(rec.urlp[k]);
    ck_assert_str_eq(rec.urlp[k], want);
    /* the open check cannot tell which handle it runs for */
    k = event_of(CURLFENCE_CHECK_OPEN);
    ck_assert_int_ge(k, 0);
    ck_assert_ptr_null(rec.hostp[k]);
  }
  /* CURLFENCE_AUDIT_NO_URL keeps the name, drops the URL */
  ck_assert_int_eq(curlfence_guard_set_audit(guard, tu_record, &rec,
                                             CURLFENCE_AUDIT_ALL |
                                                 CURLFENCE_AUDIT_NO_URL),
                   CURLFENCE_OK);
  snprintf(url, sizeof(url), "http://allowed.example:%u/?q",
           th_port(allowed_srv));
  k = named_fetch(url);
  ck_assert_str_eq(rec.hostp[k], "allowed.example");
  ck_assert_ptr_null(rec.urlp[k]);
  /* only the event being handed to the callback has a name: not a copy
   * of it, not one the caller built (whose size the library cannot
   * know) */
  {
    const char *h = "x", *u = "x";
    curlfence_event mine;
    char json[2048];

    ck_assert_int_eq(curlfence_event_name(&rec.ev[k], &h, &u),
                     CURLFENCE_E_INVAL);
    ck_assert_ptr_null(h);
    ck_assert_ptr_null(u);
    memset(&mine, 0, sizeof(mine));
    curlfence_event_json(&mine, json, sizeof(json));
    ck_assert_msg(strstr(json, ",\"host\":null,\"url\":null,") != NULL,
                  "%s", json);
  }
}
END_TEST

/* Each redirect hop is checked with its own name. */
TU_TEST(tc_curl, test_name_redirect_hops)
{
  struct curl_slist *pins = NULL;
  body b = { "", 0 };
  char url[256];
  CURL *h;
  int i, seen = 0;

  audit_all();
  snprintf(url, sizeof(url),
           "http://first.example:%u/redirect?to=http://second.example:%u/x",
           th_port(allowed_srv), th_port(allowed_srv));
  h = named_handle(url, &b, &pins);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  /* a new connection for the second hop */
  curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
  ck_assert_int_eq(curlfence_attach(h, guard, 0), CURLFENCE_OK);
  ck_assert_int_eq(curl_easy_perform(h), CURLE_OK);
  ck_assert_str_eq(b.data, "hello from allowed\n");
  curl_easy_cleanup(h);
  curl_slist_free_all(pins);
  for(i = 0; i < rec.n && i < TU_MAX_EVENTS; i++) {
    if(rec.ev[i].check != CURLFENCE_CHECK_REUSED)
      continue;
    ck_assert_ptr_nonnull(rec.hostp[i]);
    ck_assert_str_eq(rec.hostp[i],
                     seen++ ? "second.example" : "first.example");
  }
  ck_assert_int_eq(seen, 2);
}
END_TEST

/* curl_easy_duphandle() copies the callbacks and their data: a copy that
 * was not attached again gets no name, never its original's, while the
 * original keeps its own. */
TU_TEST(tc_curl, test_name_not_for_copies)
{
  struct curl_slist *pins = NULL;
  body b = { "", 0 };
  char url[256];
  CURL *h, *dup;
  int k;

  audit_all();
  snprintf(url, sizeof(url), "http://allowed.example:%u/",
           th_port(allowed_srv));
  h = named_handle(url, &b, &pins);
  ck_assert_int_eq(curlfence_attach(h, guard, 0), CURLFENCE_OK);
  dup = curl_easy_duphandle(h);
  ck_assert_ptr_nonnull(dup);
  snprintf(url, sizeof(url), "http://other.example:%u/", th_port(allowed_srv));
  curl_easy_setopt(dup, CURLOPT_URL, url);
  k = performed(dup);
  ck_assert_ptr_null(rec.hostp[k]);
  ck_assert_ptr_null(rec.urlp[k]);
  /* the original, used after its copy (and while it lives) */
  k = performed(h);
  ck_assert_ptr_nonnull(rec.hostp[k]);
  ck_assert_str_eq(rec.hostp[k], "allowed.example");
  /* and the copy again, now that the original ran last */
  k = performed(dup);
  ck_assert_ptr_null(rec.hostp[k]);
  /* attached, the copy has its own name */
  ck_assert_int_eq(curlfence_attach(dup, guard, 0), CURLFENCE_OK);
  k = performed(dup);
  ck_assert_ptr_nonnull(rec.hostp[k]);
  ck_assert_str_eq(rec.hostp[k], "other.example");
  curl_easy_cleanup(dup);
  curl_easy_cleanup(h);
  curl_slist_free_all(pins);
}
END_TEST

/* Handles made, attached and cleaned up without curlfence_detach(), more
 * than the guard's table holds: the latest handle still has its name (the
 * table is fixed in size, so memory stays flat by construction). */
TU_TEST(tc_curl, test_name_many_handles)
{
  char url[256];
  CURL *h;
  int i, k;

  for(i = 0; i < 4 * CF_NAMED_SETS * CF_NAMED_WAYS; i++) {
    h = curl_easy_init();
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(curlfence_attach(h, guard, 0), CURLFENCE_OK);
    curl_easy_cleanup(h);
  }
  audit_all();
  snprintf(url, sizeof(url), "http://allowed.example:%u/",
           th_port(allowed_srv));
  k = named_fetch(url);
  ck_assert_ptr_nonnull(rec.hostp[k]);
  ck_assert_str_eq(rec.hostp[k], "allowed.example");
}
END_TEST
