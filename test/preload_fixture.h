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

/* The program's exit status and output, for assertion messages. */
#define SAYS(r) "status %d\nstdout: %s\nstderr: %s", (r)->status, (r)->out, \
                (r)->err

/* The case's fixture: the servers, the rules and the scratch directory. */
void setup(void);
void teardown(void);

/* A zeroed result; fails the test when out of memory. */
result *new_result(void);

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

#endif
