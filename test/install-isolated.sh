#!/bin/sh
# SPDX-License-Identifier: MIT
# The install test installs only into its own temporary directories,
# whatever directory variables its caller has: `make check LIBDIR=X
# SYSCONFDIR=Y` (as a package build may run it) once made test/install.sh
# install into X and Y, through MAKEFLAGS, and uninstall from them, deleting
# a library and an edited default.rules that were there.
#
# Runs `make install-test` twice, with every directory variable pointing
# into a scratch tree of planted files: once on make's command line
# (DESTDIR too), once in the environment.  Each time the install test must
# pass and the scratch tree must be exactly as before, nothing changed,
# deleted or added.  Environment: MAKE.  Arguments: the make variables of
# the build under test, passed on.
set -u
make=${MAKE:-make}
h=$(mktemp -d)
trap 'rm -rf "$h"' EXIT
pass=0
fail=0

# What an install would write, planted both where the hostile directories
# point and where they point under the hostile DESTDIR.
for root in "$h" "$h/destdir$h"; do
  mkdir -p "$root/bin" "$root/lib/pkgconfig" "$root/include" \
    "$root/etc/curlfence" "$root/share/curlfence/examples" \
    "$root/man/man1" "$root/man/man3" "$root/man/man5" "$root/man/man7" \
    "$root/bashcomp"
  for f in bin/curlfence lib/libcurlfence.so.0.1.0 lib/libcurlfence.so.0 \
           lib/libcurlfence.so lib/libcurlfence.a lib/libcurlfence-preload.so \
           lib/pkgconfig/curlfence.pc include/curlfence.h \
           etc/curlfence/default.cfimg share/curlfence/examples/demo.rules \
           man/man1/curlfence.1 man/man3/curlfence_attach.3 \
           man/man5/curlfence.rules.5 man/man7/libcurlfence-preload.7 \
           bashcomp/curlfence; do
    printf 'planted %s\n' "$f" >"$root/$f"
  done
  printf 'default deny\n# edited by the administrator\n' \
    >"$root/etc/curlfence/default.rules"
done

snapshot() {  # every path and every file's checksum under $h
  (cd "$h" && find . -print | LC_ALL=C sort &&
   find . -type f -exec sha256sum {} + | LC_ALL=C sort)
}
snapshot >"$h.before"
trap 'rm -rf "$h" "$h.before" "$h.after" "$h.log"' EXIT

dirs="PREFIX=$h BINDIR=$h/bin LIBDIR=$h/lib INCLUDEDIR=$h/include
SYSCONFDIR=$h/etc DATADIR=$h/share MANDIR=$h/man PKGCONFIGDIR=$h/lib/pkgconfig
BASHCOMPDIR=$h/bashcomp PRELOAD_PATH=$h/lib/libcurlfence-preload.so
LIBEXECDIR=$h/libexec"

check_run() {  # check_run HOW: the install test passed, the tree is intact
  if [ "$1" -eq 0 ]; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "FAIL: install test with hostile variables $2:"
    tail -n 40 "$h.log"
  fi
  snapshot >"$h.after"
  if cmp -s "$h.before" "$h.after"; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "FAIL: the install test with hostile variables $2 touched the"
    echo "caller's directories:"
    diff "$h.before" "$h.after"
  fi
}

# On make's command line, so in MAKEFLAGS for every make below it.
# shellcheck disable=SC2086
$make install-test "$@" $dirs DESTDIR="$h/destdir" >"$h.log" 2>&1
check_run $? "on the command line"

# In the environment.
# shellcheck disable=SC2086
env $dirs DESTDIR="$h/destdir" $make install-test "$@" >"$h.log" 2>&1
check_run $? "in the environment"

echo "install-isolated: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
