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
TOOL_SRCS = $(wildcard tools/*.c)
TOOL_OBJS = $(TOOL_SRCS:%.c=$(BUILD)/%.o)
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

# The tool: one object per tools/*.c (a new subcommand is a new file),
# linked statically so it runs from the source tree.
$(BUILD)/tools/%.o: tools/%.c tools/cli.h include/curlfence.h lib/internal.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Ilib -c $< -o $@

$(TOOL): $(TOOL_OBJS) $(STLIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $(TOOL_OBJS) $(STLIB) $(LIBDEPS)

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
DPDK_CFLAGS = $(shell $(PKG_CONFIG) --cflags libdpdk 2>/dev/null)
DPDK_LIBS   = $(shell $(PKG_CONFIG) --libs libdpdk 2>/dev/null)

.PHONY: bench bench-dpdk bench-build

# Builds the benchmark without running it (CI keeps it compiling).
bench-build: $(BENCH_BIN)

$(BENCH_BIN): $(BENCH_SRCS) bench/gen.h lib/internal.h $(STLIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Ilib -o $@ $(BENCH_SRCS) $(STLIB) $(LDFLAGS_ALL) $(LIBDEPS)

$(BENCH_DPDK_BIN): $(BENCH_SRCS) bench/gen.h lib/internal.h $(STLIB)
	@mkdir -p $(@D)
	@$(PKG_CONFIG) --exists libdpdk || { echo "bench-dpdk: apt-get install libdpdk-dev"; exit 1; }
	$(CC) $(CFLAGS_ALL) -std=gnu11 -Wno-pedantic -DCF_BENCH_DPDK -Ilib $(DPDK_CFLAGS) \
	  -o $@ $(BENCH_SRCS) $(STLIB) $(LDFLAGS_ALL) $(DPDK_LIBS) $(LIBDEPS)

bench: $(BENCH_BIN)
	$(BENCH_BIN)

bench-dpdk: $(BENCH_DPDK_BIN)
	$(BENCH_DPDK_BIN)

# ---------------------------------------------------------------- preload
# libcurlfence-preload.so (preload/): the guard for unmodified libcurl
# programs, through LD_PRELOAD.  It links the library's objects except
# attach.c, the only code that calls libcurl: the preload reaches each
# program's own libcurl at run time and must not depend on either flavour.
# It is compiled without $(SAN), because it is loaded into programs that
# are not built with a sanitizer; its objects have their own directory.
# PRELOAD_RULES is the default rules file when CURLFENCE_RULES is unset
# and the library is not running from a source tree.
PRELOAD_RULES ?= /etc/curlfence/default.rules
# Where `curlfence run` looks for the library when it is not beside the tool.
PRELOAD_PATH ?= /usr/local/lib/libcurlfence-preload.so
PRELOAD      = $(BUILD)/libcurlfence-preload.so
PRELOAD_SRCS = $(wildcard preload/*.c) $(filter-out lib/attach.c,$(LIB_SRCS))
PRELOAD_OBJS = $(PRELOAD_SRCS:%.c=$(BUILD)/preload-obj/%.o)
PRELOAD_CFLAGS = $(CSTD) $(WARN) $(OPT) -g -Iinclude -Ilib $(CURL_CFLAGS) \
  $(CFLAGS) -fPIC -fvisibility=hidden \
  -DCURLFENCE_PRELOAD_RULES='"$(PRELOAD_RULES)"'

all: $(PRELOAD)

$(BUILD)/tools/run.o: CFLAGS_ALL += -DCURLFENCE_PRELOAD_PATH='"$(PRELOAD_PATH)"'

$(BUILD)/preload-obj/%.o: %.c include/curlfence.h lib/internal.h preload/preload.h
	@mkdir -p $(@D)
	$(CC) $(PRELOAD_CFLAGS) -c $< -o $@

$(PRELOAD): $(PRELOAD_OBJS) preload/exports.map
	$(CC) -shared -Wl,--no-undefined -Wl,--version-script=preload/exports.map \
	  $(LDFLAGS) -o $@ $(PRELOAD_OBJS) -lpthread -ldl

# A threaded libcurl program for test/test_preload.c, twice: plain (the
# suite runs it under the preload library) and with the preload's objects
# linked in and built with $(SAN), so `make tsan` and `make asan` see the
# preload's own code.
PRELOAD_THREADS = $(BUILD)/test/preload-threads
PRELOAD_LINKED  = $(BUILD)/test/preload-threads-linked
PRELOAD_SAN_OBJS = $(patsubst %.c,$(BUILD)/preload-san/%.o,$(wildcard preload/*.c)) \
  $(filter-out $(BUILD)/lib/attach.o,$(LIB_OBJS))

$(BUILD)/preload-san/%.o: %.c include/curlfence.h lib/internal.h preload/preload.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Ilib -fPIC -fvisibility=hidden -c $< -o $@

$(PRELOAD_THREADS): test/prog/preload_threads.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(LDFLAGS_ALL) $(CURL_LIBS) -lpthread

$(PRELOAD_LINKED): test/prog/preload_threads.c $(PRELOAD_SAN_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(PRELOAD_SAN_OBJS) $(LDFLAGS_ALL) \
	  $(CURL_LIBS) -lpthread -ldl

check valgrind: $(PRELOAD_THREADS) $(PRELOAD_LINKED)

# Start-up cost of the preload library under curl (bench/preload_start.c),
# part of `make bench`.
PRELOAD_BENCH = $(BUILD)/bench/preload-start

$(PRELOAD_BENCH): bench/preload_start.c test/httpd.c test/httpd.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -o $@ bench/preload_start.c test/httpd.c $(LDFLAGS_ALL) -lpthread

bench-build: $(PRELOAD_BENCH)

bench: bench-preload

.PHONY: bench-preload
bench-preload: $(PRELOAD_BENCH) $(PRELOAD)
	$(PRELOAD_BENCH) $(PRELOAD) $(CURDIR)/rules
