# curlfence - see README.md.  Targets:
#   make            libcurlfence.so (+ soname link), libcurlfence.a, tools/curlfence
#   make check      build and run every Check suite
#   make asan       the suites under AddressSanitizer + UndefinedBehaviorSanitizer
#   make tsan       the suites under ThreadSanitizer
#   make valgrind   the suites under valgrind memcheck, failing on any error or leak
#   make compilers  warning-clean build with both gcc and clang
#   make demo       fetch through the filter: allowed and blocked URLs
#   make bench      benchmarks (never part of check); bench-dpdk also times DPDK

VERSION    = 0.1.0
SOVERSION  = 0
CC        ?= cc
BUILD     ?= build
OPT       ?= -O2
SAN       ?=
PKG_CONFIG ?= pkg-config

WARN      = -Wall -Wextra -Wpedantic -Werror
CSTD      = -std=c11 -D_GNU_SOURCE
CURL_CFLAGS := $(shell $(PKG_CONFIG) --cflags libcurl 2>/dev/null)
CURL_LIBS   := $(shell $(PKG_CONFIG) --libs libcurl 2>/dev/null || echo -lcurl)
CHECK_CFLAGS := $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell $(PKG_CONFIG) --libs check 2>/dev/null || echo -lcheck)

CFLAGS_ALL = $(CSTD) $(WARN) $(OPT) -g $(SAN) -Iinclude $(CURL_CFLAGS) $(CFLAGS)
LDFLAGS_ALL = $(SAN) $(LDFLAGS)
LIBDEPS   = -lcidr $(CURL_LIBS) -lpthread

LIB_SRCS  = $(wildcard lib/*.c)
LIB_OBJS  = $(LIB_SRCS:%.c=$(BUILD)/%.o)
TEST_SRCS = $(wildcard test/*.c)
TEST_OBJS = $(TEST_SRCS:%.c=$(BUILD)/%.o)
SONAME    = libcurlfence.so.$(SOVERSION)

SHLIB     = $(BUILD)/libcurlfence.so.$(VERSION)
STLIB     = $(BUILD)/libcurlfence.a
TESTBIN   = $(BUILD)/test/check_curlfence
TOOL      = tools/curlfence

.PHONY: all check asan tsan valgrind compilers demo clean

all: $(SHLIB) $(BUILD)/libcurlfence.so $(STLIB) $(TOOL)

$(BUILD)/lib/%.o: lib/%.c include/curlfence.h lib/internal.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -fPIC -fvisibility=hidden -c $< -o $@

$(SHLIB): $(LIB_OBJS)
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--no-undefined $(LDFLAGS_ALL) \
	  -o $@ $(LIB_OBJS) $(LIBDEPS)
	ln -sf $(notdir $@) $(BUILD)/$(SONAME)

$(BUILD)/libcurlfence.so: $(SHLIB)
	ln -sf $(notdir $(SHLIB)) $@

$(STLIB): $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $(LIB_OBJS)

# The tool links the static library so it runs from the source tree.
$(TOOL): tools/curlfence.c include/curlfence.h $(STLIB)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(STLIB) $(LDFLAGS_ALL) $(LIBDEPS)

$(BUILD)/test/%.o: test/%.c include/curlfence.h lib/internal.h test/testutil.h test/httpd.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(CHECK_CFLAGS) -Ilib -c $< -o $@

$(TESTBIN): $(TEST_OBJS) $(STLIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $(TEST_OBJS) $(STLIB) $(CHECK_LIBS) $(LIBDEPS)

check: all $(TESTBIN)
	test/exports.sh $(SHLIB)
	test/tool.sh
	$(TESTBIN)

asan:
	$(MAKE) check BUILD=build-asan OPT=-O1 \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"

tsan:
	$(MAKE) check BUILD=build-tsan OPT=-O1 SAN="-fsanitize=thread"

# CK_FORK=no keeps every test in one process so leaks are seen; the quick
# flag shortens the randomised tests, which are slow under memcheck.
valgrind: all $(TESTBIN)
	CK_FORK=no CURLFENCE_TEST_QUICK=1 valgrind --quiet --error-exitcode=99 \
	  --leak-check=full --show-leak-kinds=definite,indirect,possible \
	  --errors-for-leak-kinds=definite,indirect,possible \
	  --track-fds=no $(TESTBIN)

demo: all
	tools/demo

compilers:
	$(MAKE) all BUILD=build-gcc CC=gcc
	$(MAKE) all BUILD=build-clang CC=clang

clean:
	rm -rf build build-asan build-tsan build-gcc build-clang $(TOOL)

# ---------------------------------------------------------------- engine
# Benchmarks of the compiled table (bench/, branch engine).  Never part of
# check.  bench-dpdk also times DPDK rte_lpm/rte_lpm6 in the same process
# (apt-get install libdpdk-dev); DPDK's headers want gnu11 and SSE4.2, so
# only that binary gets them.
BENCH_SRCS  = bench/bench.c bench/gen.c
BENCH_BIN   = $(BUILD)/bench/bench
BENCH_DPDK_BIN = $(BUILD)/bench/bench-dpdk
BENCH_IMAGE_BIN = $(BUILD)/bench/bench-image
DPDK_CFLAGS = $(shell $(PKG_CONFIG) --cflags libdpdk 2>/dev/null)
DPDK_LIBS   = $(shell $(PKG_CONFIG) --libs libdpdk 2>/dev/null)

.PHONY: bench bench-dpdk bench-build

# Builds the benchmark without running it (CI keeps it compiling).
bench-build: $(BENCH_BIN) $(BENCH_IMAGE_BIN)

# Compiled images against rules text (bench/image.c).
$(BENCH_IMAGE_BIN): bench/image.c bench/gen.c bench/gen.h lib/internal.h $(STLIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Ilib -o $@ bench/image.c bench/gen.c $(STLIB) $(LDFLAGS_ALL) $(LIBDEPS)

$(BENCH_BIN): $(BENCH_SRCS) bench/gen.h lib/internal.h $(STLIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Ilib -o $@ $(BENCH_SRCS) $(STLIB) $(LDFLAGS_ALL) $(LIBDEPS)

$(BENCH_DPDK_BIN): $(BENCH_SRCS) bench/gen.h lib/internal.h $(STLIB)
	@mkdir -p $(@D)
	@$(PKG_CONFIG) --exists libdpdk || { echo "bench-dpdk: apt-get install libdpdk-dev"; exit 1; }
	$(CC) $(CFLAGS_ALL) -std=gnu11 -Wno-pedantic -DCF_BENCH_DPDK -Ilib $(DPDK_CFLAGS) \
	  -o $@ $(BENCH_SRCS) $(STLIB) $(LDFLAGS_ALL) $(DPDK_LIBS) $(LIBDEPS)

bench: $(BENCH_BIN) $(BENCH_IMAGE_BIN)
	$(BENCH_BIN)
	$(BENCH_IMAGE_BIN)

bench-dpdk: $(BENCH_DPDK_BIN)
	$(BENCH_DPDK_BIN)
