/* SPDX-License-Identifier: MIT */
/* What every harness in test/fuzz/ defines: libFuzzer's entry point,
 * called once per input by libFuzzer (make fuzz) or by replay.c (make
 * check, no libFuzzer).  A harness reports a finding by crashing (abort),
 * so both drivers see it the same way. */
#ifndef CURLFENCE_FUZZ_H
#define CURLFENCE_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
