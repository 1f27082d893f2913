/* SPDX-License-Identifier: MIT */
/* The fixture of the guard suites (guard_fixture.h). */
#include "guard_fixture.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

static const char test_rules[] =
    "default deny\n"
    "allow 127.0.0.2\n"
    "deny 127.0.0.3\n"
    "allow 127.0.0.4          # the proxy\n"
    "allow ::1\n";

size_t on_body(char *p, size_t size, size_t n, void *userdata)
{
  body *b = userdata;
  size_t len = size * n, room = sizeof(b->data) - 1 - b->len;

  memcpy(b->data + b->len, p, len < room ? len : room);
  b->len += len < room ? len : room;
  b->data[b->len] = '\0';
  return len;
}

curlfence_policy *policy;
curlfence_guard *guard;
tu_recorder rec;
th_server *allowed_srv, *denied_srv;

void guard_setup(void)
{
  ck_assert_int_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
  policy = tu_load(test_rules);
  ck_assert_int_eq(curlfence_guard_new(&guard, policy), CURLFENCE_OK);
  memset(&rec, 0, sizeof(rec));
  ck_assert_int_eq(curlfence_guard_set_audit(guard, tu_record, &rec,
                                             CURLFENCE_AUDIT_DENIED),
                   CURLFENCE_OK);
  /* The same port on both hosts, so one name can resolve to either. */
  ck_assert_int_eq(th_start_pair("127.0.0.3", "denied", &denied_srv,
                                 "127.0.0.2", "allowed", &allowed_srv), 0);
}

void guard_teardown(void)
{
  th_stop(allowed_srv);
  th_stop(denied_srv);
  curlfence_guard_free(guard);
  curlfence_policy_unref(policy);
  curl_global_cleanup();
}

CURL *new_handle(const char *url, body *b)
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
CURLcode fetch_flags(const char *url, body *b, unsigned flags)
{
  CURL *h = new_handle(url, b);
  CURLcode rc;

  ck_assert_int_eq(curlfence_attach(h, guard, flags), CURLFENCE_OK);
  rc = curl_easy_perform(h);
  curl_easy_cleanup(h);
  return rc;
}


void url_for(char *buf, size_t size, const char *host,
                    const th_server *s, const char *path)
{
  snprintf(buf, size, "http://%s:%u%s", host, th_port(s), path);
}

void assert_one_denial(curlfence_check check)
{
  const curlfence_event *ev = &rec.ev[0];

  ck_assert_int_eq(rec.n, 1);
  ck_assert_int_eq(ev->action, CURLFENCE_DENY);
  ck_assert_str_eq(ev->addr, "127.0.0.3");
  ck_assert_uint_eq(ev->port, th_port(denied_srv));
  ck_assert_int_eq(ev->check, check);
  ck_assert_str_eq(ev->verdict.file, "test.rules");
  ck_assert_uint_eq(ev->verdict.line, 3);
  ck_assert_str_eq(ev->verdict.rule, "deny 127.0.0.3");
  ck_assert_int_eq(ev->verdict.is_default, 0);
  ck_assert(ev->time_us > 1700000000LL * 1000000);
}

CURLcode fetch(const char *url, body *b)
{
  return fetch_flags(url, b, 0);
}

/* Run one multi transfer to completion; returns its result. */
CURLcode multi_run(CURLM *m, CURL *h)
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
