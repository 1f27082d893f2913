/* SPDX-License-Identifier: MIT */
/* Shared helpers for the Check suites. */
#ifndef CURLFENCE_TESTUTIL_H
#define CURLFENCE_TESTUTIL_H

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/socket.h>

#include "curlfence.h"

/* The registry of suites.  Each test file ends with its suite as tables
 * (the tests of each case, the cases) and one TU_SUITE line; main.c runs
 * every suite registered in the program, in link order.  A file whose
 * suite uses the library's internals (cf_*, test hooks) registers it with
 * TU_SUITE_STATIC_ONLY instead: the Makefile reads that name and links
 * the file into check_curlfence only, not into the program that runs
 * against libcurlfence.so. */
typedef struct tu_test {
  const TTest *const *test;   /* the name START_TEST defined */
  int loop, lo, hi;           /* loop: run for _i in [lo, hi) */
} tu_test;

#define TU_TEST(t) { &(t), 0, 0, 0 }
#define TU_LOOP(t, lo, hi) { &(t), 1, (lo), (hi) }
#define TU_END { NULL, 0, 0, 0 }

typedef struct tu_case {
  const char *name;
  int timeout;                /* seconds; 0: Check's default */
  void (*setup)(void);        /* a checked fixture, or NULL */
  void (*teardown)(void);
  const tu_test *tests;       /* up to TU_END */
} tu_case;

#define TU_CASES_END { NULL, 0, NULL, NULL, NULL }

typedef struct tu_suite {
  const char *name;
  const tu_case *cases;       /* up to TU_CASES_END */
  void (*init)(void);         /* NULL, or run once before the suite is
                                 built (in the runner's process) */
} tu_suite;

/* One per file.  The pointer goes to the section tu_suites, whose bounds
 * the linker provides (__start_tu_suites, __stop_tu_suites). */
#define TU_SUITE(name, cases, init) \
  static const tu_suite tu_suite_ = { (name), (cases), (init) }; \
  __attribute__((used, section("tu_suites"))) \
  static const tu_suite *tu_suite_entry_ = &tu_suite_
#define TU_SUITE_STATIC_ONLY(name, cases, init) TU_SUITE(name, cases, init)

/* The Check suite of a registry entry. */
Suite *tu_suite_build(const tu_suite *s);

/* Fill ss with the numeric address text and port; returns its length. */
socklen_t tu_sockaddr(struct sockaddr_storage *ss, const char *addr,
                      unsigned port);

/* Decide addr:port against p. */
curlfence_action tu_decide(const curlfence_policy *p, const char *addr,
                           unsigned port, curlfence_verdict *v);

/* Load rules from a string; fails the test with the error text if the
 * rules do not load. */
curlfence_policy *tu_load(const char *text);

/* An audit callback that keeps the first TU_MAX_EVENTS events and counts
 * them all; userdata is a tu_recorder. */
#define TU_MAX_EVENTS 16
typedef struct tu_recorder {
  int n;
  curlfence_event ev[TU_MAX_EVENTS];
} tu_recorder;

int tu_record(const curlfence_event *ev, void *userdata);

/* A one-shot TFTP server on loopback: answers one read request with one
 * short data block ("hello over udp\n") and waits for its
 * acknowledgement. */
typedef struct tu_tftp {
  int fd;
  unsigned port;
  pthread_t thread;
  atomic_int requests, acked;
} tu_tftp;

void tu_tftp_start(tu_tftp *t, const char *addr);
void tu_tftp_stop(tu_tftp *t);

/* A host name other than "localhost" that the system resolver answers from
 * /etc/hosts with a loopback address, so resolving it sends nothing (libcurl
 * resolves "localhost" itself, without DoH).  Empty when there is none. */
void tu_loopback_hosts_name(char *name, size_t size);

/* Nonzero when the suites should run their short variants. */
int tu_quick(void);

/* Write text to path, replacing it; fails the test when it cannot. */
void tu_write_text(const char *path, const char *text);

#endif
