#!/bin/sh
# SPDX-License-Identifier: MIT
# The registry of Check suites (test/testutil.h): every test/test_*.c
# registers exactly one suite, with TU_SUITE or TU_SUITE_STATIC_ONLY, and
# the test program PROG, which runs every suite linked into it, holds
# one entry per file.  A file that builds a suite any other way would
# never run.  Usage: test/suites.sh PROG
set -eu
prog=$1
fail=0
n=0
for f in test/test_*.c; do
  n=$((n + 1))
  k=$(grep -cE '^TU_SUITE(_STATIC_ONLY)?\(' "$f" || true)
  if [ "$k" != 1 ]; then
    echo "suites: $f registers $k suites (TU_SUITE), not one"
    fail=1
  fi
done
# The section holds one pointer per registered suite.
size=$(objdump -h "$prog" | awk '$2 == "tu_suites" { print $3 }')
ptr=$(getconf LONG_BIT)
have=$(( 0x${size:-0} / (ptr / 8) ))
if [ "$have" != "$n" ]; then
  echo "suites: $prog holds $have suites, test/ has $n test files"
  fail=1
fi
[ "$fail" -eq 0 ] && echo "suites: $n test files, each one suite in $prog"
exit "$fail"
