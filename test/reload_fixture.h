/* SPDX-License-Identifier: MIT */
/*
 * The fixture of the reload suites (test/test_reload*.c): real libcurl
 * transfers to a server on loopback, 127.0.0.3, the host whose fate the
 * rules decide, and a scratch directory for the rules file.
 */
#ifndef CURLFENCE_RELOAD_FIXTURE_H
#define CURLFENCE_RELOAD_FIXTURE_H

#include "testutil.h"
#include "httpd.h"

#include <curl/curl.h>

extern th_server *target_srv;
extern char reload_dir[64], app_rules[128], target_url[128];

/* The scratch directory and the server on 127.0.0.3. */
void reload_setup(void);
/* For tests that fork: no server threads may exist when they do, or a
 * child can inherit a lock held by one of them. */
void reload_setup_no_server(void);
void reload_teardown(void);

/* One guarded transfer to the test server; returns libcurl's code. */
CURLcode transfer(curlfence_guard *g, unsigned flags, size_t *got);

/* A guard on text, loaded from the rules file. */
curlfence_guard *guard_from_file(const char *text);

/* 127.0.0.3 denied, then allowed. */
extern const char deny_rules[], allow_rules[];

#endif
