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

Suite *suite_table(void);  /* test_table.c, branch engine */
Suite *suite_rules(void);
Suite *suite_rules_internal(void); /* internals: static run only */
Suite *suite_policy(void);
Suite *suite_default_rules(void);
Suite *suite_guard(void);
Suite *suite_guard_internal(void); /* internals: static run only */
Suite *suite_reload(void);
Suite *suite_audit_json(void);
Suite *suite_diff(void);    /* test_diff.c */
Suite *suite_preload(void);
Suite *suite_nat64(void);  /* test_nat64.c */
Suite *suite_nat64_internal(void);
Suite *suite_image(void);
Suite *suite_image_nat64(void); /* internals */
Suite *suite_util(void);   /* internals */

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
