#!/bin/sh
# The shared library must export exactly the functions declared in the
# public header, nothing more and nothing less.
set -eu
lib=$1
header=include/curlfence.h
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only "$lib" | awk '$2 == "T" { print $3 }' | sort >"$tmp/exported"
grep -o 'curlfence_[a-z_]*(' "$header" | tr -d '(' | sort -u >"$tmp/declared"
if ! diff -u "$tmp/declared" "$tmp/exported"; then
  echo "exports: $lib and $header disagree (- declared only, + exported only)"
  exit 1
fi
echo "exports: $(wc -l <"$tmp/exported") functions, all declared in $header"
