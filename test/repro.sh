#!/bin/sh
# SPDX-License-Identifier: MIT
# Reproducible builds: the source tree copied into two directories of
# different names and depths, each built and installed with the same
# SOURCE_DATE_EPOCH and directory variables, must install byte-identical
# files (debug information included) and no path of either build tree.
# Not part of make check (it builds twice); CI runs it.
# Environment: MAKE, CC.
set -eu
make=${MAKE:-make}
top=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(date -u -d 2026-12-07 +%s)}
export SOURCE_DATE_EPOCH
vars="prefix=/usr sysconfdir=/etc libdir=/usr/lib/triplet"

build() {  # build DIR: copy, build and install into DIR/stage
  mkdir -p "$1/src"
  tar -C "$top" --exclude='./build*' --exclude=./.git \
    --exclude=./debian/tmp -cf - . | tar -C "$1/src" -xf -
  # shellcheck disable=SC2086
  if ! (cd "$1/src" && $make -j2 $vars >"$1/make.log" 2>&1 &&
        $make install $vars DESTDIR="$1/stage" >>"$1/make.log" 2>&1); then
    cat "$1/make.log"
    echo "repro: the build in $1 failed"
    exit 1
  fi
}

a=$tmp/a
b=$tmp/build-tree-with-a-longer-name/b
build "$a"
build "$b"

fail=0
# The same names, types, modes and link targets ...
(cd "$a/stage" && find . -printf '%y %m %p %l\n' | sort) >"$tmp/a.list"
(cd "$b/stage" && find . -printf '%y %m %p %l\n' | sort) >"$tmp/b.list"
if ! diff -u "$tmp/a.list" "$tmp/b.list"; then
  echo "repro: the two installs hold different files"
  fail=1
fi
# ... the same bytes ...
n=0
for f in $(cd "$a/stage" && find . -type f | sort); do
  n=$((n + 1))
  if ! cmp -s "$a/stage/$f" "$b/stage/$f"; then
    echo "repro: $f differs between the two builds"
    fail=1
  fi
done
# ... and neither build directory named in any of them.
for d in "$a" "$b"; do
  hits=$(grep -rlaF "$d" "$d/stage" || true)
  if [ -n "$hits" ]; then
    echo "repro: the build directory $d appears in:"
    echo "$hits"
    fail=1
  fi
done
[ "$fail" -eq 0 ] || exit 1
echo "repro: $n installed files, byte-identical from two build directories"
