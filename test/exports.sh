#!/bin/sh
# SPDX-License-Identifier: MIT
# The shared library must export exactly the functions declared in the
# public header, nothing more and nothing less, each under a symbol
# version of lib/curlfence.map and each with a man page.  The static archive, when
# given, must define exactly the same global symbols (internals are local).
set -eu
lib=$1
archive=${2:-}
header=include/curlfence.h
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
grep -o 'curlfence_[a-z_0-9]*(' "$header" | tr -d '(' | sort -u >"$tmp/declared"

# objdump -T: ... DF .text SIZE VERSION NAME for defined functions
objdump -T "$lib" | awk '$2 == "g" && $4 == ".text" { print $NF }' | sort >"$tmp/exported"
if ! diff -u "$tmp/declared" "$tmp/exported"; then
  echo "exports: $lib and $header disagree (- declared only, + exported only)"
  status=1
fi
objdump -T "$lib" | awk '$2 == "g" && $4 != "*UND*" && $(NF-1) !~ /^CURLFENCE_[0-9.]+$/ { print $NF }' \
  >"$tmp/unversioned"
if [ -s "$tmp/unversioned" ]; then
  echo "exports: not under a CURLFENCE_ symbol version in $lib:"
  cat "$tmp/unversioned"
  status=1
fi

if [ -n "$archive" ]; then
  nm -g --defined-only "$archive" | awk 'NF == 3 { print $2, $3 }' | sort >"$tmp/global"
  awk '{ print $2 }' "$tmp/global" >"$tmp/names"
  if ! diff -u "$tmp/declared" "$tmp/names"; then
    echo "exports: global symbols of $archive and $header disagree"
    status=1
  fi
  if awk '$1 != "T" { bad = 1 } END { exit !bad }' "$tmp/global"; then
    echo "exports: $archive defines global symbols that are not functions:"
    awk '$1 != "T"' "$tmp/global"
    status=1
  fi
fi

while read -r fn; do
  if [ ! -f "docs/$fn.3" ]; then
    echo "exports: $fn has no man page docs/$fn.3"
    status=1
  fi
done <"$tmp/declared"
[ "$status" -eq 0 ] || exit 1
echo "exports: $(wc -l <"$tmp/exported") functions, all declared in $header," \
  "each under a CURLFENCE_ symbol version and with a man page${archive:+; $archive defines nothing else}"
