#!/bin/sh
# The shared library must export exactly the functions declared in the
# public header, nothing more and nothing less, and each needs a man page.
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
missing=0
while read -r fn; do
  if [ ! -f "docs/$fn.3" ]; then
    echo "exports: $fn has no man page docs/$fn.3"
    missing=1
  fi
done <"$tmp/declared"
[ "$missing" -eq 0 ] || exit 1
echo "exports: $(wc -l <"$tmp/exported") functions, all declared in $header, each with a man page"
