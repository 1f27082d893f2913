/* SPDX-License-Identifier: MIT */
/*
 * The fixture of the guard suites (test/test_guard*.c): the guard against
 * real libcurl transfers and real sockets.
 *
 * Every server here is started by the test on loopback: 127.0.0.2 is the
 * allowed host, 127.0.0.3 the denied one, 127.0.0.4 a proxy, ::1 allowed.
 * Nothing is sent anywhere else.
 */
#ifndef CURLFENCE_GUARD_FIXTURE_H
#define CURLFENCE_GUARD_FIXTURE_H

#include "testutil.h"
#include "httpd.h"

#include <curl/curl.h>

typedef struct body {
  char data[256];
  size_t len;
} body;

/* The write callback that fills a body (cut to its size). */
size_t on_body(char *p, size_t size, size_t n, void *userdata);

/* The case's fixture: a guard on the rules of test.rules (line 2 allows
 * 127.0.0.2, line 3 denies 127.0.0.3, then the proxy 127.0.0.4 and ::1),
 * denied events recorded in rec, a server on each of 127.0.0.2 and
 * 127.0.0.3 on one port. */
extern curlfence_policy *policy;
extern curlfence_guard *guard;
extern tu_recorder rec;
extern th_server *allowed_srv, *denied_srv;
void guard_setup(void);
void guard_teardown(void);

/* An unguarded handle for url writing into b, with a timeout. */
CURL *new_handle(const char *url, body *b);

/* Fetch url on a fresh handle guarded with the given attach flags. */
CURLcode fetch_flags(const char *url, body *b, unsigned flags);

/* Fetch url on a fresh guarded handle. */
CURLcode fetch(const char *url, body *b);

/* Run h alone on m to its end and take it off m again: its result. */
CURLcode multi_run(CURLM *m, CURL *h);

/* http://host:PORT/path for server s. */
void url_for(char *buf, size_t size, const char *host, const th_server *s,
             const char *path);

/* One event was recorded: the denial of 127.0.0.3 (the denied server's
 * port) by line 3 of test.rules, at the given check. */
void assert_one_denial(curlfence_check check);

#endif
