/* SPDX-License-Identifier: MIT */
/* A tiny HTTP/1.1 server for the integration tests.  It only ever listens
 * (loopback TCP or AF_UNIX), never connects anywhere.
 *
 * Routes:
 *   GET /redirect?to=URL  302, "Location: URL" (raw, undecoded),
 *                         body "redirect\n"
 *   anything else         200, text/plain, body "hello from NAME\n"
 * HEAD gets the same headers without a body.  th_set_root() serves files
 * instead.  Absolute-form targets (proxy
 * requests, "http://host:port/path") are routed by their path.
 *
 * Connections are kept alive (several requests per connection) until the
 * client closes, asks for "Connection: close", or is idle for 2 s.  Each
 * connection gets its own thread; all are joined by th_stop(). */
#ifndef CURLFENCE_TEST_HTTPD_H
#define CURLFENCE_TEST_HTTPD_H

#include <stddef.h>

typedef struct th_server th_server;

/* Listen on numeric loopback addr ("127.x.y.z" or "::1") at an ephemeral
 * port; NULL on failure or for any non-loopback address.  name (NULL means
 * "httpd") appears in response bodies. */
th_server *th_start(const char *addr, const char *name);

/* Like th_start() on a given port (0: ephemeral). */
th_server *th_start_port(const char *addr, unsigned port, const char *name);

/* Two servers on one port, on addresses a and b, so that one name can
 * resolve to either.  The port is ephemeral on a; when something else
 * holds it on b, another one is tried.  Returns 0, or -1 with both NULL. */
int th_start_pair(const char *a, const char *name_a, th_server **sa,
                  const char *b, const char *name_b, th_server **sb);

/* Listen on an AF_UNIX socket at path (must not exist yet; removed again by
 * th_stop). */
th_server *th_start_unix(const char *path, const char *name);

/* Serve the files under dir (a path without a trailing slash): GET and
 * HEAD of "/a/b?query" answer with dir/a/b as application/octet-stream,
 * or 404 when it is not a regular file; the other routes are gone.  For
 * git's dumb HTTP protocol. */
void th_set_root(th_server *s, const char *dir);

/* The TCP port, or 0 for an AF_UNIX server. */
unsigned th_port(const th_server *s);

/* Connections accepted so far, whatever they then sent (a TLS handshake
 * counts too). */
unsigned th_connections(const th_server *s);

/* Complete request heads received so far. */
unsigned th_requests(const th_server *s);

/* The request-target of the most recent request ("" before any), truncated
 * to fit and always NUL-terminated when size > 0.  It is stored before the
 * request is counted, so after seeing th_requests() == n this returns the
 * target of request n or a later one. */
void th_last_target(th_server *s, char *buf, size_t size);

/* Close the listener and every connection, join all threads, free s.
 * NULL is fine. */
void th_stop(th_server *s);

#endif
