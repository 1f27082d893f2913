#!/bin/sh
# SPDX-License-Identifier: MIT
# scripts/checksrc finds what it is meant to find: every rule broken once
# in test/checksrc/bad.sample, with the exact FILE:LINE:COLUMN messages of
# bad.expected; a function and a file over the size limits, allowed only
# with a reason.
set -eu
cd "$(dirname "$0")/checksrc"
checksrc=$(cd ../../scripts && pwd)/checksrc
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

if "$checksrc" bad.sample >"$tmp/out"; then
  echo "checksrc: bad.sample passed"
  fail=1
fi
if ! diff -u bad.expected "$tmp/out"; then
  echo "checksrc: unexpected findings in bad.sample"
  fail=1
fi

# long.c: a function of 101 lines in a file of 801.
{
  echo '/* SPDX-License-Identifier: MIT */'
  echo 'static int f(int x)'
  echo '{'
  i=0
  while [ $i -lt 101 ]; do
    echo '  x++;'
    i=$((i + 1))
  done
  echo '}'
  while [ $i -lt 797 ]; do
    echo
    i=$((i + 1))
  done
} >"$tmp/body"
(cd "$tmp" && cp body long.c && "$checksrc" long.c >out) && fail=1
cat >"$tmp/expected" <<'END'
long.c:1:1: LONGFILE: 801 lines, over 800: split it by concern, or say why not at its top
long.c:2:1: LONGFUNC: function 'f' has 101 lines, over 100: split it, or say why not in a comment above it
END
diff -u "$tmp/expected" "$tmp/out" || fail=1

# The same with the reasons written where the checker reads them.
{
  echo '/* checksrc: allow LONGFILE one generated table */'
  echo '/* checksrc: allow LONGFUNC a flat list of steps */'
  sed 1d "$tmp/body"
} >"$tmp/long.c"
(cd "$tmp" && "$checksrc" -q long.c) || fail=1

[ "$fail" -eq 0 ] || exit 1
echo "checksrc: the checker reports each rule it checks"
