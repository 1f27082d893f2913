/* SPDX-License-Identifier: MIT */
/*
 * The guard against real libcurl transfers and real sockets.
 *
 * Every server here is started by the test on loopback: 127.0.0.2 is the
 * allowed host, 127.0.0.3 the denied one, 127.0.0.4 a proxy, ::1 allowed.
 * Nothing is sent anywhere else.
 */
#include "testutil.h"
#include "httpd.h"
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

static const char test_rules[] =
    "default deny\n"
    "allow 127.0.0.2\n"
    "deny 127.0.0.3\n"
    "allow 127.0.0.4          # the proxy\n"
    "allow ::1\n";

/* ------------------------------------------------------------- fixture */

typedef struct body {
  char data[256];
  size_t len;
} body;

static size_t on_body(char *p, size_t size, size_t n, void *userdata)
{
  body *b = userdata;
  size_t len = size * n, room = sizeof(b->data) - 1 - b->len;

  memcpy(b->data + b->len, p, len < room ? len : room);
  b->len += len < room ? len : room;
  b->data[b->len] = '\0';
  return len;
}

static curlfence_policy *policy;
static curlfence_guard *guard;
static tu_recorder rec;
static th_server *allowed, *denied;

static void setup(void)
{
  ck_assert_int_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
  policy = tu_load(test_rules);
  ck_assert_int_eq(curlfence_guard_new(&guard, policy), CURLFENCE_OK);
  memset(&rec, 0, sizeof(rec));
  ck_assert_int_eq(curlfence_guard_set_audit(guard, tu_record, &rec,
                                             CURLFENCE_AUDIT_DENIED),
                   CURLFENCE_OK);
  /* The same port on both hosts, so one name can resolve to either. */
  ck_assert_int_eq(th_start_pair("127.0.0.3", "denied", &denied,
                                 "127.0.0.2", "allowed", &allowed), 0);
}

static void teardown(void)
{
  th_stop(allowed);
  th_stop(denied);
  curlfence_guard_free(guard);
  curlfence_policy_unref(policy);
  curl_global_cleanup();
}

static CURL *new_handle(const char *url, body *b)
{
  CURL *h = curl_easy_init();

  ck_assert_ptr_nonnull(h);
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
  return h;
}

/* Fetch url on a fresh handle guarded with the given attach flags. */
static CURLcode fetch_flags(const char *url, body *b, unsigned flags)
{
  CURL *h = new_handle(url, b);
  CURLcode rc;

  ck_assert_int_eq(curlfence_attach(h, guard, flags), CURLFENCE_OK);
  rc = curl_easy_perform(h);
  curl_easy_cleanup(h);
  return rc;
}

/* Fetch url on a fresh guarded handle. */
static CURLcode fetch(const char *url, body *b)
{
  CURL *h = new_handle(url, b);
  CURLcode rc;

  ck_assert_int_eq(curlfence_attach(h, guard, 0), CURLFENCE_OK);
  rc = curl_easy_perform(h);
  curl_easy_cleanup(h);
  return rc;
}

static void url_for(char *buf, size_t size, const char *host,
                    const th_server *s, const char *path)
{
  snprintf(buf, size, "http://%s:%u%s", host, th_port(s), path);
}

static void assert_denied_event(const curlfence_event *ev, const char *addr,
                                unsigned port, curlfence_check check)
{
  ck_assert_int_eq(ev->action, CURLFENCE_DENY);
  ck_assert_str_eq(ev->addr, addr);
  ck_assert_uint_eq(ev->port, port);
  ck_assert_int_eq(ev->check, check);
  ck_assert_str_eq(ev->verdict.file, "test.rules");
  ck_assert_uint_eq(ev->verdict.line, 3);
  ck_assert_str_eq(ev->verdict.rule, "deny 127.0.0.3");
  ck_assert_int_eq(ev->verdict.is_default, 0);
  ck_assert(ev->time_us > 1700000000LL * 1000000);
}

/* --------------------------------------------------------------- tests */

TU_SUITE("guard", NULL);
TU_CASE(tc_curl, "curl", 60, setup, teardown);

TU_TEST(tc_curl, test_allowed_and_denied)
{
  char url[128];
  body b = { "", 0 };

  url_for(url, sizeof(url), "127.0.0.2", allowed, "/");
  ck_assert_int_eq(fetch(url, &b), CURLE_OK);
  ck_assert_str_eq(b.data, "hello from allowed\n");
  ck_assert_int_eq(rec.n, 0);

  b.len = 0;
  b.data[0] = '\0';
  url_for(url, sizeof(url), "127.0.0.3", denied, "/");
  ck_assert_int_eq(fetch(url, &b), CURLE_COULDNT_CONNECT);
  ck_assert_uint_eq(b.len, 0);
  ck_assert_uint_eq(th_requests(denied), 0);
  ck_assert_int_eq(rec.n, 1);
  assert_denied_event(&rec.ev[0], "127.0.0.3", th_port(denied),
                      CURLFENCE_CHECK_OPEN);
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
           th_port(denied));
  rl = curl_slist_append(NULL, resolve);
  for(i = 0; i < 3; i++) {
    CURL *h;

    url_for(url, sizeof(url), hosts[i], denied, "/");
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
  ck_assert_uint_eq(th_requests(denied), 0);
  ck_assert_uint_eq(b.len, 0);
  curl_slist_free_all(rl);
}
END_TEST

TU_TEST(tc_curl, test_redirect_second_hop)
{
  char url[256], target[128];
  body b = { "", 0 };
  CURL *h;

  url_for(target, sizeof(target), "127.0.0.3", denied, "/secret");
  snprintf(url, sizeof(url), "http://127.0.0.2:%u/redirect?to=%s",
           th_port(allowed), target);
  h = new_handle(url, &b);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  ck_assert_int_eq(curlfence_attach(h, guard, 0), CURLFENCE_OK);
  ck_assert_int_eq(curl_easy_perform(h), CURLE_COULDNT_CONNECT);
  curl_easy_cleanup(h);
  ck_assert_uint_eq(th_requests(allowed), 1);
  ck_assert_uint_eq(th_requests(denied), 0);
  ck_assert_int_eq(rec.n, 1);
  assert_denied_event(&rec.ev[0], "127.0.0.3", th_port(denied),
                      CURLFENCE_CHECK_OPEN);
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
           th_port(denied));
  rl = curl_slist_append(NULL, resolve);
  url_for(url, sizeof(url), "mixed.example", denied, "/");
  h = new_handle(url, &b);
  curl_easy_setopt(h, CURLOPT_RESOLVE, rl);
  ck_assert_int_eq(curlfence_attach(h, guard, 0), CURLFENCE_OK);
  ck_assert_int_eq(curl_easy_perform(h), CURLE_OK);
  curl_easy_cleanup(h);
  curl_slist_free_all(rl);
  ck_assert_str_eq(b.data, "hello from allowed\n");
  ck_assert_uint_eq(th_requests(denied), 0);
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

  url_for(url, sizeof(url), "127.0.0.3", denied, "/");
  ck_assert_int_eq(fetch(url, &b), CURLE_COULDNT_CONNECT);
  ck_assert_uint_eq(th_requests(proxy), 0);
  ck_assert_uint_eq(th_requests(denied), 0);
  ck_assert_int_eq(rec.n, 1);
  ck_assert_str_eq(rec.ev[0].addr, "127.0.0.3");

  /* Allowed hosts are fetched directly, not through the proxy. */
  url_for(url, sizeof(url), "127.0.0.2", allowed, "/");
  ck_assert_int_eq(fetch(url, &b), CURLE_OK);
  ck_assert_str_eq(b.data, "hello from allowed\n");
  ck_assert_uint_eq(th_requests(proxy), 0);

  /* KEEP_PROXY: the proxy is used and only its address is checked. */
  url_for(url, sizeof(url), "127.0.0.3", denied, "/via-proxy");
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

/* An unguarded handle leaves a connection to the denied host in the multi
 * pool; a guarded handle must not use it. */
TU_TEST(tc_curl, test_reused_connection)
{
  CURLM *m = curl_multi_init();
  char url[128];
  body b = { "", 0 };
  CURL *plain, *guarded;
  CURLMsg *msg;
  int running, left;
  CURLcode result = CURLE_OK;

  url_for(url, sizeof(url), "127.0.0.3", denied, "/");
  plain = new_handle(url, &b);
  curl_multi_add_handle(m, plain);
  do {
    curl_multi_perform(m, &running);
    curl_multi_poll(m, NULL, 0, 100, NULL);
  } while(running);
  curl_multi_remove_handle(m, plain);
  curl_easy_cleanup(plain);
  ck_assert_str_eq(b.data, "hello from denied\n");
  ck_assert_uint_eq(th_requests(denied), 1);

  b.len = 0;
  b.data[0] = '\0';
  guarded = new_handle(url, &b);
  ck_assert_int_eq(curlfence_attach(guarded, guard, 0), CURLFENCE_OK);
  curl_multi_add_handle(m, guarded);
  do {
    curl_multi_perform(m, &running);
    curl_multi_poll(m, NULL, 0, 100, NULL);
  } while(running);
  while((msg = curl_multi_info_read(m, &left)))
    if(msg->msg == CURLMSG_DONE)
      result = msg->data.result;
  curl_multi_remove_handle(m, guarded);
  curl_easy_cleanup(guarded);
  curl_multi_cleanup(m);

  ck_assert_int_eq(result, CURLE_ABORTED_BY_CALLBACK);
  ck_assert_uint_eq(b.len, 0);
  ck_assert_uint_eq(th_requests(denied), 1);
  ck_assert_int_eq(rec.n, 1);
  assert_denied_event(&rec.ev[0], "127.0.0.3", th_port(denied),
                      CURLFENCE_CHECK_REUSED);
}
END_TEST

/* The same through a share handle, which also closes the pooled
 * connection last, after the guard is gone. */
TU_TEST(tc_curl, test_reused_from_share)
{
  CURLSH *sh = curl_share_init();
  char url[128];
  body b = { "", 0 };
  CURL *h;

  ck_assert_int_eq(curl_share_setopt(sh, CURLSHOPT_SHARE,
                                     CURL_LOCK_DATA_CONNECT), CURLSHE_OK);
  url_for(url, sizeof(url), "127.0.0.3", denied, "/");
  h = new_handle(url, &b);
  curl_easy_setopt(h, CURLOPT_SHARE, sh);
  ck_assert_int_eq(curl_easy_perform(h), CURLE_OK);
  curl_easy_cleanup(h);
  ck_assert_uint_eq(th_requests(denied), 1);

  h = new_handle(url, &b);
  curl_easy_setopt(h, CURLOPT_SHARE, sh);
  ck_assert_int_eq(curlfence_attach(h, guard, 0), CURLFENCE_OK);
  ck_assert_int_eq(curl_easy_perform(h), CURLE_ABORTED_BY_CALLBACK);
  curl_easy_cleanup(h);
  ck_assert_uint_eq(th_requests(denied), 1);
  ck_assert_int_eq(rec.n, 1);
  assert_denied_event(&rec.ev[0], "127.0.0.3", th_port(denied),
                      CURLFENCE_CHECK_REUSED);

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

  url_for(url, sizeof(url), "127.0.0.3", denied, "/");
  h = new_handle(url, &b);
  ck_assert_int_eq(curlfence_attach(h, guard, 0), CURLFENCE_OK);
  dup = curl_easy_duphandle(h);
  ck_assert_ptr_nonnull(dup);
  curl_easy_cleanup(h);
  ck_assert_int_eq(curl_easy_perform(dup), CURLE_COULDNT_CONNECT);
  ck_assert_int_eq(rec.n, 1);
  url_for(url, sizeof(url), "127.0.0.2", allowed, "/");
  curl_easy_setopt(dup, CURLOPT_URL, url);
  ck_assert_int_eq(curl_easy_perform(dup), CURLE_OK);
  ck_assert_str_eq(b.data, "hello from allowed\n");
  curl_easy_cleanup(dup);
  ck_assert_uint_eq(th_requests(denied), 0);
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
    snprintf(pin, sizeof(pin), "%s:%u:127.0.0.2", names[i], th_port(allowed));
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
  struct curl_slist *pins = NULL;
  char url[256], want[256];
  size_t i;
  int k;

  audit_all();
  for(i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    body b = { "", 0 };
    CURL *h;

    memset(&rec, 0, sizeof(rec));
    snprintf(url, sizeof(url), rows[i].url, th_port(allowed));
    h = named_handle(url, &b, &pins);
    ck_assert_int_eq(curlfence_attach(h, guard, 0), CURLFENCE_OK);
    ck_assert_int_eq(curl_easy_perform(h), CURLE_OK);
    curl_easy_cleanup(h);
    curl_slist_free_all(pins);
    pins = NULL;
    k = event_of(CURLFENCE_CHECK_REUSED);
    ck_assert_int_ge(k, 0);
    if(!rows[i].host) {
      /* an address URL has no name, and its URL shows the address */
      ck_assert_ptr_null(rec.hostp[k]);
      snprintf(want, sizeof(want), "http://127.0.0.2:%u/", th_port(allowed));
      ck_assert_ptr_nonnull(rec.urlp[k]);
      ck_assert_str_eq(rec.urlp[k], want);
      continue;
    }
    ck_assert_ptr_nonnull(rec.hostp[k]);
    ck_assert_str_eq(rec.hostp[k], rows[i].host);
    snprintf(want, sizeof(want), "http://%s:%u%s", rows[i].host,
             th_port(allowed), rows[i].path);
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
  memset(&rec, 0, sizeof(rec));
  {
    body b = { "", 0 };
    CURL *h;

    snprintf(url, sizeof(url), "http://allowed.example:%u/?q",
             th_port(allowed));
    h = named_handle(url, &b, &pins);
    ck_assert_int_eq(curlfence_attach(h, guard, 0), CURLFENCE_OK);
    ck_assert_int_eq(curl_easy_perform(h), CURLE_OK);
    curl_easy_cleanup(h);
    curl_slist_free_all(pins);
  }
  k = event_of(CURLFENCE_CHECK_REUSED);
  ck_assert_int_ge(k, 0);
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
           th_port(allowed), th_port(allowed));
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
  snprintf(url, sizeof(url), "http://allowed.example:%u/", th_port(allowed));
  h = named_handle(url, &b, &pins);
  ck_assert_int_eq(curlfence_attach(h, guard, 0), CURLFENCE_OK);
  dup = curl_easy_duphandle(h);
  ck_assert_ptr_nonnull(dup);
  snprintf(url, sizeof(url), "http://other.example:%u/", th_port(allowed));
  curl_easy_setopt(dup, CURLOPT_URL, url);
  ck_assert_int_eq(curl_easy_perform(dup), CURLE_OK);
  k = event_of(CURLFENCE_CHECK_REUSED);
  ck_assert_int_ge(k, 0);
  ck_assert_ptr_null(rec.hostp[k]);
  ck_assert_ptr_null(rec.urlp[k]);
  /* the original, used after its copy (and while it lives) */
  memset(&rec, 0, sizeof(rec));
  ck_assert_int_eq(curl_easy_perform(h), CURLE_OK);
  k = event_of(CURLFENCE_CHECK_REUSED);
  ck_assert_int_ge(k, 0);
  ck_assert_ptr_nonnull(rec.hostp[k]);
  ck_assert_str_eq(rec.hostp[k], "allowed.example");
  /* and the copy again, now that the original ran last */
  memset(&rec, 0, sizeof(rec));
  ck_assert_int_eq(curl_easy_perform(dup), CURLE_OK);
  k = event_of(CURLFENCE_CHECK_REUSED);
  ck_assert_int_ge(k, 0);
  ck_assert_ptr_null(rec.hostp[k]);
  /* attached, the copy has its own name */
  ck_assert_int_eq(curlfence_attach(dup, guard, 0), CURLFENCE_OK);
  memset(&rec, 0, sizeof(rec));
  ck_assert_int_eq(curl_easy_perform(dup), CURLE_OK);
  k = event_of(CURLFENCE_CHECK_REUSED);
  ck_assert_int_ge(k, 0);
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
  struct curl_slist *pins = NULL;
  body b = { "", 0 };
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
  snprintf(url, sizeof(url), "http://allowed.example:%u/", th_port(allowed));
  h = named_handle(url, &b, &pins);
  ck_assert_int_eq(curlfence_attach(h, guard, 0), CURLFENCE_OK);
  ck_assert_int_eq(curl_easy_perform(h), CURLE_OK);
  curl_easy_cleanup(h);
  curl_slist_free_all(pins);
  k = event_of(CURLFENCE_CHECK_REUSED);
  ck_assert_int_ge(k, 0);
  ck_assert_ptr_nonnull(rec.hostp[k]);
  ck_assert_str_eq(rec.hostp[k], "allowed.example");
}
END_TEST

/* Pooled connections outlive their easy handles and the guard: closing
 * them in curl_multi_cleanup() must not touch freed memory (ASan and
 * valgrind watch this test). */
static int closes;

static int app_close(void *clientp, curl_socket_t fd)
{
  (void)clientp;
  closes++;
  return close(fd);
}

TU_TEST(tc_curl, test_late_close)
{
  CURLM *m = curl_multi_init();
  char url[128];
  body b = { "", 0 };
  CURL *h;
  int running;

  ck_assert_int_eq(curlfence_guard_set_chain(guard, NULL, NULL, app_close,
                                             NULL), CURLFENCE_OK);
  url_for(url, sizeof(url), "127.0.0.2", allowed, "/");
  h = new_handle(url, &b);
  ck_assert_int_eq(curlfence_attach(h, guard, 0), CURLFENCE_OK);
  curl_multi_add_handle(m, h);
  do {
    curl_multi_perform(m, &running);
    curl_multi_poll(m, NULL, 0, 100, NULL);
  } while(running);
  curl_multi_remove_handle(m, h);
  curl_easy_cleanup(h);
  ck_assert_str_eq(b.data, "hello from allowed\n");

  curlfence_guard_free(guard);
  curlfence_policy_unref(policy);
  guard = NULL;
  policy = NULL;
  closes = 0;
  curl_multi_cleanup(m);
  ck_assert_int_eq(closes, 1);
}
END_TEST

TU_TEST(tc_curl, test_unix_socket)
{
  char path[64], url[] = "http://localhost/";
  body b = { "", 0 };
  curlfence_guard *g2;
  curlfence_policy *p2;
  th_server *us;
  CURL *h;

  snprintf(path, sizeof(path), "/tmp/curlfence-test-%ld.sock", (long)getpid());
  us = th_start_unix(path, "unix");
  ck_assert_ptr_nonnull(us);

  h = new_handle(url, &b);
  curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, path);
  ck_assert_int_eq(curlfence_attach(h, guard, 0), CURLFENCE_OK);
  ck_assert_int_eq(curl_easy_perform(h), CURLE_COULDNT_CONNECT);
  ck_assert_int_eq(rec.n, 1);
  ck_assert_int_eq(rec.ev[0].family, AF_UNIX);
  ck_assert_str_eq(rec.ev[0].addr, path);
  ck_assert_str_eq(rec.ev[0].verdict.reason, "unix");
  ck_assert_str_eq(rec.ev[0].verdict.rule, "unix deny (built-in)");
  ck_assert_uint_eq(th_requests(us), 0);

  p2 = tu_load("unix allow\n");
  ck_assert_int_eq(curlfence_guard_new(&g2, p2), CURLFENCE_OK);
  ck_assert_int_eq(curlfence_attach(h, g2, 0), CURLFENCE_OK);
  ck_assert_int_eq(curl_easy_perform(h), CURLE_OK);
  ck_assert_str_eq(b.data, "hello from unix\n");
  curl_easy_cleanup(h);
  curlfence_guard_free(g2);
  curlfence_policy_unref(p2);
  th_stop(us);
}
END_TEST

/* Run one multi transfer to completion; returns its result. */
static CURLcode multi_run(CURLM *m, CURL *h)
{
  CURLcode result = CURLE_OK;
  CURLMsg *msg;
  int running, left;

  curl_multi_add_handle(m, h);
  do {
    curl_multi_perform(m, &running);
    curl_multi_poll(m, NULL, 0, 100, NULL);
  } while(running);
  while((msg = curl_multi_info_read(m, &left)))
    if(msg->msg == CURLMSG_DONE)
      result = msg->data.result;
  curl_multi_remove_handle(m, h);
  return result;
}

/* A unix-socket connection opened by an unguarded handle to a server
 * bound to the relative name path, then reused by a handle guarded by a
 * guard with the given rules.  Returns the guarded transfer's result;
 * *served is how many requests the server saw. */
static CURLcode pooled_unix(const char *path, const char *rules,
                            unsigned *served)
{
  char dir[] = "/tmp/curlfence-unix-XXXXXX", cwd[4096], url[] =
      "http://localhost/";
  body b = { "", 0 };
  curlfence_policy *p = tu_load(rules);
  curlfence_guard *g;
  CURLM *m = curl_multi_init();
  th_server *us;
  CURLcode rc;
  CURL *h;

  ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
  ck_assert_ptr_nonnull(mkdtemp(dir));
  ck_assert_int_eq(chdir(dir), 0);
  us = th_start_unix(path, "unix");
  ck_assert_ptr_nonnull(us);
  ck_assert_int_eq(curlfence_guard_new(&g, p), CURLFENCE_OK);
  curlfence_guard_set_audit(g, tu_record, &rec, CURLFENCE_AUDIT_DENIED);

  h = new_handle(url, &b);
  curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, path);
  ck_assert_int_eq(multi_run(m, h), CURLE_OK);
  ck_assert_str_eq(b.data, "hello from unix\n");
  curl_easy_cleanup(h);

  h = new_handle(url, &b);
  curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, path);
  ck_assert_int_eq(curlfence_attach(h, g, 0), CURLFENCE_OK);
  rc = multi_run(m, h);
  curl_easy_cleanup(h);
  curl_multi_cleanup(m);
  *served = th_requests(us);
  th_stop(us);
  ck_assert_int_eq(chdir(cwd), 0);
  ck_assert_int_eq(rmdir(dir), 0);
  curlfence_guard_free(g);
  curlfence_policy_unref(p);
  return rc;
}

/* The pre-request check on a pooled unix-socket connection applies the
 * unix setting, whatever the name the server bound to looks like. */
TU_TEST(tc_curl, test_reused_unix_relative)
{
  unsigned served;

  /* Not the IP address 8.8.8.8, though libcurl reports it as the peer. */
  ck_assert_int_eq(pooled_unix("8.8.8.8", "unix deny\nallow 8.8.8.8\n",
                               &served),
                   CURLE_ABORTED_BY_CALLBACK);
  ck_assert_uint_eq(served, 1);
  ck_assert_int_eq(rec.n, 1);
  ck_assert_int_eq(rec.ev[0].check, CURLFENCE_CHECK_REUSED);
  ck_assert_int_eq(rec.ev[0].family, AF_UNIX);
  ck_assert_str_eq(rec.ev[0].addr, "8.8.8.8");
  ck_assert_str_eq(rec.ev[0].verdict.reason, "unix");
  ck_assert_uint_eq(rec.ev[0].verdict.line, 1);  /* rule text is freed */

  /* Not an unknown address family either. */
  ck_assert_int_eq(pooled_unix("rel.sock", "unix allow\n", &served),
                   CURLE_OK);
  ck_assert_uint_eq(served, 2);
  ck_assert_int_eq(rec.n, 1);
}
END_TEST

/* A guard freed while a handle is still attached (a bug in the caller):
 * with CURLFENCE_KEEP_FREED_GUARDS the memory stays, and the handle's
 * transfers fail closed instead of deciding on freed memory. */
TU_TEST(tc_curl, test_freed_guard_fails_closed)
{
  char url[128];
  body b = { "", 0 };
  curlfence_policy *p = tu_load("default allow\n");
  curlfence_guard *g;
  CURL *h;

  ck_assert_int_eq(curlfence_guard_new(&g, p), CURLFENCE_OK);
  curlfence_policy_unref(p);
  ck_assert_int_eq(atomic_load(&g->magic), CF_GUARD_LIVE);
  url_for(url, sizeof(url), "127.0.0.2", allowed, "/");
  h = new_handle(url, &b);
  ck_assert_int_eq(curlfence_attach(h, g, 0), CURLFENCE_OK);
  ck_assert_int_eq(setenv("CURLFENCE_KEEP_FREED_GUARDS", "1", 1), 0);
  curlfence_guard_free(g);          /* too early: h still uses it */
  unsetenv("CURLFENCE_KEEP_FREED_GUARDS");
  ck_assert_int_eq(curl_easy_perform(h), CURLE_COULDNT_CONNECT);
  ck_assert_uint_eq(th_requests(allowed), 0);
  ck_assert_uint_eq(th_connections(allowed), 0);
  ck_assert_int_eq(atomic_load(&g->magic), CF_GUARD_FREED);
  ck_assert_uint_eq(atomic_load(&g->dead_calls), 1);
  curl_easy_cleanup(h);
  free(g);                          /* the tombstone */
}
END_TEST

static int opens;

static curl_socket_t app_open(void *clientp, curlsocktype purpose,
                              struct curl_sockaddr *a)
{
  (void)purpose;
  ck_assert_ptr_eq(clientp, &opens);
  opens++;
  return socket(a->family, a->socktype, a->protocol);
}

TU_TEST(tc_curl, test_chained_callbacks)
{
  char url[128];
  body b = { "", 0 };

  ck_assert_int_eq(curlfence_guard_set_chain(guard, app_open, &opens,
                                             app_close, NULL), CURLFENCE_OK);
  opens = closes = 0;
  url_for(url, sizeof(url), "127.0.0.3", denied, "/");
  ck_assert_int_eq(fetch(url, &b), CURLE_COULDNT_CONNECT);
  ck_assert_int_eq(opens, 0);
  ck_assert_int_eq(closes, 0);
  url_for(url, sizeof(url), "127.0.0.2", allowed, "/");
  ck_assert_int_eq(fetch(url, &b), CURLE_OK);
  ck_assert_str_eq(b.data, "hello from allowed\n");
  ck_assert_int_eq(opens, 1);
  ck_assert_int_eq(closes, 1);
}
END_TEST

TU_TEST(tc_curl, test_ipv6_and_audit_all)
{
  th_server *six = th_start("::1", "six");
  char url[128];
  body b = { "", 0 };

  ck_assert_ptr_nonnull(six);
  ck_assert_int_eq(curlfence_guard_set_audit(guard, tu_record, &rec,
                                             CURLFENCE_AUDIT_ALL),
                   CURLFENCE_OK);
  url_for(url, sizeof(url), "[::1]", six, "/");
  ck_assert_int_eq(fetch(url, &b), CURLE_OK);
  ck_assert_str_eq(b.data, "hello from six\n");
  /* One allow when the socket opens, one before the request. */
  ck_assert_int_eq(rec.n, 2);
  ck_assert_int_eq(rec.ev[0].action, CURLFENCE_ALLOW);
  ck_assert_int_eq(rec.ev[0].check, CURLFENCE_CHECK_OPEN);
  ck_assert_int_eq(rec.ev[0].family, AF_INET6);
  ck_assert_str_eq(rec.ev[0].addr, "::1");
  ck_assert_str_eq(rec.ev[0].verdict.rule, "allow ::1");
  ck_assert_int_eq(rec.ev[1].check, CURLFENCE_CHECK_REUSED);
  ck_assert_str_eq(rec.ev[1].addr, "::1");
  th_stop(six);
}
END_TEST

TU_TEST(tc_curl, test_json_sink)
{
  char url[128], path[64], cmd[512];
  body b = { "", 0 };
  FILE *f;

  snprintf(path, sizeof(path), "/tmp/curlfence-audit-%ld.jsonl",
           (long)getpid());
  f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(curlfence_guard_set_audit(guard, curlfence_audit_json, f,
                                             CURLFENCE_AUDIT_DENIED),
                   CURLFENCE_OK);
  url_for(url, sizeof(url), "127.0.0.3", denied, "/");
  ck_assert_int_eq(fetch(url, &b), CURLE_COULDNT_CONNECT);
  fclose(f);
  snprintf(cmd, sizeof(cmd),
           "python3 test/jsonl_check.py %s 1 decision=deny enforced=true "
           "addr=127.0.0.3 port=%u family=inet transport=tcp check=open "
           "default=false reason=rule rule.file=test.rules rule.line=3 "
           "'rule.text=deny 127.0.0.3' generation=1 pid=%ld",
           path, th_port(denied), (long)getpid());
  ck_assert_int_eq(system(cmd), 0);
  unlink(path);
}
END_TEST

/* The metrics text, read back with the Prometheus client's parser, counts
 * the decisions the transfers caused: each by decision, check and reason,
 * each by the rule that made it, and what the audit did with them. */
TU_TEST(tc_curl, test_metrics)
{
  char url[128], path[64], cmd[2048];
  body b = { "", 0 };
  curlfence_sink *full;
  FILE *f;

  url_for(url, sizeof(url), "127.0.0.2", allowed, "/");
  ck_assert_int_eq(fetch(url, &b), CURLE_OK);
  url_for(url, sizeof(url), "127.0.0.3", denied, "/");
  ck_assert_int_eq(fetch(url, &b), CURLE_COULDNT_CONNECT);
  ck_assert_int_eq(fetch_flags(url, &b, CURLFENCE_ATTACH_REPORT_ONLY),
                   CURLE_OK);
  ck_assert_int_eq(rec.n, 3);
  /* a sink that cannot write: the event is failed and lost */
  ck_assert_int_eq(curlfence_sink_open_file(&full, "/dev/full", NULL),
                   CURLFENCE_OK);
  ck_assert_int_eq(curlfence_guard_set_audit(guard, curlfence_sink_write,
                                             full, CURLFENCE_AUDIT_DENIED),
                   CURLFENCE_OK);
  ck_assert_int_eq(fetch(url, &b), CURLE_COULDNT_CONNECT);

  snprintf(path, sizeof(path), "/tmp/curlfence-metrics-%ld.prom",
           (long)getpid());
  f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(curlfence_guard_metrics(guard, f), CURLFENCE_OK);
  fclose(f);
  ck_assert_int_eq(curlfence_guard_set_audit(guard, NULL, NULL, 0),
                   CURLFENCE_OK);
  curlfence_sink_free(full);
  snprintf(cmd, sizeof(cmd),
           "python3 test/metrics_check.py %s "
           "'curlfence_decisions_total{decision=\"allow\",check=\"open\","
           "reason=\"rule\"}=1' "
           "'curlfence_decisions_total{decision=\"allow\",check=\"reused\","
           "reason=\"rule\"}=1' "
           "'curlfence_decisions_total{decision=\"deny\",check=\"open\","
           "reason=\"rule\"}=2' "
           "'curlfence_decisions_total{decision=\"deny\",check=\"open\","
           "reason=\"default\"}=0' "
           "'curlfence_decisions_total{decision=\"report\",check=\"open\","
           "reason=\"rule\"}=1' "
           "'curlfence_decisions_total{decision=\"report\",check=\"reused\","
           "reason=\"rule\"}=1' "
           "'curlfence_decisions_total{decision=\"deny\",check=\"open\","
           "reason=\"udp\"}=absent' "
           "'curlfence_rule_hits_total{file=\"test.rules\",line=\"2\","
           "rule=\"allow 127.0.0.2\"}=2' "
           "'curlfence_rule_hits_total{file=\"test.rules\",line=\"3\","
           "rule=\"deny 127.0.0.3\"}=4' "
           "'curlfence_rule_hits_total{file=\"test.rules\",line=\"1\","
           "rule=\"default deny\"}=0' "
           "'curlfence_rule_hits_total{file=\"test.rules\",line=\"4\","
           "rule=\"allow 127.0.0.4\"}=absent' "
           "'curlfence_audit_events_written_total=3' "
           "'curlfence_audit_events_failed_total=1' "
           "'curlfence_audit_events_lost_total=1' "
           "'curlfence_reloads_total{result=\"ok\"}=0' "
           "'curlfence_reloads_total{result=\"failed\"}=0' "
           "'curlfence_policy_generation=1' "
           "'curlfence_policy_rules=4' "
           "'curlfence_policy_load_time_seconds=now'",
           path);
  ck_assert_int_eq(system(cmd), 0);
  unlink(path);
  ck_assert_int_eq(curlfence_guard_metrics(NULL, stdout), CURLFENCE_E_INVAL);
  ck_assert_int_eq(curlfence_guard_metrics(guard, NULL), CURLFENCE_E_INVAL);
}
END_TEST

TU_TEST(tc_curl, test_api_misuse)
{
  CURL *h = curl_easy_init();
  curlfence_guard *g = (curlfence_guard *)1;
  char url[128];
  body b = { "", 0 };

  ck_assert_int_eq(curlfence_attach(NULL, guard, 0), CURLFENCE_E_INVAL);
  ck_assert_int_eq(curlfence_attach(h, NULL, 0), CURLFENCE_E_INVAL);
  ck_assert_int_eq(curlfence_attach(h, guard, 0x80), CURLFENCE_E_INVAL);
  ck_assert_int_eq(curlfence_detach(NULL), CURLFENCE_E_INVAL);
  ck_assert_int_eq(curlfence_guard_new(&g, NULL), CURLFENCE_E_INVAL);
  ck_assert_ptr_null(g);
  ck_assert_int_eq(curlfence_guard_new(NULL, policy), CURLFENCE_E_INVAL);
  ck_assert_int_eq(curlfence_guard_set_audit(NULL, NULL, NULL, 0),
                   CURLFENCE_E_INVAL);
  ck_assert_int_eq(curlfence_guard_set_audit(guard, NULL, NULL, 7),
                   CURLFENCE_E_INVAL);
  ck_assert_int_eq(curlfence_guard_set_chain(NULL, NULL, NULL, NULL, NULL),
                   CURLFENCE_E_INVAL);
  curlfence_guard_free(NULL);
  curl_easy_cleanup(h);

  /* Detaching restores plain libcurl: the denied host is reachable. */
  url_for(url, sizeof(url), "127.0.0.3", denied, "/");
  h = new_handle(url, &b);
  ck_assert_int_eq(curlfence_attach(h, guard, 0), CURLFENCE_OK);
  ck_assert_int_eq(curlfence_detach(h), CURLFENCE_OK);
  ck_assert_int_eq(curl_easy_perform(h), CURLE_OK);
  ck_assert_str_eq(b.data, "hello from denied\n");
  curl_easy_cleanup(h);
}
END_TEST

/* DoH runs on libcurl's internal handles, which carry no guard: attach
 * turns it off unless told to keep it, and detach turns it off. */
TU_TEST(tc_curl, test_doh_cleared)
{
  char name[256], url[512], doh[128];
  body b = { "", 0 };
  CURL *h;

  tu_loopback_hosts_name(name, sizeof(name));
  ck_assert_msg(name[0], "/etc/hosts names no loopback host but localhost");
  snprintf(url, sizeof(url), "http://%s:%u/", name, th_port(allowed));
  /* libcurl only speaks https to a DoH server: the handshake fails on
   * this plain HTTP server, but the connection is counted. */
  snprintf(doh, sizeof(doh), "https://127.0.0.3:%u/dns-query",
           th_port(denied));

  h = new_handle(url, &b);
  curl_easy_setopt(h, CURLOPT_DOH_URL, doh);
  ck_assert_int_eq(curlfence_attach(h, guard, 0), CURLFENCE_OK);
  curl_easy_perform(h);
  curl_easy_cleanup(h);
  ck_assert_uint_eq(th_connections(denied), 0);

  /* Kept on request: then the DoH server is reached, unchecked. */
  h = new_handle(url, &b);
  curl_easy_setopt(h, CURLOPT_DOH_URL, doh);
  ck_assert_int_eq(curlfence_attach(h, guard, CURLFENCE_ATTACH_KEEP_DOH),
                   CURLFENCE_OK);
  ck_assert_int_eq(curl_easy_perform(h), CURLE_COULDNT_RESOLVE_HOST);
  ck_assert_uint_ge(th_connections(denied), 1);

  /* Detaching restores the default: no DoH. */
  ck_assert_int_eq(curlfence_attach(h, guard, CURLFENCE_ATTACH_KEEP_DOH),
                   CURLFENCE_OK);
  ck_assert_int_eq(curlfence_detach(h), CURLFENCE_OK);
  b.len = 0;
  {
    unsigned before = th_connections(denied);

    curl_easy_perform(h);
    ck_assert_uint_eq(th_connections(denied), before);
  }
  curl_easy_cleanup(h);
}
END_TEST

/* UDP (TFTP) sockets are refused unless the attach flag lets the policy
 * decide them; then they are checked like TCP ones, and an allowed UDP
 * transfer is not stopped by the pre-request check (libcurl reports no
 * peer for it). */
TU_TEST(tc_curl, test_udp_tftp)
{
  char url[128];
  body b = { "", 0 };
  tu_tftp t;

  tu_tftp_start(&t, "127.0.0.2");
  snprintf(url, sizeof(url), "tftp://127.0.0.2:%u/file", t.port);
  ck_assert_int_eq(fetch(url, &b), CURLE_COULDNT_CONNECT);
  ck_assert_int_eq(rec.n, 1);
  ck_assert_int_eq(rec.ev[0].socktype, SOCK_DGRAM);
  ck_assert_int_eq(rec.ev[0].action, CURLFENCE_DENY);
  ck_assert_str_eq(rec.ev[0].addr, "127.0.0.2");
  ck_assert_str_eq(rec.ev[0].verdict.reason, "udp");
  ck_assert_ptr_null(rec.ev[0].verdict.file);
  ck_assert_int_eq(atomic_load(&t.requests), 0);

  /* Report-only lets it through, reported. */
  ck_assert_int_eq(fetch_flags(url, &b, CURLFENCE_ATTACH_REPORT_ONLY),
                   CURLE_OK);
  ck_assert_str_eq(b.data, "hello over udp\n");
  tu_tftp_stop(&t);
  ck_assert_int_eq(rec.n, 2);
  ck_assert_str_eq(rec.ev[1].verdict.reason, "udp");
  ck_assert_int_eq(rec.ev[1].enforced, 0);

  tu_tftp_start(&t, "127.0.0.3");
  snprintf(url, sizeof(url), "tftp://127.0.0.3:%u/file", t.port);
  ck_assert_int_eq(fetch_flags(url, &b, CURLFENCE_ATTACH_ALLOW_TFTP),
                   CURLE_COULDNT_CONNECT);
  ck_assert_int_eq(rec.n, 3);
  ck_assert_int_eq(rec.ev[2].socktype, SOCK_DGRAM);
  ck_assert_str_eq(rec.ev[2].verdict.rule, "deny 127.0.0.3");
  ck_assert_int_eq(atomic_load(&t.requests), 0);
  tu_tftp_stop(&t);

  b.len = 0;
  tu_tftp_start(&t, "127.0.0.2");
  snprintf(url, sizeof(url), "tftp://127.0.0.2:%u/file", t.port);
  ck_assert_int_eq(fetch_flags(url, &b, CURLFENCE_ATTACH_ALLOW_TFTP),
                   CURLE_OK);
  ck_assert_str_eq(b.data, "hello over udp\n");
  tu_tftp_stop(&t);
  ck_assert_int_eq(atomic_load(&t.requests), 1);

  /* IPv6: the socket's filter accepts the checked host's answers. */
  b.len = 0;
  tu_tftp_start(&t, "::1");
  snprintf(url, sizeof(url), "tftp://[::1]:%u/file", t.port);
  ck_assert_int_eq(fetch_flags(url, &b, CURLFENCE_ATTACH_ALLOW_TFTP),
                   CURLE_OK);
  ck_assert_str_eq(b.data, "hello over udp\n");
  tu_tftp_stop(&t);
  ck_assert_int_eq(rec.n, 3);
}
END_TEST

/* A TFTP server that takes a write request on one address and answers
 * from another, as RFC 1350 servers answer from a new port: the client
 * then sends the data to where the answer came from. */
typedef struct tftp_split {
  int in, out;              /* request socket; answering socket */
  unsigned in_port;
  pthread_t thread;
  atomic_int requests, data; /* packets received on in, and on out */
} tftp_split;

static int udp_bind(const char *addr, unsigned *port)
{
  struct sockaddr_in in;
  socklen_t len = sizeof(in);
  struct timeval tv = { 3, 0 };
  int fd = socket(AF_INET, SOCK_DGRAM, 0);

  ck_assert_int_ge(fd, 0);
  memset(&in, 0, sizeof(in));
  in.sin_family = AF_INET;
  ck_assert_int_eq(inet_pton(AF_INET, addr, &in.sin_addr), 1);
  ck_assert_int_eq(bind(fd, (struct sockaddr *)&in, sizeof(in)), 0);
  ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&in, &len), 0);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  *port = ntohs(in.sin_port);
  return fd;
}

static void *tftp_split_main(void *arg)
{
  tftp_split *t = arg;
  struct sockaddr_storage from;
  socklen_t flen = sizeof(from);
  static const char ack0[] = "\0\4\0\0", ack1[] = "\0\4\0\1";
  char buf[600];
  ssize_t n;

  n = recvfrom(t->in, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
  if(n < 4 || buf[1] != 2)
    return NULL;
  atomic_fetch_add(&t->requests, 1);
  sendto(t->out, ack0, 4, 0, (struct sockaddr *)&from, flen);
  n = recv(t->out, buf, sizeof(buf), 0);
  if(n >= 4 && buf[1] == 3) {
    atomic_fetch_add(&t->data, 1);
    sendto(t->out, ack1, 4, 0, (struct sockaddr *)&from, flen);
  }
  return NULL;
}

static size_t read_upload(char *p, size_t size, size_t n, void *userdata)
{
  int *sent = userdata;

  (void)size;
  (void)n;
  if(*sent)
    return 0;
  *sent = 1;
  memcpy(p, "secret\n", 7);
  return 7;
}

/* A TFTP upload to a server that takes the request on 127.0.0.1 and
 * answers from out_addr (another port), guarded by "allow 127.0.0.1 port
 * <request port>" with the given attach flags.  Returns libcurl's result;
 * *requests and *data say what reached the two server sockets. */
static CURLcode split_upload(const char *out_addr, unsigned flags,
                             int *requests, int *data)
{
  char url[128], rules[128];
  curlfence_policy *p;
  curlfence_guard *g;
  tftp_split t;
  unsigned out_port;
  int sent = 0;
  CURLcode rc;
  CURL *h;

  memset(&t, 0, sizeof(t));
  t.in = udp_bind("127.0.0.1", &t.in_port);
  t.out = udp_bind(out_addr, &out_port);
  snprintf(rules, sizeof(rules),
           "default deny\nallow 127.0.0.1 port %u\ndeny 127.0.0.3\n",
           t.in_port);
  p = tu_load(rules);
  ck_assert_int_eq(curlfence_guard_new(&g, p), CURLFENCE_OK);
  ck_assert_int_eq(pthread_create(&t.thread, NULL, tftp_split_main, &t), 0);

  snprintf(url, sizeof(url), "tftp://127.0.0.1:%u/upload", t.in_port);
  h = curl_easy_init();
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(h, CURLOPT_READFUNCTION, read_upload);
  curl_easy_setopt(h, CURLOPT_READDATA, &sent);
  curl_easy_setopt(h, CURLOPT_INFILESIZE, 7L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 2L);
  ck_assert_int_eq(curlfence_attach(h, g, flags), CURLFENCE_OK);
  rc = curl_easy_perform(h);
  curl_easy_cleanup(h);

  shutdown(t.in, SHUT_RDWR);
  shutdown(t.out, SHUT_RDWR);
  pthread_join(t.thread, NULL);
  close(t.in);
  close(t.out);
  *requests = atomic_load(&t.requests);
  *data = atomic_load(&t.data);
  curlfence_guard_free(g);
  curlfence_policy_unref(p);
  return rc;
}

/* The answer to a TFTP request comes from an address the guard never saw.
 * By default nothing is sent at all; with the attach flag the socket only
 * accepts answers from the host it was checked for, on any port. */
TU_TEST(tc_curl, test_tftp_reply_address)
{
  int requests, data;

  ck_assert_int_eq(split_upload("127.0.0.3", 0, &requests, &data),
                   CURLE_COULDNT_CONNECT);
  ck_assert_int_eq(requests, 0);
  ck_assert_int_eq(data, 0);

  ck_assert_int_ne(split_upload("127.0.0.3", CURLFENCE_ATTACH_ALLOW_TFTP,
                                &requests, &data),
                   CURLE_OK);
  ck_assert_int_eq(requests, 1);      /* the checked address */
  ck_assert_int_eq(data, 0);          /* never the one it answered from */

  /* An RFC 1350 server: same host, new port. */
  ck_assert_int_eq(split_upload("127.0.0.1", CURLFENCE_ATTACH_ALLOW_TFTP,
                                &requests, &data),
                   CURLE_OK);
  ck_assert_int_eq(requests, 1);
  ck_assert_int_eq(data, 1);
}
END_TEST

/* An application open callback that sends the connection elsewhere:
 * libcurl connects to whatever address the callback leaves in its
 * argument, so it rewrites 127.0.0.2 to 127.0.0.3 (both loopback). */
static curl_socket_t rewrite_open(void *clientp, curlsocktype purpose,
                                  struct curl_sockaddr *a)
{
  struct sockaddr_in *in = (struct sockaddr_in *)&a->addr;

  (void)clientp;
  (void)purpose;
  if(a->family == AF_INET && in->sin_addr.s_addr == htonl(0x7f000002))
    in->sin_addr.s_addr = htonl(0x7f000003);
  return socket(a->family, a->socktype, a->protocol);
}

/* The address a chained open callback leaves is checked again: the
 * denied server sees no connection, and the audit names it. */
TU_TEST(tc_curl, test_chained_open_rewrites_address)
{
  char url[128];
  body b = { "", 0 };

  ck_assert_int_eq(curlfence_guard_set_chain(guard, rewrite_open, NULL,
                                             NULL, NULL), CURLFENCE_OK);
  url_for(url, sizeof(url), "127.0.0.2", allowed, "/");
  ck_assert_int_eq(fetch(url, &b), CURLE_COULDNT_CONNECT);
  ck_assert_uint_eq(b.len, 0);
  ck_assert_uint_eq(th_connections(denied), 0);
  ck_assert_uint_eq(th_connections(allowed), 0);
  ck_assert_int_eq(rec.n, 1);
  assert_denied_event(&rec.ev[0], "127.0.0.3", th_port(denied),
                      CURLFENCE_CHECK_OPEN);
}
END_TEST

/* A hostile FTP control server on 127.0.0.2: one session, whose PASV
 * reply names pasv_host on pasv_port (EPSV is refused so that libcurl asks
 * for PASV).  It never connects anywhere. */
typedef struct ftp_stub {
  int fd;
  unsigned port;
  const char *pasv_host;        /* "127,0,0,3" */
  unsigned pasv_port;
  pthread_t thread;
} ftp_stub;

static void *ftp_main(void *arg)
{
  ftp_stub *f = arg;
  struct timeval tv = { 5, 0 };
  char line[512], reply[128];
  size_t n = 0;
  int c = accept(f->fd, NULL, NULL);

  if(c < 0)
    return NULL;
  setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if(write(c, "220 hi\r\n", 8) < 0)
    goto done;
  for(;;) {
    ssize_t k = read(c, line + n, 1);
    const char *r = "500 no\r\n";

    if(k <= 0)
      break;
    if(line[n] != '\n' && n < sizeof(line) - 2) {
      n++;
      continue;
    }
    line[n] = '\0';
    n = 0;
    if(!strncmp(line, "USER", 4))
      r = "331 pw\r\n";
    else if(!strncmp(line, "PASS", 4))
      r = "230 in\r\n";
    else if(!strncmp(line, "PWD", 3))
      r = "257 \"/\"\r\n";
    else if(!strncmp(line, "TYPE", 4))
      r = "200 ok\r\n";
    else if(!strncmp(line, "PASV", 4)) {
      snprintf(reply, sizeof(reply),
               "227 Entering Passive Mode (%s,%u,%u)\r\n", f->pasv_host,
               f->pasv_port >> 8, f->pasv_port & 255);
      r = reply;
    }
    else if(!strncmp(line, "QUIT", 4)) {
      if(write(c, "221 bye\r\n", 9) < 0)
        break;
      break;
    }
    if(write(c, r, strlen(r)) < 0)
      break;
  }
done:
  close(c);
  return NULL;
}

static void ftp_start(ftp_stub *f, const char *pasv_host, unsigned pasv_port)
{
  struct sockaddr_in a;
  socklen_t len = sizeof(a);

  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(0x7f000002);
  f->fd = socket(AF_INET, SOCK_STREAM, 0);
  ck_assert_int_ge(f->fd, 0);
  ck_assert_int_eq(bind(f->fd, (struct sockaddr *)&a, sizeof(a)), 0);
  ck_assert_int_eq(listen(f->fd, 1), 0);
  ck_assert_int_eq(getsockname(f->fd, (struct sockaddr *)&a, &len), 0);
  f->port = ntohs(a.sin_port);
  f->pasv_host = pasv_host;
  f->pasv_port = pasv_port;
  ck_assert_int_eq(pthread_create(&f->thread, NULL, ftp_main, f), 0);
}

static CURLcode ftp_fetch(const ftp_stub *f)
{
  char url[128];
  body b = { "", 0 };
  CURL *h;
  CURLcode rc;

  snprintf(url, sizeof(url), "ftp://127.0.0.2:%u/f.txt", f->port);
  h = new_handle(url, &b);
  /* Use the address in the PASV reply, as an FTP server behind NAT needs
   * (libcurl's default ignores it and keeps the control host). */
  curl_easy_setopt(h, CURLOPT_FTP_SKIP_PASV_IP, 0L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
  ck_assert_int_eq(curlfence_attach(h, guard, 0), CURLFENCE_OK);
  rc = curl_easy_perform(h);
  curl_easy_cleanup(h);
  return rc;
}

static void ftp_stop(ftp_stub *f)
{
  pthread_join(f->thread, NULL);
  close(f->fd);
}

/* The FTP data connection goes where a hostile server's PASV reply says,
 * and is checked like any other: to an allowed host it is opened (the
 * allowed server sees it), to the denied one it is refused and the denied
 * server sees nothing. */
TU_TEST(tc_curl, test_ftp_pasv_address)
{
  ftp_stub f;
  int i;

  ftp_start(&f, "127,0,0,2", th_port(allowed));
  ck_assert_int_ne(ftp_fetch(&f), CURLE_OK);
  ftp_stop(&f);
  /* The server accepts in its own time. */
  for(i = 0; i < 200 && th_connections(allowed) == 0; i++)
    usleep(10000);
  ck_assert_uint_eq(th_connections(allowed), 1);
  ck_assert_int_eq(rec.n, 0);

  ftp_start(&f, "127,0,0,3", th_port(denied));
  ck_assert_int_ne(ftp_fetch(&f), CURLE_OK);
  ftp_stop(&f);
  ck_assert_uint_eq(th_connections(denied), 0);
  ck_assert_int_eq(rec.n, 1);
  assert_denied_event(&rec.ev[0], "127.0.0.3", th_port(denied),
                      CURLFENCE_CHECK_OPEN);
}
END_TEST

/* Records the address libcurl would connect to and connects nowhere. */
static curl_socket_t record_no_connect(void *clientp, curlsocktype purpose,
                                       struct curl_sockaddr *a)
{
  int *n = clientp;

  (void)purpose;
  (void)a;
  (*n)++;
  return CURL_SOCKET_BAD;
}

/* The unspecified address reaches this host's loopback address: a policy
 * that denies loopback but not 0.0.0.0/8 or :: must still deny it, with
 * the verdict curlfence_policy_decide() gives: the loopback rule, reason
 * "loopback", and the audit line says which address decided ("as").  The
 * chained callback connects nowhere, so a failure here opens nothing. */
TU_TEST(tc_curl, test_unspecified_is_loopback)
{
  static const char *const urls[] = { "http://0.0.0.0:9/",
                                      "http://[::]:9/",
                                      "http://[::ffff:0.0.0.0]:9/" };
  static const char *const addrs[] = { "0.0.0.0", "::", "0.0.0.0" };
  static const char *const rule[] = { "deny 127.0.0.0/8", "deny ::1",
                                      "deny 127.0.0.0/8" };
  static const char *const as[] = { "\"as\":\"127.0.0.1\"",
                                    "\"as\":\"::1\"",
                                    "\"as\":\"127.0.0.1\"" };
  curlfence_policy *p = tu_load("default allow\ndeny 127.0.0.0/8\n"
                                "deny ::1\n");
  curlfence_guard *g;
  tu_recorder r;
  body b = { "", 0 };
  int reached = 0;
  size_t i;

  memset(&r, 0, sizeof(r));
  ck_assert_int_eq(curlfence_guard_new(&g, p), CURLFENCE_OK);
  curlfence_guard_set_audit(g, tu_record, &r, CURLFENCE_AUDIT_DENIED);
  curlfence_guard_set_chain(g, record_no_connect, &reached, NULL, NULL);
  for(i = 0; i < 3; i++) {
    CURL *h = new_handle(urls[i], &b);

    ck_assert_int_eq(curlfence_attach(h, g, 0), CURLFENCE_OK);
    ck_assert_int_eq(curl_easy_perform(h), CURLE_COULDNT_CONNECT);
    curl_easy_cleanup(h);
    ck_assert_msg(reached == 0, "%s went to the socket", urls[i]);
    ck_assert_int_eq(r.n, (int)i + 1);
    ck_assert_int_eq(r.ev[i].action, CURLFENCE_DENY);
    ck_assert_str_eq(r.ev[i].addr, addrs[i]);
    ck_assert_str_eq(r.ev[i].verdict.rule, rule[i]);
    ck_assert_str_eq(r.ev[i].verdict.reason, "loopback");
    ck_assert_uint_eq(r.ev[i].verdict.line, i == 1 ? 3 : 2);
    {
      char json[1024];
      struct sockaddr_storage ss;
      curlfence_verdict v;

      ck_assert_uint_lt(curlfence_event_json(&r.ev[i], json, sizeof(json)),
                        sizeof(json));
      ck_assert_msg(strstr(json, as[i]) != NULL, "%s", json);
      /* what the guard decided is what the policy answers */
      ck_assert_int_eq(curlfence_policy_decide(
                           p, (struct sockaddr *)&ss,
                           tu_sockaddr(&ss, addrs[i], 9), &v),
                       CURLFENCE_DENY);
      ck_assert_str_eq(v.rule, rule[i]);
      ck_assert_str_eq(v.reason, "loopback");
    }
  }
  /* The same policy still allows other addresses. */
  {
    CURL *h = new_handle("http://192.0.2.1:9/", &b);

    ck_assert_int_eq(curlfence_attach(h, g, 0), CURLFENCE_OK);
    ck_assert_int_eq(curl_easy_perform(h), CURLE_COULDNT_CONNECT);
    curl_easy_cleanup(h);
    ck_assert_int_eq(reached, 1);
  }
  curlfence_guard_free(g);
  curlfence_policy_unref(p);
}
END_TEST

/* Switching the audit destination while transfers run.  Each
 * destination knows itself and whether it has been retired (as a sink is
 * freed once curlfence_guard_set_audit() has switched away from it); a
 * callback that gets the other one's data, or runs on a retired one, is
 * wrong.  The callback yields in the middle so that a switch made without
 * waiting for it would catch it running. */
typedef struct audit_dest {
  atomic_int retired;
  atomic_long events;
} audit_dest;

static struct {
  audit_dest a, b;
  atomic_long wrong, transfers;
  atomic_int stop;
  char url[128];
} sw;

static int audit_dest_check(const audit_dest *mine, void *userdata)
{
  audit_dest *d = userdata;

  if(d != mine || atomic_load(&d->retired))
    atomic_fetch_add(&sw.wrong, 1);
  sched_yield();
  if(atomic_load(&d->retired))
    atomic_fetch_add(&sw.wrong, 1);
  atomic_fetch_add(&d->events, 1);
  return 0;
}

static int audit_to_a(const curlfence_event *ev, void *userdata)
{
  (void)ev;
  return audit_dest_check(&sw.a, userdata);
}

static int audit_to_b(const curlfence_event *ev, void *userdata)
{
  (void)ev;
  return audit_dest_check(&sw.b, userdata);
}

static void *switch_worker(void *arg)
{
  (void)arg;
  while(!atomic_load(&sw.stop)) {
    body b = { "", 0 };
    CURL *h = curl_easy_init();

    if(!h || curlfence_attach(h, guard, 0) != CURLFENCE_OK) {
      atomic_fetch_add(&sw.wrong, 1);
      break;
    }
    curl_easy_setopt(h, CURLOPT_URL, sw.url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
    if(curl_easy_perform(h) != CURLE_OK ||
       strcmp(b.data, "hello from allowed\n"))
      atomic_fetch_add(&sw.wrong, 1);
    curl_easy_cleanup(h);
    atomic_fetch_add(&sw.transfers, 1);
  }
  return NULL;
}

TU_TEST(tc_curl, test_set_audit_while_transferring)
{
  long want = tu_quick() ? 40 : 400, i, wrong, a, b;
  pthread_t t[3];
  curlfence_stats st;

  memset(&sw, 0, sizeof(sw));
  url_for(sw.url, sizeof(sw.url), "127.0.0.2", allowed, "/");
  atomic_store(&sw.b.retired, 1);
  ck_assert_int_eq(curlfence_guard_set_audit(guard, audit_to_a, &sw.a,
                                             CURLFENCE_AUDIT_ALL),
                   CURLFENCE_OK);
  for(i = 0; i < 3; i++)
    ck_assert_int_eq(pthread_create(&t[i], NULL, switch_worker, NULL), 0);
  for(i = 0; atomic_load(&sw.transfers) < want; i++) {
    audit_dest *next = i % 2 ? &sw.a : &sw.b, *old = i % 2 ? &sw.b : &sw.a;

    atomic_store(&next->retired, 0);
    ck_assert_int_eq(curlfence_guard_set_audit(guard,
                                               i % 2 ? audit_to_a
                                                     : audit_to_b,
                                               next, CURLFENCE_AUDIT_ALL),
                     CURLFENCE_OK);
    /* From here on nothing may use old: a sink would be freed now. */
    atomic_store(&old->retired, 1);
    sched_yield();
  }
  atomic_store(&sw.stop, 1);
  for(i = 0; i < 3; i++)
    pthread_join(t[i], NULL);
  wrong = atomic_load(&sw.wrong);
  a = atomic_load(&sw.a.events);
  b = atomic_load(&sw.b.events);
  ck_assert_msg(wrong == 0, "%ld callbacks with the wrong or a retired "
                "destination (%ld transfers, %ld switches)", wrong,
                (long)atomic_load(&sw.transfers), i);
  ck_assert_int_gt(a, 0);
  ck_assert_int_gt(b, 0);
  /* Every decision reached one of them, and the switches changed no
   * policy generation. */
  ck_assert_int_eq(curlfence_guard_stats(guard, &st), CURLFENCE_OK);
  ck_assert_uint_eq(st.allowed, (uint64_t)(a + b));
  ck_assert_uint_eq(st.generation, 1);
}
END_TEST
