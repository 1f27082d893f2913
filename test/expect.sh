# SPDX-License-Identifier: MIT
# The assertions of the shell tests (tool.sh, loop.sh, install.sh,
# deb-smoke.sh), sourced: counters, expect and refute on a command's exit
# status and output, and the summary line.
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# expect STATUS OUTPUT-SUBSTRING -- COMMAND...: the status, and the
# output (stdout and stderr) contains the substring
expect() {
  run_case 0 "$@"
}

# refute STATUS OUTPUT-SUBSTRING-THAT-MUST-NOT-APPEAR -- COMMAND...
refute() {
  run_case 1 "$@"
}

run_case() {  # run_case NEGATE STATUS SUBSTRING -- COMMAND...
  negate=$1 want_status=$2 want_out=$3
  shift 4
  out=$("$@" 2>&1)
  status=$?
  case "$out" in *"$want_out"*) found=1 ;; *) found=0 ;; esac
  [ "$negate" -eq 1 ] && found=$((1 - found))
  if [ "$status" -eq "$want_status" ] && [ "$found" -eq 1 ]; then
    ok
  else
    bad "$* -> status $status (want $want_status), output:"
    echo "$out"
    if [ "$negate" -eq 1 ]; then
      echo "  wanted it not to contain: $want_out"
    else
      echo "  wanted it to contain: $want_out"
    fi
  fi
}

# summary NAME: the counts, and the status of the whole test
summary() {
  echo "$1: $pass passed, $fail failed"
  [ "$fail" -eq 0 ]
}
