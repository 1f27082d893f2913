/* SPDX-License-Identifier: MIT */
/*
 * gen.h - deterministic synthetic rule tables for the benchmarks.
 *
 * The same case name and size always give the same rules and keys, so runs
 * on different days and machines compare.
 */
#ifndef CURLFENCE_BENCH_GEN_H
#define CURLFENCE_BENCH_GEN_H

#include <stddef.h>
#include <stdint.h>

/* the generator the tests use: the same inputs for the same seed */
#include "../test/rand.h"

typedef struct gen_rule {
  uint8_t addr[16];  /* network order, host bits clear */
  uint8_t v6;
  uint8_t plen;
  uint8_t allow;
  uint16_t port;     /* 0: any port */
} gen_rule;

typedef enum gen_kind {
  GEN_BGP4,      /* BGP-like IPv4: mostly /24, some /16-/23, few shorter */
  GEN_BLOCK4,    /* block list: 85% /32, deny */
  GEN_BGP6,      /* IPv6: mostly /32-/48 inside a few RIR blocks */
  GEN_POLICY     /* a ten-line hand-written-looking policy */
} gen_kind;


/* n rules of the given kind into a new array (free() it). */
gen_rule *gen_rules(gen_kind kind, size_t n, uint64_t seed);

/* Write rules as a rules file; returns 0 or -1 (errno set). */
int gen_write_file(const char *path, const gen_rule *r, size_t n,
                   int default_allow);

/* The "KEY:   N kB" line of a /proc file (status, smaps_rollup) in bytes;
 * 0 when absent. */
size_t gen_proc_kb(const char *file, const char *key);

/* One address inside rule r (random host bits). */
void gen_addr_inside(const gen_rule *r, uint64_t *state, uint8_t *out);

/* A uniformly random address of the family (IPv6: inside 2000::/3, where
 * all of the IPv6 rules are; uniform over all 2^128 would miss them all). */
void gen_addr_random(int v6, uint64_t *state, uint8_t *out);

#endif
