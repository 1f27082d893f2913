#!/bin/sh
# SPDX-License-Identifier: MIT
# The registry of Check tests (test/testutil.h): every test/test_*.c
# names exactly one suite (TU_SUITE or TU_SUITE_STATIC_ONLY) and defines
# its tests with TU_TEST or TU_LOOP, never with a bare START_TEST, which
# would never run; and the test program PROG, which runs every test
# linked into it, holds one entry per test.  Usage: test/suites.sh PROG
set -eu
prog=$1
fail=0
files=0
tests=0
for f in test/test_*.c; do
  files=$((files + 1))
  k=$(grep -cE '^TU_SUITE(_STATIC_ONLY)?\(' "$f" || true)
  if [ "$k" != 1 ]; then
    echo "suites: $f names $k suites (TU_SUITE), not one"
    fail=1
  fi
  if grep -n '^START_TEST' "$f"; then
    echo "suites: $f defines a test with START_TEST: use TU_TEST"
    fail=1
  fi
  tests=$((tests + $(grep -cE '^TU_(TEST|LOOP)\(' "$f" || true)))
done
# The section holds one pointer per registered test.
size=$(objdump -h "$prog" | awk '$2 == "tu_tests" { print $3 }')
have=$(( 0x${size:-0} / ($(getconf LONG_BIT) / 8) ))
if [ "$have" != "$tests" ]; then
  echo "suites: $prog holds $have tests, test/test_*.c define $tests"
  fail=1
fi
[ "$fail" -eq 0 ] &&
  echo "suites: $files files, $tests tests, each registered in $prog"
exit "$fail"
