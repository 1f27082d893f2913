/* SPDX-License-Identifier: MIT */
/* Shared helpers for the Check suites. */
#ifndef CURLFENCE_TESTUTIL_H
#define CURLFENCE_TESTUTIL_H

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "curlfence.h"

/* The registry of tests.  A test file names its suite once (TU_SUITE),
 * declares its cases (TU_CASE: name, timeout in seconds or 0 for Check's
 * default, a checked fixture or NULLs) and defines each test with
 * TU_TEST(case, name) or TU_LOOP(case, name, lo, hi) where Check has
 * START_TEST; END_TEST closes it as usual.  Each test puts a pointer to
 * its entry in the section tu_tests, and main.c runs every test linked
 * into the program: no list is kept anywhere else.  A file whose suite
 * uses the library's internals (cf_*, test hooks) names it with
 * TU_SUITE_STATIC_ONLY: the Makefile reads that name and links the file
 * into check_curlfence only, not into the program that runs against
 * libcurlfence.so.  test/suites.sh checks the registry. */
typedef struct tu_suite {
  const char *name;
  void (*init)(void);         /* NULL, or run once as the suite is built,
                                 in the runner's process */
} tu_suite;

typedef struct tu_case {
  const tu_suite *suite;
  const char *name;
  int timeout;
  void (*setup)(void);
  void (*teardown)(void);
  int line;                   /* cases run in the order they are declared */
} tu_case;

typedef struct tu_entry {
  const tu_case *tcase;
  const TTest *const *test;   /* the name START_TEST defines; its file
                                 and line order the tests */
  int loop, lo, hi;           /* loop: run for _i in [lo, hi) */
} tu_entry;

#define TU_SUITE(name, init) \
  static const tu_suite tu_suite_ = { (name), (init) }
#define TU_SUITE_STATIC_ONLY(name, init) TU_SUITE(name, init)

#define TU_CASE(var, name, timeout, setup, teardown) \
  static const tu_case var = { &tu_suite_, (name), (timeout), (setup), \
                               (teardown), __LINE__ }

/* START_TEST(t) defines the variable t, declared ahead here so that the
 * entry can point at it.  The section holds pointers, all of one size, so
 * that the linker's __start_tu_tests..__stop_tu_tests is an array. */
#define TU_ENTRY_(tc, t, loop, lo, hi) \
  static const TTest *t; \
  static const tu_entry t##_entry = { &(tc), &t, (loop), (lo), (hi) }; \
  __attribute__((used, section("tu_tests"))) \
  static const tu_entry *t##_registered = &t##_entry; \
  START_TEST(t)
#define TU_TEST(tc, t) TU_ENTRY_(tc, t, 0, 0, 0)
#define TU_LOOP(tc, t, lo, hi) TU_ENTRY_(tc, t, 1, lo, hi)

/* Every test registered in the program, as one Check runner. */
SRunner *tu_runner(void);

/* Fill ss with the numeric address text and port; returns its length. */
socklen_t tu_sockaddr(struct sockaddr_storage *ss, const char *addr,
                      unsigned port);

/* Decide addr:port against p. */
curlfence_action tu_decide(const curlfence_policy *p, const char *addr,
                           unsigned port, curlfence_verdict *v);

/* Load rules from a string; fails the test with the error text if the
 * rules do not load. */
curlfence_policy *tu_load(const char *text);

/* A decision a test expects: addr:port gets action from the rule on line
 * (0: the built-in default), for reason. */
typedef struct tu_want {
  const char *addr;
  unsigned port;
  curlfence_action action;
  unsigned line;
  const char *reason;
} tu_want;

/* Each of the n decisions of p, loaded from text as test.rules: the
 * action with and without a verdict, the reason, and the rule: its line,
 * its file, its text (that line of text, or "default deny (built-in)")
 * and whether it is the default. */
void tu_want_each(const curlfence_policy *p, const char *text,
                  const tu_want *want, size_t n);


/* An audit callback that keeps the first TU_MAX_EVENTS events and counts
 * them all; userdata is a tu_recorder. */
#define TU_MAX_EVENTS 16
typedef struct tu_recorder {
  int n;
  curlfence_event ev[TU_MAX_EVENTS];
  /* curlfence_event_name() of each: NULL, or pointing into host[] and
   * url[] */
  const char *hostp[TU_MAX_EVENTS], *urlp[TU_MAX_EVENTS];
  char host[TU_MAX_EVENTS][256];
  char url[TU_MAX_EVENTS][1024];
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

/* The 32- and 64-bit words at byte off of buf, in host order, wherever
 * they are aligned (the image tests read fields of compiled images). */
uint32_t tu_get32(const unsigned char *buf, size_t off);
uint64_t tu_get64(const unsigned char *buf, size_t off);

/* Nonzero when the suites should run their short variants. */
int tu_quick(void);

/* Write text to path, replacing it; fails the test when it cannot. */
void tu_write_text(const char *path, const char *text);

#endif
