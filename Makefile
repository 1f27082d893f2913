# SPDX-License-Identifier: MIT
# curlfence - see README.md.  Targets:
#   make            libcurlfence.so (+ soname link), libcurlfence.a, the curlfence tool
#   make check      build and run every test: Check suites (static and shared),
#                   exported symbols, the tool, install and uninstall
#   make asan       the suites under AddressSanitizer + UndefinedBehaviorSanitizer
#   make tsan       the suites under ThreadSanitizer
#   make valgrind   the suites under valgrind memcheck, failing on any error or leak
#   make compilers  warning-clean build with both gcc and clang
#   make checksrc   the code style of docs/style.md (part of check)
#   make demo       fetch through the filter: allowed and blocked URLs
#   make install    DESTDIR and the GNU directory variables (prefix,
#                   exec_prefix, bindir, libdir, libexecdir, includedir,
#                   sysconfdir, datadir, mandir), or their upper-case forms
#   make uninstall  removes what install put there
#   make install-test  the install test alone, into temporary directories
#   make dist       curlfence-VERSION.tar.gz of the tracked files;
#                   distcheck builds and checks it outside git
#   make deb        the Debian packages (debian/), into build/deb/
#   make bench      benchmarks (never part of check); bench-dpdk also times DPDK
#   make fuzz       libFuzzer harnesses; fuzz-smoke runs each (test/fuzz/fuzz.mk)
#
# The file is in sections, each under a "# ----" line: build settings,
# the library, the tool, the preload library, what `make` builds, tests,
# sanitizers and memcheck, fuzzing (test/fuzz/fuzz.mk), benchmarks,
# install, release.  Every object is compiled by one recipe (COMPILE)
# from the pattern rule of its build directory, with that directory's
# flags and a dependency file.
#
# CPPFLAGS, CFLAGS and LDFLAGS from the command line or the environment are
# added after our own flags.  -Werror is on unless WERROR=0 (distribution
# builds: a newer compiler's new warning must not fail them).  Every build
# directory (BUILD=build, build-asan, ...) holds its own objects, libraries
# and tool; tools/curlfence is a link to the default build's tool.

# ---------------------------------------------------------------- build settings
# The version is the header's: one place for the library, the tool, the
# file names and the packages.
VERSION   := $(shell sed -n 's/^\#define CURLFENCE_VERSION "\(.*\)"$$/\1/p' include/curlfence.h)
SOVERSION  = 0
CC        ?= cc
LD        ?= ld
OBJCOPY   ?= objcopy
BUILD     ?= build
OPT       ?= -O2
SAN       ?=
WERROR    ?= 1
PKG_CONFIG ?= pkg-config

# The GNU directory variables, as dh, autotools and Meson users pass them,
# and the upper-case forms this Makefile always read; an upper-case one
# wins over its lower-case one, which wins over the default.  Every path
# compiled into the tool and the preload library comes from these.
PREFIX      ?= /usr/local
prefix      ?= $(PREFIX)
exec_prefix ?= $(prefix)
bindir      ?= $(exec_prefix)/bin
libdir      ?= $(exec_prefix)/lib
libexecdir  ?= $(exec_prefix)/libexec
includedir  ?= $(prefix)/include
sysconfdir  ?= $(prefix)/etc
datarootdir ?= $(prefix)/share
datadir     ?= $(datarootdir)
mandir      ?= $(datarootdir)/man
BINDIR     ?= $(bindir)
LIBDIR     ?= $(libdir)
LIBEXECDIR ?= $(libexecdir)
INCLUDEDIR ?= $(includedir)
SYSCONFDIR ?= $(sysconfdir)
DATADIR    ?= $(datadir)
MANDIR     ?= $(mandir)
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
# Private files: the preload library and the default rules' image.
PKGLIBDIR  ?= $(LIBDIR)/curlfence
# The libcurl side of the tool (see FETCH below), run by the tool only.
PKGLIBEXECDIR ?= $(LIBEXECDIR)/curlfence
INSTALL    ?= install
.DEFAULT_GOAL := all

WARN      = -Wall -Wextra -Wpedantic $(if $(filter 0,$(WERROR)),,-Werror)
CSTD      = -std=c11 -D_GNU_SOURCE
CURL_CFLAGS := $(shell $(PKG_CONFIG) --cflags libcurl libidn2 libpsl 2>/dev/null)
CURL_LIBS   := $(shell $(PKG_CONFIG) --libs libcurl 2>/dev/null || echo -lcurl)
CHECK_CFLAGS := $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell $(PKG_CONFIG) --libs check 2>/dev/null || echo -lcheck)

# No build directory in any object, debug information included, so builds
# from different directories are identical (test/repro.sh).
REPRO     = -ffile-prefix-map=$(CURDIR)=.
# The flags of every C file, with the sanitizer flags $(1): ours, then the
# caller's, and a dependency file next to the object (-MMD).
cflags    = $(CSTD) $(WARN) $(OPT) -g $(REPRO) $(1) -Iinclude $(CURL_CFLAGS) \
            $(CPPFLAGS) $(CFLAGS) -MMD -MP
CFLAGS_ALL = $(call cflags,$(SAN))
LDFLAGS_ALL = $(SAN) $(LDFLAGS)
# libidn2 and libpsl check the names of host rules (IDN, public
# suffixes); Debian's libcurl loads both already.
IDN_LIBS  := $(shell $(PKG_CONFIG) --libs libidn2 libpsl 2>/dev/null || echo -lidn2 -lpsl)
LIBDEPS   = -lcidr $(IDN_LIBS) $(CURL_LIBS) -lpthread
# jansson reads audit logs in the tool (report, learn); the library and
# the preload never link it.
JANSSON_CFLAGS := $(shell $(PKG_CONFIG) --cflags jansson 2>/dev/null)
JANSSON_LIBS   := $(shell $(PKG_CONFIG) --libs jansson 2>/dev/null || echo -ljansson)

# The one compile recipe.  The pattern rule of each build directory sets
# OBJ_CFLAGS (that directory's own flags, after the common ones) and may
# set OBJ_SAN (the sanitizer flags: $(SAN) unless it says otherwise).
OBJ_SAN   = $(SAN)
COMPILE   = mkdir -p $(@D) && $(CC) $(call cflags,$(OBJ_SAN)) $(OBJ_CFLAGS) \
            -c $< -o $@

# Generated headers of paths, rewritten only when one changes (a new
# PREFIX rebuilds what uses them): gen-header FILE,MACROS defines each
# macro as the C string of the make variable of its name.
cstr = "$(subst ",\",$(subst \,\\,$(1)))"
define write-if-changed
	@mkdir -p $(dir $(1))
	@printf '%s\n' $(2) >$(1).tmp
	@if cmp -s $(1).tmp $(1); then rm -f $(1).tmp; else mv $(1).tmp $(1); fi
endef
hash := \#
gen-header = $(call write-if-changed,$(1),'/* generated by make */' \
  $(foreach m,$(2),'$(hash)define $(m) $(call cstr,$($(m)))'))
# Quoted for the shell.
shq = '$(subst ','\'',$(1))'

# ---------------------------------------------------------------- library
# lib/ by layer (README.md, Layout): the engine, the guard built on it,
# and the review code, which only the tool links.  Each layer's header
# (lib/LAYER/LAYER.h) says what it may use; test/layers.sh checks it.
ENGINE_SRCS = $(wildcard lib/engine/*.c)
GUARD_SRCS  = $(wildcard lib/guard/*.c)
REVIEW_SRCS = $(wildcard lib/review/*.c)
LIB_HDRS  = include/curlfence.h $(wildcard lib/*/*.h)
# The library: engine and guard.
LIB_SRCS  = $(ENGINE_SRCS) $(GUARD_SRCS)
LIB_OBJS  = $(LIB_SRCS:%.c=$(BUILD)/%.o)
REVIEW_OBJS = $(REVIEW_SRCS:%.c=$(BUILD)/%.o)
SONAME    = libcurlfence.so.$(SOVERSION)
SHLIB     = $(BUILD)/libcurlfence.so.$(VERSION)
STLIB     = $(BUILD)/libcurlfence.a
INTLIB    = $(BUILD)/libcurlfence-internal.a
# pkg-config's description of the installed library (see install).
PCFILE    = $(BUILD)/curlfence.pc

# Every object whose path under $(BUILD) is its source's: the library's,
# the review code's, the tool's and the tests' (their flags are set in
# their sections).
$(BUILD)/%.o: %.c
	$(COMPILE)
$(BUILD)/lib/%.o: OBJ_CFLAGS = -Ilib -fPIC -fvisibility=hidden

# The shared library exports the public functions under one symbol version.
$(SHLIB): $(LIB_OBJS) lib/curlfence.map
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--no-undefined \
	  -Wl,--version-script=lib/curlfence.map $(LDFLAGS_ALL) \
	  -o $@ $(LIB_OBJS) $(LIBDEPS)
	ln -sf $(notdir $@) $(BUILD)/$(SONAME)

$(BUILD)/libcurlfence.so: $(SHLIB)
	ln -sf $(notdir $(SHLIB)) $@

# Two archives of the same objects.  The public one is a single relocatable
# object whose hidden symbols are made local, so a static link sees only
# curlfence_*, and cf_* cannot clash with the application's symbols.  The
# internal one keeps cf_* for the tool, the benchmarks and the tests of
# internals (test/test_table.c), and adds the review code (lib/review/),
# which the libraries never carry.  LTO bytecode would carry cf_* as global
# again, so it is dropped: with -flto, build fat objects
# (-ffat-lto-objects, as dpkg-buildflags does); the public archive keeps
# their regular code.
$(STLIB): $(LIB_OBJS) Makefile
	$(LD) -r -o $(BUILD)/libcurlfence.o $(LIB_OBJS)
	$(OBJCOPY) --localize-hidden -R '.gnu.lto_*' -R '.gnu.debuglto_*' \
	  $(BUILD)/libcurlfence.o
	rm -f $@
	ar rcsD $@ $(BUILD)/libcurlfence.o

$(INTLIB): $(LIB_OBJS) $(REVIEW_OBJS)
	rm -f $@
	ar rcsD $@ $(LIB_OBJS) $(REVIEW_OBJS)

# ---------------------------------------------------------------- tool
# One object per tools/*.c (a new subcommand is a new file), linked with the
# internal archive into curlfence-commands, installed in PKGLIBEXECDIR.
# The curlfence in the PATH (TOOL, tools/launch.c) is `run` alone, linked
# with libc and nothing else, and execs curlfence-commands for every
# other command: `run` costs the program it starts next to nothing before
# the exec (the libraries the commands link took most of its instructions
# to load and relocate; libcurl and its TLS libraries ten times the rest).
# `curlfence fetch` execs FETCH, the same commands linked with libcurl,
# installed in PKGLIBEXECDIR too.  The tools built in the tree run the
# tree's programs and find the tree's rules by their own location; the
# installed tools (built apart, at install time) know only the installed
# paths.  paths.h carries both and is rewritten only when a path changes,
# so a new PREFIX rebuilds what uses it.
LAUNCH_SRCS = tools/launch.c tools/run.c tools/inspect.c tools/cli_args.c
LAUNCH_OBJS = $(LAUNCH_SRCS:%.c=$(BUILD)/%.o)
LAUNCH_INST_OBJS = $(LAUNCH_SRCS:tools/%.c=$(BUILD)/tools-installed/%.o)
TOOL_SRCS = $(filter-out tools/launch.c,$(wildcard tools/*.c))
# FETCH_OBJS: every command, fetch's transfer included (libcurl);
# COMMANDS_OBJS: the same with fetch.c built as the launcher of that
# program.
FETCH_OBJS = $(TOOL_SRCS:%.c=$(BUILD)/%.o)
FETCH_INST_OBJS = $(TOOL_SRCS:tools/%.c=$(BUILD)/tools-installed/%.o)
COMMANDS_OBJS = $(filter-out %/fetch.o,$(FETCH_OBJS)) \
                $(BUILD)/tools/fetch-exec.o
COMMANDS_INST_OBJS = $(filter-out %/fetch.o,$(FETCH_INST_OBJS)) \
                     $(BUILD)/tools-installed/fetch-exec.o
TOOL      = $(BUILD)/tools/curlfence
TOOL_INST = $(BUILD)/tools-installed/curlfence
COMMANDS  = $(BUILD)/tools/curlfence-commands
COMMANDS_INST = $(BUILD)/tools-installed/curlfence-commands
FETCH     = $(BUILD)/tools/curlfence-fetch
FETCH_INST = $(BUILD)/tools-installed/curlfence-fetch
# Bash completion for the tool, installed as BASHCOMPDIR/curlfence.
BASH_COMPLETION = tools/curlfence.bash
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
TREE_TOOL  = $(abspath $(TOOL))
TREE_RULES = $(abspath rules/default.rules)
INST_RULES = $(SYSCONFDIR)/curlfence/default.rules
# The never-reach list, which default.rules includes from its directory.
INST_NEVER = $(SYSCONFDIR)/curlfence/never-reach.rules
# The macros of the tools' paths.h, for gen-header.
CLI_DEFAULT_RULES = $(INST_RULES)
CLI_TREE_TOOL = $(TREE_TOOL)
CLI_TREE_COMMANDS = $(abspath $(COMMANDS))
CLI_COMMANDS = $(PKGLIBEXECDIR)/curlfence-commands
CLI_TREE_FETCH = $(abspath $(FETCH))
CLI_FETCH = $(PKGLIBEXECDIR)/curlfence-fetch
CLI_TREE_RULES = $(TREE_RULES)

$(BUILD)/tools/paths.h: FORCE
	$(call gen-header,$@,CLI_DEFAULT_RULES CLI_TREE_TOOL CLI_TREE_COMMANDS \
	  CLI_COMMANDS CLI_TREE_FETCH CLI_FETCH CLI_TREE_RULES)

$(BUILD)/tools-installed/paths.h: FORCE
	$(call gen-header,$@,CLI_DEFAULT_RULES CLI_COMMANDS CLI_FETCH)

# The tool's objects; fetch-exec.o is fetch.c built as the launcher.  The
# installed tool's objects see only the installed paths.
TOOL_CFLAGS = $(JANSSON_CFLAGS) -Ilib
$(BUILD)/tools/%.o: OBJ_CFLAGS = $(TOOL_CFLAGS) -I$(BUILD)/tools
$(BUILD)/tools/run.o: OBJ_CFLAGS = $(TOOL_CFLAGS) -I$(BUILD)/tools -I$(BUILD)
$(BUILD)/tools-installed/%.o: tools/%.c
	$(COMPILE)
$(BUILD)/tools-installed/%.o: OBJ_CFLAGS = $(TOOL_CFLAGS) -I$(BUILD)/tools-installed
$(BUILD)/tools/fetch-exec.o $(BUILD)/tools-installed/fetch-exec.o: tools/fetch.c
	$(COMPILE)
$(BUILD)/tools/fetch-exec.o: OBJ_CFLAGS = -DCLI_FETCH_EXEC -Ilib -I$(BUILD)/tools
$(BUILD)/tools-installed/fetch-exec.o: \
  OBJ_CFLAGS = -DCLI_FETCH_EXEC -Ilib -I$(BUILD)/tools-installed
$(FETCH_OBJS) $(LAUNCH_OBJS) $(BUILD)/tools/fetch-exec.o: \
  | $(BUILD)/tools/paths.h
$(FETCH_INST_OBJS) $(LAUNCH_INST_OBJS) \
  $(BUILD)/tools-installed/fetch-exec.o: | $(BUILD)/tools-installed/paths.h

# The tool links libc alone (no library on the link line: the link
# fails if anything in it comes to need another), and is built with the
# commands it runs; the commands link no libcurl.
$(TOOL): $(LAUNCH_OBJS) | $(COMMANDS)
	$(CC) $(LDFLAGS_ALL) -o $@ $(LAUNCH_OBJS)

$(TOOL_INST): $(LAUNCH_INST_OBJS) | $(COMMANDS_INST)
	$(CC) $(LDFLAGS_ALL) -o $@ $(LAUNCH_INST_OBJS)

TOOL_LIBS = -lcidr $(IDN_LIBS) -lpthread -ldl

$(COMMANDS): $(COMMANDS_OBJS) $(INTLIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $(COMMANDS_OBJS) $(INTLIB) $(TOOL_LIBS) $(JANSSON_LIBS)

$(COMMANDS_INST): $(COMMANDS_INST_OBJS) $(INTLIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $(COMMANDS_INST_OBJS) $(INTLIB) $(TOOL_LIBS) $(JANSSON_LIBS)

$(FETCH): $(FETCH_OBJS) $(INTLIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $(FETCH_OBJS) $(INTLIB) $(LIBDEPS) $(JANSSON_LIBS)

$(FETCH_INST): $(FETCH_INST_OBJS) $(INTLIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $(FETCH_INST_OBJS) $(INTLIB) $(LIBDEPS) $(JANSSON_LIBS)

tools/curlfence: $(TOOL)
	ln -sf ../$(TOOL) $@

# ---------------------------------------------------------------- preload
# libcurlfence-preload.so (preload/): the guard for unmodified libcurl
# programs, through LD_PRELOAD.  It links the library's objects except
# attach.c, the only code that calls libcurl: the preload reaches each
# program's own libcurl at run time and must not depend on either flavour.
# It is compiled without $(SAN), because it is loaded into programs that
# are not built with a sanitizer; its objects have their own directory.
# PRELOAD_RULES is the default rules file when CURLFENCE_RULES is unset
# and the library is not running from a source tree.
# The library built here knows it is in this tree by its own path and then
# uses the tree's rules; an installed copy uses the installed ones.
# Installed, it lives in a private directory: programs never link it,
# and only `curlfence run` and LD_PRELOAD name it.
PRELOAD_RULES ?= $(INST_RULES)
PRELOAD_PATH ?= $(PKGLIBDIR)/libcurlfence-preload.so
# The default rules compiled (docs/images.md): the preload maps the image
# when it still matches the rules, which spares it the parser (and
# libcidr) and the table build at every program start.  Built in the tree
# next to the tree's library.  Installed, it is generated data that
# depends on the architecture, not configuration: it goes to the private
# library directory, and when the administrator edits default.rules it no
# longer matches their text and is ignored.  DEFAULT_IMAGE=0 builds and
# installs no image (a cross build cannot run the tool that compiles it).
DEFAULT_IMAGE ?= 1
TREE_IMAGE = $(BUILD)/default.cfimg
INST_IMAGE = $(PKGLIBDIR)/default.cfimg
PRELOAD_IMAGE ?= $(INST_IMAGE)
PRELOAD      = $(BUILD)/libcurlfence-preload.so
# The installed library is linked apart, with paths.h holding no path of
# the tree, as the installed tool is.
PRELOAD_INST = $(BUILD)/preload-installed/libcurlfence-preload.so
# The library's objects but attach.c, which calls libcurl (the review
# code is not in LIB_SRCS).
PRELOAD_LIB_SRCS = $(filter-out lib/guard/attach.c,$(LIB_SRCS))
PRELOAD_SRCS = $(wildcard preload/*.c) $(PRELOAD_LIB_SRCS)
PRELOAD_OBJS = $(PRELOAD_SRCS:%.c=$(BUILD)/preload-obj/%.o)
# Every program that inherits LD_PRELOAD maps this library, so its start-up
# cost is the pages the loader maps and touches: the code the preload never
# calls (the library's tool-side functions) is dropped, and code and
# read-only data share segments (2 LOAD segments instead of 4: fewer
# mmaps, fewer page faults).
PRELOAD_LDFLAGS = -Wl,--gc-sections -Wl,-O1 -Wl,-z,noseparate-code \
  -Wl,-soname,libcurlfence-preload.so
PRELOAD_PATHS_H = $(BUILD)/preload-paths.h

$(TREE_IMAGE): rules/default.rules rules/never-reach.rules $(TOOL)
	$(TOOL) compile $(TREE_RULES) -o $@ >/dev/null

# Installed, the image is compiled from the installed rules, which it
# records by their path relative to itself and names in verdicts as the
# text does.  Under DESTDIR that name would be the staged path, so it is
# compiled in the rules' directory and verdicts say "default.rules".
INSTALL_IMAGE = $(if $(filter 1,$(DEFAULT_IMAGE)),\
  $(INSTALL) -d $(DESTDIR)$(dir $(INST_IMAGE)) && \
  $(if $(DESTDIR),cd $(DESTDIR)$(dir $(INST_RULES)) && \
  $(abspath $(TOOL)) compile $(notdir $(INST_RULES)) \
    -o $(abspath $(DESTDIR)$(INST_IMAGE)),\
  $(TOOL) compile $(INST_RULES) -o $(INST_IMAGE)) >/dev/null)

# The paths the library and `curlfence run` know (gen-header).  `curlfence
# run` built in the tree runs the tree's library; installed, the installed
# one.
CURLFENCE_PRELOAD_PATH = $(PRELOAD_PATH)
CURLFENCE_PRELOAD_RULES = $(PRELOAD_RULES)
CURLFENCE_PRELOAD_TREE = $(abspath $(PRELOAD))
CURLFENCE_PRELOAD_TREE_RULES = $(TREE_RULES)
CURLFENCE_PRELOAD_IMAGE = $(PRELOAD_IMAGE)
CURLFENCE_PRELOAD_TREE_IMAGE = $(abspath $(TREE_IMAGE))
PRELOAD_MACROS = CURLFENCE_PRELOAD_PATH CURLFENCE_PRELOAD_RULES \
                 CURLFENCE_PRELOAD_IMAGE

$(PRELOAD_PATHS_H): FORCE
	$(call gen-header,$@,$(PRELOAD_MACROS) CURLFENCE_PRELOAD_TREE \
	  CURLFENCE_PRELOAD_TREE_RULES CURLFENCE_PRELOAD_TREE_IMAGE)

$(BUILD)/tools-installed/preload-paths.h: FORCE
	$(call gen-header,$@,$(PRELOAD_MACROS))

$(BUILD)/preload-obj/preload/config.o $(BUILD)/preload-san/preload/config.o \
$(BUILD)/tools/run.o: $(PRELOAD_PATHS_H)
$(BUILD)/tools-installed/run.o $(BUILD)/preload-installed/config.o: \
  $(BUILD)/tools-installed/preload-paths.h

# The preload's objects: the library's compile recipe without $(SAN),
# each function and datum in its own section for --gc-sections.  The
# installed library's config.o sees only the installed paths.
PRELOAD_OBJ_CFLAGS = -Ilib -fPIC -fvisibility=hidden -ffunction-sections \
                     -fdata-sections
$(BUILD)/preload-obj/%.o: %.c
	$(COMPILE)
$(BUILD)/preload-obj/%.o: OBJ_SAN =
$(BUILD)/preload-obj/%.o: OBJ_CFLAGS = $(PRELOAD_OBJ_CFLAGS) -I$(BUILD)
$(BUILD)/preload-installed/%.o: preload/%.c
	$(COMPILE)
$(BUILD)/preload-installed/%.o: OBJ_SAN =
$(BUILD)/preload-installed/%.o: \
  OBJ_CFLAGS = $(PRELOAD_OBJ_CFLAGS) -I$(BUILD)/tools-installed

PRELOAD_INST_OBJS = $(filter-out $(BUILD)/preload-obj/preload/config.o,$(PRELOAD_OBJS)) \
  $(BUILD)/preload-installed/config.o
PRELOAD_LINK = $(CC) -shared -Wl,--no-undefined \
  -Wl,--version-script=preload/exports.map $(PRELOAD_LDFLAGS) $(LDFLAGS) \
  -o $@ $(filter %.o,$^) -lpthread -ldl

$(PRELOAD): $(PRELOAD_OBJS) preload/exports.map
	$(PRELOAD_LINK)

$(PRELOAD_INST): $(PRELOAD_INST_OBJS) preload/exports.map
	$(PRELOAD_LINK)

# ---------------------------------------------------------------- what make builds
.PHONY: all check asan tsan valgrind compilers demo clean install uninstall FORCE

all: $(SHLIB) $(BUILD)/libcurlfence.so $(STLIB) $(TOOL) $(TOOL_INST) \
     $(COMMANDS) $(COMMANDS_INST) $(FETCH) $(FETCH_INST) $(PCFILE) $(PRELOAD) $(PRELOAD_INST) \
     $(if $(filter 1,$(DEFAULT_IMAGE)),$(TREE_IMAGE)) \
     $(if $(filter build,$(BUILD)),tools/curlfence)

# ---------------------------------------------------------------- tests
# Two test programs, each running every suite linked into it (the
# registry in test/testutil.h).  check_curlfence has every suite and links
# the internal archive (valgrind runs it).  check_curlfence_shared is
# linked against libcurlfence.so and leaves out the files whose suite is
# registered with TU_SUITE_STATIC_ONLY (internals, test hooks).
TEST_STATIC_ONLY := $(shell grep -lw '^TU_SUITE_STATIC_ONLY' test/*.c)
TEST_SO_OBJS  = $(filter-out $(TEST_STATIC_ONLY:%.c=$(BUILD)/%.o),$(TEST_OBJS))
TEST_SRCS = $(wildcard test/*.c) test/fuzz/json_check.c
TEST_OBJS = $(TEST_SRCS:%.c=$(BUILD)/%.o)
TESTBIN   = $(BUILD)/test/check_curlfence
TESTBIN_SO = $(BUILD)/test/check_curlfence_shared
$(BUILD)/test/%.o: OBJ_CFLAGS = $(CHECK_CFLAGS) -Ilib -DCF_TEST_HOOKS

# check_curlfence links its own copies of the files with test hooks,
# built with CF_TEST_HOOKS: the load hook (rules_file.c) lets a test
# change a file between a load's reading and its check for changes
# without timing luck, cf_self_inject (self.c) stands in for the host's
# addresses, and the guard's reload hook runs between a reload's load
# and its publishing.  The hook is a field of the guard, so every guard
# file is copied, and the tests are built with the same macro.  Taken
# before the archive, the copies replace its objects; the libraries and
# the tool never have a hook (test/layers.sh checks).
TEST_HOOK_OBJS = $(BUILD)/test/hooks/engine/rules_file.o \
                 $(BUILD)/test/hooks/engine/self.o \
                 $(GUARD_SRCS:lib/%.c=$(BUILD)/test/hooks/%.o)

$(BUILD)/test/hooks/%.o: lib/%.c
	$(COMPILE)
$(BUILD)/test/hooks/%.o: OBJ_CFLAGS = -Ilib -DCF_TEST_HOOKS -fPIC -fvisibility=hidden

$(TESTBIN): $(TEST_OBJS) $(TEST_HOOK_OBJS) $(INTLIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $(TEST_OBJS) $(TEST_HOOK_OBJS) $(INTLIB) \
	  $(CHECK_LIBS) $(LIBDEPS)

$(TESTBIN_SO): $(TEST_SO_OBJS) $(BUILD)/libcurlfence.so
	$(CC) $(LDFLAGS_ALL) -o $@ $(TEST_SO_OBJS) -L$(BUILD) -lcurlfence \
	  -Wl,-rpath,$(abspath $(BUILD)) $(CHECK_LIBS) $(LIBDEPS)

# The strict JSON and UTF-8 check of the tool's --json output.
JSON_LINES = $(BUILD)/test/json-lines

$(JSON_LINES): test/prog/json_lines.c test/fuzz/json_check.c test/fuzz/json_check.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Itest/fuzz -o $@ test/prog/json_lines.c \
	  test/fuzz/json_check.c $(LDFLAGS_ALL)

# The programs test/test_preload*.c run (test/prog/), each from one source
# and compiled by one recipe: PROG_SAN is $(SAN), or nothing for those
# loaded or measured like the preload library, which has no sanitizer;
# PROG_FLAGS and PROG_LIBS are each program's own.
PROG_SAN = $(SAN)
PROG = mkdir -p $(@D) && $(CC) $(call cflags,$(PROG_SAN)) $(PROG_FLAGS) \
  -o $@ $< $(PROG_OBJS) $(PROG_SAN) $(LDFLAGS) $(PROG_LIBS)

# A threaded libcurl program, twice: plain (the suite runs it under the
# preload library) and with the preload's objects linked in and built
# with $(SAN), so `make tsan` and `make asan` see the preload's own code.
PRELOAD_THREADS = $(BUILD)/test/preload-threads
PRELOAD_LINKED  = $(BUILD)/test/preload-threads-linked
# Without dlvsym.c: the sanitizer's runtime calls dlvsym() as it starts,
# before the instrumented code of a replacement could run.
PRELOAD_SAN_OBJS = $(patsubst %.c,$(BUILD)/preload-san/%.o,$(filter-out preload/dlvsym.c,$(wildcard preload/*.c))) \
  $(PRELOAD_LIB_SRCS:%.c=$(BUILD)/%.o)
$(BUILD)/preload-san/%.o: %.c
	$(COMPILE)
$(BUILD)/preload-san/%.o: OBJ_CFLAGS = -Ilib -I$(BUILD) -fPIC -fvisibility=hidden
$(PRELOAD_THREADS): test/prog/preload_threads.c
$(PRELOAD_THREADS): PROG_LIBS = $(CURL_LIBS) -lpthread
$(PRELOAD_LINKED): test/prog/preload_threads.c $(PRELOAD_SAN_OBJS)
$(PRELOAD_LINKED): PROG_OBJS = $(PRELOAD_SAN_OBJS)
$(PRELOAD_LINKED): PROG_LIBS = $(CURL_LIBS) -lpthread -ldl

# A program with two libcurls (libcurl.so.4, and libcurl-gnutls.so.4 in a
# plugin it opens with local scope).
PRELOAD_TWO        = $(BUILD)/test/two-libcurls
PRELOAD_TWO_PLUGIN = $(BUILD)/test/libtwo-gnutls.so
$(PRELOAD_TWO): test/prog/two_libcurls.c
$(PRELOAD_TWO): PROG_LIBS = $(CURL_LIBS) -ldl
$(PRELOAD_TWO_PLUGIN): test/prog/two_gnutls.c
$(PRELOAD_TWO_PLUGIN): PROG_FLAGS = -shared -fPIC
$(PRELOAD_TWO_PLUGIN): PROG_LIBS = -l:libcurl-gnutls.so.4

# A program that tries to get its handles around the preload library.
PRELOAD_ODD = $(BUILD)/test/preload-odd
$(PRELOAD_ODD): test/prog/preload_odd.c
$(PRELOAD_ODD): PROG_LIBS = $(CURL_LIBS) -ldl

# Programs that fork while a thread works on handles, and that make and
# free handles by the hundred thousand.  Without $(SAN), like the preload
# library they run under: the tests measure the library, not a
# sanitizer's runtime (whose allocator keeps freed memory in quarantine).
PRELOAD_FORK   = $(BUILD)/test/preload-fork
PRELOAD_MEMORY = $(BUILD)/test/preload-memory
$(PRELOAD_FORK): test/prog/preload_fork.c
$(PRELOAD_MEMORY): test/prog/preload_memory.c
$(PRELOAD_FORK) $(PRELOAD_MEMORY): PROG_SAN =
$(PRELOAD_FORK) $(PRELOAD_MEMORY): PROG_LIBS = $(CURL_LIBS) -lpthread

# A program that keeps one handle across a rules change, for the watcher
# test.  Without $(SAN), like the preload library: a sanitizer runtime in
# the program would watch the library's reload thread without seeing its
# atomics (ThreadSanitizer then reports races that are not there); the
# watcher itself is checked under the sanitizers in test/test_reload.c.
PRELOAD_WATCH = $(BUILD)/test/preload-watch
$(PRELOAD_WATCH): test/prog/preload_watch.c
$(PRELOAD_WATCH): PROG_SAN =
$(PRELOAD_WATCH): PROG_LIBS = $(CURL_LIBS)

# A statically linked program, which no LD_PRELOAD enters: `curlfence
# run` must refuse it.  No $(SAN): the sanitizer runtimes do not link
# statically.
PRELOAD_STATIC = $(BUILD)/test/marker-static
$(PRELOAD_STATIC): test/prog/marker.c
$(PRELOAD_STATIC): PROG_SAN =
$(PRELOAD_STATIC): PROG_FLAGS = -static

# An audit library (LD_AUDIT) that keeps the preload library out of a
# program: `curlfence run` must refuse to start anything with LD_AUDIT
# set.  No $(SAN): the loader loads it into programs that are not built
# with a sanitizer.
PRELOAD_DROP = $(BUILD)/test/libdrop-preload.so
$(PRELOAD_DROP): test/prog/drop_preload.c
$(PRELOAD_DROP): PROG_SAN =
$(PRELOAD_DROP): PROG_FLAGS = -shared -fPIC

# The socket calls a program makes itself, and a libcurl socket the
# program connects elsewhere.  No $(SAN): the sanitizers' runtimes
# interpose the same calls.
PRELOAD_SOCKETS = $(BUILD)/test/preload-sockets
$(PRELOAD_SOCKETS): test/prog/preload_sockets.c
$(PRELOAD_SOCKETS): PROG_SAN =
$(PRELOAD_SOCKETS): PROG_LIBS = $(CURL_LIBS)

TEST_PROGS = $(PRELOAD_THREADS) $(PRELOAD_LINKED) $(PRELOAD_TWO) \
  $(PRELOAD_TWO_PLUGIN) $(PRELOAD_ODD) $(PRELOAD_FORK) $(PRELOAD_MEMORY) \
  $(PRELOAD_WATCH) $(PRELOAD_STATIC) $(PRELOAD_DROP) $(PRELOAD_SOCKETS)
$(TEST_PROGS):
	$(PROG)

# The image checksum has loops for AVX2 and for plain SSE2: the images
# suite runs again with glibc told the CPU has no AVX2.
NO_AVX2 = GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2

check: all $(TESTBIN) $(TESTBIN_SO) $(JSON_LINES) $(TEST_PROGS) fuzz-replay \
       checksrc
	test/license.sh
	test/layers.sh $(BUILD) $(TOOL) $(TOOL_INST) $(COMMANDS) $(FETCH) \
	  $(PRELOAD)
	test/suites.sh $(TESTBIN)
	test/version.sh
	test/exports.sh $(SHLIB) $(STLIB)
	CURLFENCE_TOOL=$(TOOL) JSON_LINES=$(JSON_LINES) test/tool.sh
	CURLFENCE_TOOL=$(TOOL) JSON_LINES=$(JSON_LINES) test/loop.sh
	$(TESTBIN)
	$(TESTBIN_SO)
	$(NO_AVX2) CK_RUN_SUITE=image-reject $(TESTBIN)
	+MAKE="$(MAKE)" test/install-isolated.sh $(INSTALL_TEST_ARGS)

# The code style (docs/style.md), and that its checker finds what it
# should.
.PHONY: checksrc
checksrc:
	scripts/checksrc
	test/checksrc.sh

# The install test (test/install.sh) installs into and uninstalls from its
# own temporary directories, with the build variables below and nothing
# else of its caller's: check runs it through test/install-isolated.sh,
# with every directory variable pointing at planted files that must stay
# untouched.  install-test runs it alone, on what is built.
INSTALL_TEST_VARS = BUILD CC LD OBJCOPY OPT SAN WERROR PKG_CONFIG \
                    CPPFLAGS CFLAGS LDFLAGS
INSTALL_TEST_ARGS = $(foreach v,$(INSTALL_TEST_VARS),$(call shq,$(v)=$($(v))))

.PHONY: install-test
install-test:
	+MAKE="$(MAKE)" CC="$(CC)" EXTRA_CFLAGS="$(SAN)" test/install.sh \
	  $(INSTALL_TEST_ARGS)

# ---------------------------------------------------------------- sanitizers and memcheck
asan:
	$(MAKE) check BUILD=build-asan OPT=-O1 \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"

tsan:
	$(MAKE) check BUILD=build-tsan OPT=-O1 SAN="-fsanitize=thread"

# CK_FORK=no keeps every test in one process so leaks are seen; the quick
# flag shortens the randomised tests, which are slow under memcheck.
valgrind: all $(TESTBIN) $(TEST_PROGS)
	CK_FORK=no CURLFENCE_TEST_QUICK=1 valgrind --quiet --error-exitcode=99 \
	  --leak-check=full --show-leak-kinds=definite,indirect,possible \
	  --errors-for-leak-kinds=definite,indirect,possible \
	  --track-fds=no $(TESTBIN)

compilers:
	$(MAKE) all BUILD=build-gcc CC=gcc
	$(MAKE) all BUILD=build-clang CC=clang

# ---------------------------------------------------------------- fuzz
include test/fuzz/fuzz.mk

# ---------------------------------------------------------------- bench
# Benchmarks of the compiled table (bench/).  Never part of check.
# bench-dpdk also times DPDK rte_lpm/rte_lpm6 in the same process
# (apt-get install libdpdk-dev); DPDK's headers want gnu11 and SSE4.2, so
# only that binary gets them.
BENCH_SRCS  = bench/bench.c bench/gen.c bench/hosts.c
BENCH_BIN   = $(BUILD)/bench/bench
BENCH_DPDK_BIN = $(BUILD)/bench/bench-dpdk
DPDK_CFLAGS = $(shell $(PKG_CONFIG) --cflags libdpdk 2>/dev/null)
DPDK_LIBS   = $(shell $(PKG_CONFIG) --libs libdpdk 2>/dev/null)
# The curlfence command on large inputs (bench/cli.c): diff, check -.
BENCH_CLI_BIN = $(BUILD)/bench/bench-cli
# Compiled images against rules text (bench/image.c).
BENCH_IMAGE_BIN = $(BUILD)/bench/bench-image
# The guard's check path under threads, and the pre-request check
# (bench/guard.c).
BENCH_GUARD_BIN = $(BUILD)/bench/bench-guard
# Start-up cost of the preload library under curl (bench/preload_start.c).
PRELOAD_BENCH = $(BUILD)/bench/preload-start
# What a fresh handle with curlfence_attach() adds to a loopback request
# (bench/attach.c), in instructions.
ATTACH_BENCH = $(BUILD)/bench/bench-attach
# What the preload adds to a program's own connect() and sendto()
# (bench/preload_sockets.c).  Without $(SAN), like the preload library it
# runs under.
SOCKETS_BENCH = $(BUILD)/bench/preload-sockets-bench
BENCH_BINS = $(BENCH_BIN) $(BENCH_CLI_BIN) $(BENCH_IMAGE_BIN) \
  $(BENCH_GUARD_BIN) $(PRELOAD_BENCH) $(ATTACH_BENCH) $(SOCKETS_BENCH)

.PHONY: bench bench-dpdk bench-build bench-misses bench-attach bench-preload \
  bench-sockets

# Builds the benchmarks without running them (CI keeps them compiling).
bench-build: $(BENCH_BINS)

bench: $(BENCH_BIN) $(BENCH_CLI_BIN) $(BENCH_IMAGE_BIN) $(BENCH_GUARD_BIN) \
       $(TOOL) bench-misses bench-attach bench-preload bench-sockets
	$(BENCH_BIN)
	$(BENCH_CLI_BIN) $(TOOL)
	$(BENCH_IMAGE_BIN)
	$(BENCH_GUARD_BIN) $(CURDIR)/rules

bench-dpdk: $(BENCH_DPDK_BIN)
	$(BENCH_DPDK_BIN)

# Instructions and cache misses per decision from callgrind's cache model
# (bench/misses.sh).  BENCH_LL is the cache level modelled as the last
# before memory: by default this machine's per-core L2 (1.25 MiB, 20
# ways), the one the 1M table's target is about.
BENCH_LL ?= 1310720,20,64
bench-misses: $(BENCH_BIN)
	bench/misses.sh $(BENCH_BIN) $(BENCH_LL) bgp4-100k bgp4-1M bgp6-100k hosts

bench-attach: $(ATTACH_BENCH)
	$(ATTACH_BENCH) $(CURDIR)/rules

bench-preload: $(PRELOAD_BENCH) $(PRELOAD) $(TOOL)
	$(PRELOAD_BENCH) $(PRELOAD) $(CURDIR)/rules 200 $(TOOL)

bench-sockets: $(SOCKETS_BENCH) $(PRELOAD)
	$(SOCKETS_BENCH) $(CURDIR)/$(PRELOAD)

# The instruction counts of callgrind's output, for the benchmarks that
# count instructions.
BENCH_CALLGRIND = bench/callgrind.c bench/callgrind.h
# Each benchmark is one program from its sources (BENCH_SRC, the first
# prerequisites), linked with BENCH_LIBS.
BENCH_LINK = mkdir -p $(@D) && $(CC) $(CFLAGS_ALL) $(BENCH_CFLAGS) -o $@ \
  $(filter %.c,$^) $(filter %.a,$^) $(LDFLAGS_ALL) $(BENCH_LIBS)
$(BENCH_BINS) $(BENCH_DPDK_BIN):
	$(BENCH_LINK)
$(BENCH_BIN): $(BENCH_SRCS) bench/gen.h $(LIB_HDRS) $(INTLIB)
$(BENCH_CLI_BIN): bench/cli.c bench/gen.c bench/gen.h lib/engine/util.h \
  $(BENCH_CALLGRIND) $(INTLIB)
$(BENCH_IMAGE_BIN): bench/image.c bench/gen.c bench/gen.h $(LIB_HDRS) $(INTLIB)
$(BENCH_GUARD_BIN): bench/guard.c bench/gen.c bench/gen.h $(LIB_HDRS) $(INTLIB)
$(BENCH_BIN) $(BENCH_CLI_BIN) $(BENCH_IMAGE_BIN) $(BENCH_GUARD_BIN) \
  $(ATTACH_BENCH): BENCH_CFLAGS = -Ilib
$(BENCH_BIN) $(BENCH_IMAGE_BIN) $(BENCH_GUARD_BIN) $(ATTACH_BENCH): \
  BENCH_LIBS = $(LIBDEPS)
$(PRELOAD_BENCH): bench/preload_start.c test/httpd.c test/httpd.h \
  $(BENCH_CALLGRIND)
$(PRELOAD_BENCH): BENCH_LIBS = -lpthread
$(SOCKETS_BENCH): bench/preload_sockets.c $(BENCH_CALLGRIND)
$(SOCKETS_BENCH): BENCH_LIBS = -ldl
$(ATTACH_BENCH): bench/attach.c test/httpd.c test/httpd.h $(BENCH_CALLGRIND) \
  $(LIB_HDRS) $(INTLIB)
$(BENCH_DPDK_BIN): $(BENCH_SRCS) bench/gen.h $(LIB_HDRS) $(INTLIB)
$(BENCH_DPDK_BIN): BENCH_CFLAGS = -std=gnu11 -Wno-pedantic -DCF_BENCH_DPDK \
  -Ilib $(DPDK_CFLAGS)
$(BENCH_DPDK_BIN): BENCH_LIBS = $(DPDK_LIBS) $(LIBDEPS)
$(BENCH_DPDK_BIN): | bench-dpdk-check
.PHONY: bench-dpdk-check
bench-dpdk-check:
	@$(PKG_CONFIG) --exists libdpdk || { echo "bench-dpdk: apt-get install libdpdk-dev"; exit 1; }

# ---------------------------------------------------------------- install
$(PCFILE): curlfence.pc.in FORCE
	@mkdir -p $(@D)
	$(call write-if-changed,$@,"$$(sed -e 's|@VERSION@|$(VERSION)|' \
	  -e 's|@PREFIX@|$(prefix)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	  -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@CURL_CFLAGS@|$(strip $(CURL_CFLAGS))|' \
	  -e 's|@CURL_LIBS@|$(strip $(CURL_LIBS))|' -e '/^# /d' curlfence.pc.in)")

MAN_PAGES = $(wildcard docs/*.[1-8])
EXAMPLES  = $(wildcard rules/examples/*.rules)
EXDIR     = $(DATADIR)/curlfence/examples
# The examples include ../default.rules (or ../never-reach.rules) in the
# source tree; installed, they include the installed configuration files
# instead.
EXAMPLE_SED = -e 's|^\([[:space:]]*include[[:space:]][[:space:]]*\)\.\./default\.rules|\1$(INST_RULES)|' \
              -e 's|^\([[:space:]]*include[[:space:]][[:space:]]*\)\.\./never-reach\.rules|\1$(INST_NEVER)|'

install: all $(TOOL_INST) $(COMMANDS_INST) $(FETCH_INST) $(PRELOAD_INST)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) \
	  $(DESTDIR)$(PKGLIBEXECDIR) \
	  $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(INCLUDEDIR) \
	  $(DESTDIR)$(dir $(INST_RULES)) $(DESTDIR)$(EXDIR)
	$(INSTALL) -m 755 $(TOOL_INST) $(DESTDIR)$(BINDIR)/curlfence
	$(INSTALL) -m 755 $(COMMANDS_INST) \
	  $(DESTDIR)$(PKGLIBEXECDIR)/curlfence-commands
	$(INSTALL) -m 755 $(FETCH_INST) $(DESTDIR)$(PKGLIBEXECDIR)/curlfence-fetch
	$(INSTALL) -m 755 $(SHLIB) $(DESTDIR)$(LIBDIR)/libcurlfence.so.$(VERSION)
	ln -sf libcurlfence.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libcurlfence.so
	$(INSTALL) -m 644 $(STLIB) $(DESTDIR)$(LIBDIR)/libcurlfence.a
	$(INSTALL) -m 644 $(PCFILE) $(DESTDIR)$(PKGCONFIGDIR)/curlfence.pc
	$(INSTALL) -m 644 include/curlfence.h $(DESTDIR)$(INCLUDEDIR)/curlfence.h
	for p in $(MAN_PAGES); do \
	  d=$(DESTDIR)$(MANDIR)/man$${p##*.} && $(INSTALL) -d $$d && \
	  $(INSTALL) -m 644 $$p $$d/ || exit 1; \
	done
	$(INSTALL) -m 644 rules/default.rules $(DESTDIR)$(INST_RULES)
	$(INSTALL) -m 644 rules/never-reach.rules $(DESTDIR)$(INST_NEVER)
	$(INSTALL_IMAGE)
	$(INSTALL) -d $(DESTDIR)$(BASHCOMPDIR)
	$(INSTALL) -m 644 $(BASH_COMPLETION) $(DESTDIR)$(BASHCOMPDIR)/curlfence
	for f in $(EXAMPLES); do \
	  sed $(EXAMPLE_SED) $$f >$(DESTDIR)$(EXDIR)/$${f##*/} && \
	  chmod 644 $(DESTDIR)$(EXDIR)/$${f##*/} || exit 1; \
	done
	$(INSTALL) -d $(DESTDIR)$(dir $(PRELOAD_PATH))
	$(INSTALL) -m 644 $(PRELOAD_INST) $(DESTDIR)$(PRELOAD_PATH)

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/curlfence \
	  $(DESTDIR)$(PKGLIBEXECDIR)/curlfence-commands \
	  $(DESTDIR)$(PKGLIBEXECDIR)/curlfence-fetch \
	  $(DESTDIR)$(LIBDIR)/libcurlfence.so.$(VERSION) \
	  $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libcurlfence.so \
	  $(DESTDIR)$(LIBDIR)/libcurlfence.a \
	  $(DESTDIR)$(PKGCONFIGDIR)/curlfence.pc \
	  $(DESTDIR)$(INCLUDEDIR)/curlfence.h $(DESTDIR)$(INST_RULES) \
	  $(DESTDIR)$(INST_NEVER) $(DESTDIR)$(INST_IMAGE) \
	  $(addprefix $(DESTDIR)$(EXDIR)/,$(notdir $(EXAMPLES))) \
	  $(DESTDIR)$(BASHCOMPDIR)/curlfence $(DESTDIR)$(PRELOAD_PATH)
	for p in $(MAN_PAGES); do \
	  rm -f $(DESTDIR)$(MANDIR)/man$${p##*.}/$${p##*/}; \
	done
	for d in $(DESTDIR)$(EXDIR) $(DESTDIR)$(DATADIR)/curlfence \
	  $(DESTDIR)$(dir $(INST_RULES)) $(DESTDIR)$(dir $(INST_IMAGE)) \
	  $(DESTDIR)$(dir $(PRELOAD_PATH)) $(DESTDIR)$(PKGLIBEXECDIR); do \
	  if [ -d $$d ]; then rmdir $$d 2>/dev/null || true; fi; \
	done

# ---------------------------------------------------------------- release
# The release tarball: the files of the commit checked out (HEAD), under
# curlfence-VERSION/, with git's times and no owner, so that the same
# commit always gives the same bytes.  distcheck unpacks it outside any
# git repository and runs make check there.
DIST = curlfence-$(VERSION)
.PHONY: dist distcheck
dist:
	@git rev-parse --git-dir >/dev/null 2>&1 || \
	  { echo "make dist: needs the git repository"; exit 1; }
	@git diff --quiet HEAD || \
	  echo "make dist: warning: uncommitted changes are not in $(DIST).tar.gz"
	git archive --format=tar --prefix=$(DIST)/ HEAD | gzip -n9 >$(DIST).tar.gz.tmp
	mv $(DIST).tar.gz.tmp $(DIST).tar.gz

distcheck: dist
	d=$$(mktemp -d) && tar -C $$d -xzf $(DIST).tar.gz && \
	  (cd $$d/$(DIST) && GIT_CEILING_DIRECTORIES=$$d $(MAKE) check) && \
	  rm -rf $$d && echo "$(DIST).tar.gz passes make check outside git"

# The Debian packages (debian/), built by dpkg-buildpackage in a copy of
# the tree under $(BUILD)/deb, where the .deb files are left, so that the
# tree itself stays as it is.  The copy takes the working tree as it is,
# committed or not.
DEB_DIR = $(BUILD)/deb
.PHONY: deb
deb:
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/$(DIST)
	tar --exclude='./build*' --exclude=./.git --exclude='./curlfence-*.tar.gz' \
	  -cf - . | tar -C $(DEB_DIR)/$(DIST) -xf -
	cd $(DEB_DIR)/$(DIST) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	  dpkg-buildpackage -us -uc -b
	ls $(DEB_DIR)/*.deb

# ---------------------------------------------------------------- other
demo: all
	tools/demo

clean:
	rm -rf build build-* tools/curlfence

# The dependency files of every object and test program (-MMD).
-include $(patsubst %.o,%.d,$(LIB_OBJS) $(REVIEW_OBJS) $(FETCH_OBJS) \
  $(FETCH_INST_OBJS) $(COMMANDS_OBJS) $(COMMANDS_INST_OBJS) $(LAUNCH_OBJS) \
  $(LAUNCH_INST_OBJS) $(TEST_OBJS) \
  $(TEST_HOOK_OBJS) $(PRELOAD_OBJS) $(PRELOAD_INST_OBJS) \
  $(PRELOAD_SAN_OBJS)) \
  $(addsuffix .d,$(basename $(TEST_PROGS) $(JSON_LINES) $(BENCH_BINS)))
