/* SPDX-License-Identifier: MIT */
/*
 * util.h - small helpers every layer shares, written once (util.c): array
 * growth, prefix comparison and masking, and the RFC 6052 extraction.
 * Part of the engine (included by engine.h): libc only.
 */
#ifndef CURLFENCE_UTIL_H
#define CURLFENCE_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Grow the array *pp (a pointer to the array pointer; *cap elements of
 * size elem allocated) to hold at least want elements, doubling from 16.
 * 0 on success; -1 when out of memory or when the size would overflow,
 * with *pp and *cap unchanged. */
int cf_grow(void *pp, size_t *cap, size_t want, size_t elem);

/* Whether the first plen bits of a and b are equal (plen 0 to 128). */
int cf_prefix_equal(const uint8_t *a, const uint8_t *b, unsigned plen);

/* The first plen bits of addr into out (bytes long), the bits after them
 * zero; out may be addr. */
void cf_prefix_mask(uint8_t *out, const uint8_t *addr, unsigned plen,
                    size_t bytes);

/* The IPv4 address embedded in addr by the RFC 6052 layout of a /plen
 * prefix: the 4 bytes after the prefix, byte 8 (the "u" octet) skipped. */
void cf_nat64_extract(unsigned plen, const uint8_t *addr, uint8_t *out4);

#endif
