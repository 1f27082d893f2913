# SPDX-License-Identifier: MIT
# Fuzzing (included by the top Makefile).  One libFuzzer harness per
# test/fuzz/fuzz_NAME.c, with its seed corpus in test/fuzz/corpus/NAME/,
# crash reproducers in test/fuzz/regress/NAME/ and, if present, a
# dictionary test/fuzz/NAME.dict.  Every other .c here except replay.c is
# a helper linked into every harness.
#   make fuzz          build the harnesses with clang, libFuzzer, ASan, UBSan
#   make fuzz-smoke    run each for FUZZ_SECONDS (60); any crash, leak,
#                      timeout or mismatch fails.  New corpus entries and
#                      crash files go to FUZZ_WORK, never into the tree.
#   make fuzz-replay   (part of check) each harness without libFuzzer over
#                      its corpus and regress inputs, with $(CC)
# A crash file (FUZZ_WORK/NAME/crash-*) becomes a permanent test when
# copied to test/fuzz/regress/NAME/ under a name that says what it caught,
# next to the fix.  Longer runs: make fuzz-smoke FUZZ_SECONDS=3600.

FUZZ_CC      ?= clang
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_WORK    ?= $(FUZZ_BUILD)/work
FUZZ_SAN     = -fsanitize=address,undefined -fno-sanitize-recover=all \
               -fno-omit-frame-pointer
FUZZ_NAMES   = $(patsubst test/fuzz/fuzz_%.c,%,$(wildcard test/fuzz/fuzz_*.c))
FUZZ_HELPERS = $(filter-out test/fuzz/fuzz_%.c test/fuzz/replay.c,$(wildcard test/fuzz/*.c))
FUZZ_HDRS    = $(wildcard test/fuzz/*.h) $(LIB_HDRS)
FUZZ_BINS    = $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz_%)
REPLAY_BINS  = $(FUZZ_NAMES:%=$(BUILD)/fuzz-replay/fuzz_%)

.PHONY: fuzz fuzz-smoke fuzz-replay

fuzz: $(FUZZ_BINS)

# The library with coverage instrumentation and the same sanitizers, by
# the top Makefile's own rules (which, in that run, make this file).
ifneq ($(BUILD),$(FUZZ_BUILD))
$(FUZZ_BUILD)/libcurlfence-internal.a: $(LIB_SRCS) $(REVIEW_SRCS) $(LIB_HDRS)
	$(MAKE) $@ BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) OPT=-O1 \
	  SAN="-fsanitize=fuzzer-no-link $(FUZZ_SAN)"
endif

$(FUZZ_BUILD)/fuzz_%: test/fuzz/fuzz_%.c $(FUZZ_HELPERS) $(FUZZ_HDRS) $(FUZZ_BUILD)/libcurlfence-internal.a
	$(FUZZ_CC) $(CSTD) $(WARN) -O1 -g -fsanitize=fuzzer $(FUZZ_SAN) \
	  -Iinclude -Ilib -Itools -Itest/fuzz $(CURL_CFLAGS) $(JANSSON_CFLAGS) \
	  -o $@ $< $(FUZZ_HELPERS) $(FUZZ_TOOL_SRCS) \
	  $(FUZZ_BUILD)/libcurlfence-internal.a $(LIBDEPS) $(FUZZ_TOOL_LIBS)

# The audit-log reader belongs to the tool (tools/auditlog.c), and links
# jansson as the tool does.
$(FUZZ_BUILD)/fuzz_auditlog: tools/auditlog.c tools/auditlog.h
$(FUZZ_BUILD)/fuzz_auditlog: FUZZ_TOOL_SRCS = tools/auditlog.c
$(FUZZ_BUILD)/fuzz_auditlog: FUZZ_TOOL_LIBS = $(JANSSON_LIBS)
$(BUILD)/fuzz-replay/fuzz_auditlog: $(BUILD)/tools/auditlog.o
$(BUILD)/fuzz-replay/fuzz_auditlog: FUZZ_TOOL_LIBS = $(JANSSON_LIBS)

# Absolute paths: a harness may change its working directory.
fuzz-smoke: $(FUZZ_BINS)
	@set -e; for n in $(FUZZ_NAMES); do \
	  work=$(abspath $(FUZZ_WORK))/$$n; mkdir -p $$work; \
	  dict=; [ -f test/fuzz/$$n.dict ] && dict=-dict=$(abspath test/fuzz/$$n.dict); \
	  echo "fuzz-smoke: $$n for $(FUZZ_SECONDS) s"; \
	  $(abspath $(FUZZ_BUILD))/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) \
	    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 $$dict \
	    -artifact_prefix=$$work/ $$work $(abspath test/fuzz/corpus/$$n) \
	    2>$$work.log || { tail -60 $$work.log; \
	      echo "fuzz-smoke: $$n FAILED; input saved in $$work/"; exit 1; }; \
	  grep -E '^(stat::number_of_executed_units|stat::new_units_added|#[0-9]+ +DONE)' $$work.log || true; \
	done

$(BUILD)/fuzz-replay/%.o: test/fuzz/%.c $(FUZZ_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Ilib -Itools -Itest/fuzz -c $< -o $@

$(BUILD)/fuzz-replay/fuzz_%: $(BUILD)/fuzz-replay/fuzz_%.o $(BUILD)/fuzz-replay/replay.o \
    $(FUZZ_HELPERS:test/fuzz/%.c=$(BUILD)/fuzz-replay/%.o) $(INTLIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBDEPS) $(FUZZ_TOOL_LIBS)

.PRECIOUS: $(BUILD)/fuzz-replay/%.o

fuzz-replay: $(REPLAY_BINS)
	@set -e; for n in $(FUZZ_NAMES); do \
	  dirs=; for d in test/fuzz/corpus/$$n test/fuzz/regress/$$n; do \
	    [ -d $$d ] && dirs="$$dirs $$d"; done; \
	  $(BUILD)/fuzz-replay/fuzz_$$n $$dirs; \
	done
