/* SPDX-License-Identifier: MIT */
/* A strict checker of JSON text (RFC 8259) in UTF-8 (RFC 3629), for the
 * audit tests and the JSON fuzz harness. */
#ifndef CURLFENCE_JSON_CHECK_H
#define CURLFENCE_JSON_CHECK_H

#include <stddef.h>

/* 0 when s[0..n) is exactly one JSON object, with optional blanks around
 * it, and is well-formed UTF-8 throughout; otherwise -1, with *why (if not
 * NULL) naming the first problem and *at (if not NULL) its byte offset. */
int jc_check_object(const char *s, size_t n, const char **why, size_t *at);

#endif
