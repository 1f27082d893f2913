/* SPDX-License-Identifier: MIT */
/*
 * The fixture of the preload suites (test/test_preload*.c): real programs
 * started, mostly through `curlfence run`, against two servers on one
 * port, 127.0.0.2 (allowed) and 127.0.0.3 (denied by a rule), in a
 * scratch directory of their own.
 */
#ifndef CURLFENCE_PRELOAD_FIXTURE_H
#define CURLFENCE_PRELOAD_FIXTURE_H

#include "testutil.h"
#include "httpd.h"

#include <limits.h>
#include <stddef.h>

#define OUT_MAX 65536

extern th_server *allowed, *denied;
extern unsigned port;
extern char tmp[PATH_MAX];       /* scratch directory of the test */
extern char rules[PATH_MAX + 16];   /* its rules: 127.0.0.2 only */
extern char preload[PATH_MAX + 32]; /* this build's preload library */
extern char tool[PATH_MAX + 32];    /* this build's curlfence */

typedef struct result {
  int status;                    /* exit status, or 128 + signal */
  char out[OUT_MAX];
  char err[OUT_MAX];
} result;

/* The program's exit status and output, for assertion messages; the
 * second with the name of the table row that ran it. */
#define SAYS(r) "status %d\nstdout: %s\nstderr: %s", (r)->status, (r)->out, \
                (r)->err
#define ROW_SAYS(row, r) "%s: status %d\nstdout: %s\nstderr: %s", \
                         (row)->name, (r)->status, (r)->out, (r)->err

/* What a table row says a server saw: REQUESTS(n), or 0 for "not
 * asserted". */
#define REQUESTS(n) ((n) + 1)

/* The result of the test's runs, made by setup() and freed by teardown(). */
extern result *res;

/* The case's fixture: the servers, the rules, the scratch directory and
 * res. */
void setup(void);
void teardown(void);

/* The file's text in buf (empty when it cannot be read). */
void read_file(const char *path, char *buf, size_t size);

/* Run argv (argv[0] looked up in PATH) with the extra environment
 * ("NAME=value", NULL-terminated) added to ours without proxies or
 * preload settings, stdin from /dev/null, and collect its exit status and
 * output. */
void run(result *r, const char *const *extra, const char *const *argv);

/* As run, for a program that must exist: a missing one fails the test. */
void guarded(result *r, const char *const *extra, const char *const *argv);

/* run() and guarded() whose exit status must be status. */
void run_status(result *r, const char *const *extra, const char *const *argv,
                int status);
void guarded_status(result *r, const char *const *extra,
                    const char *const *argv, int status);

/* BUILD/test/NAME, next to this program. */
void sibling(char *buf, size_t size, const char *name);

/* http://host:PORT/path, in one of 8 rotating buffers. */
char *url(const char *host, const char *path);

/* s with each placeholder @K, K a letter of keys, replaced by the value of
 * the same index, in buf; fails the test when it does not fit. */
const char *expand(char *buf, size_t size, const char *s, const char *keys,
                   const char *const *values);

/* Fail the test (naming the row and the server) unless s saw want - 1
 * requests; want 0 asserts nothing. */
void requests_are(const char *row, const char *which, th_server *s,
                  unsigned want);

/* dir = tmp/name, made, for a script that builds a mount and network
 * namespace of its own; 0 (the test skipped, saying so) when we are not
 * root, which new namespaces need (CI runs the suites as root; a package
 * build may not). */
int namespace_dir(char *dir, size_t size, const char *name, const char *test);

#endif
