/* SPDX-License-Identifier: MIT */
/*
 * callgrind.h - the instruction counts the benchmarks take from callgrind.
 */
#ifndef CURLFENCE_BENCH_CALLGRIND_H
#define CURLFENCE_BENCH_CALLGRIND_H

/* The "totals:" figure of callgrind's output file path, the last when it
 * has several; 0 when the file cannot be read or has none, which no run
 * that executed anything gives. */
unsigned long long bench_callgrind_totals(const char *path);

#endif
