#!/bin/sh
# SPDX-License-Identifier: MIT
# The layers of lib/ (README.md, Layout), checked on the objects: a file
# references only symbols of its own layer or of a lower one (engine <
# guard < review), no two files of lib/ reference each other in a cycle,
# and the shared library carries no review code.  Usage:
#   test/layers.sh BUILD [BINARY...]
# Every BINARY (the shared library, the tool) must also hold no test hook:
# those are compiled only into the test programs' copies (CF_TEST_HOOKS).
set -eu
build=$1
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

rank() {
  case $1 in
    engine) echo 0 ;;
    guard) echo 1 ;;
    review) echo 2 ;;
    *) echo "layers: $1 is no known layer" >&2; exit 1 ;;
  esac
}

# "file symbol" for what each object defines and what it leaves undefined;
# file is LAYER/NAME, as under lib/.
: >"$tmp/defs"
: >"$tmp/refs"
for o in "$build"/lib/*/*.o; do
  f=${o#"$build"/lib/}
  f=${f%.o}
  nm -g --defined-only "$o" | awk -v f="$f" 'NF == 3 { print f, $3 }' >>"$tmp/defs"
  nm -u "$o" | awk -v f="$f" '{ print f, $NF }' >>"$tmp/refs"
done
if [ ! -s "$tmp/defs" ]; then
  echo "layers: no objects under $build/lib"
  exit 1
fi

# "from to" for each reference from one file of lib/ to another.
sort -k2,2 "$tmp/defs" >"$tmp/defs.s"
sort -k2,2 "$tmp/refs" >"$tmp/refs.s"
join -1 2 -2 2 -o 1.1,2.1,0 "$tmp/refs.s" "$tmp/defs.s" | sort -u >"$tmp/edges"

while read -r from to sym; do
  rf=$(rank "${from%%/*}")
  rt=$(rank "${to%%/*}")
  if [ "$rt" -gt "$rf" ]; then
    echo "layers: $from uses $sym of $to, a higher layer"
    status=1
  fi
done <"$tmp/edges"

# tsort names the files of a cycle when it finds one.
awk '$1 != $2 { print $1, $2 }' "$tmp/edges" | sort -u >"$tmp/pairs"
if ! tsort "$tmp/pairs" >/dev/null 2>"$tmp/tsort"; then
  echo "layers: files of lib/ that reference each other in a cycle:"
  sed "s|^tsort: [^:]*: ||" "$tmp/tsort"
  status=1
fi

# What the review code defines must not be in the shared library.
awk '$1 ~ /^review\// { print $2 }' "$tmp/defs" | sort -u >"$tmp/review"
so="$build/libcurlfence.so"
nm "$so" | awk 'NF == 3 { print $3 }' | sort -u >"$tmp/so"
comm -12 "$tmp/review" "$tmp/so" >"$tmp/leak"
if [ -s "$tmp/leak" ]; then
  echo "layers: review code in $so:"
  cat "$tmp/leak"
  status=1
fi

for bin in "$so" "$@"; do
  if nm "$bin" | grep -Eq '(cf_test_load_hook|cf_self_inject|reload_loaded_hook)'; then
    echo "layers: test hook in $bin:"
    nm "$bin" | grep -E '(cf_test_load_hook|cf_self_inject|reload_loaded_hook)'
    status=1
  fi
done

[ "$status" -eq 0 ] && echo "layers: engine < guard < review, no cycle, $so clean"
exit "$status"
