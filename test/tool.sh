#!/bin/sh
# tools/curlfence as a user runs it: output and exit status.  Blocked
# fetches never leave the machine: the rules refuse them before connect.
set -u
tool=${CURLFENCE_TOOL:-tools/curlfence}
def=$(pwd)/rules/default.rules  # found by the tool's location, not the cwd
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

# libcurl's own error texts change between releases ("Couldn't connect" became
# "Could not connect" in 8.9), so only exit codes and curlfence's words are
# asserted.
expect() {  # expect STATUS OUTPUT-SUBSTRING -- COMMAND...
  run_case 0 "$@"
}

refute() {  # refute STATUS OUTPUT-SUBSTRING-THAT-MUST-NOT-APPEAR -- COMMAND...
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
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "FAIL: $* -> status $status (want $want_status), output:"
    echo "$out"
    if [ "$negate" -eq 1 ]; then
      echo "  wanted it not to contain: $want_out"
    else
      echo "  wanted it to contain: $want_out"
    fi
  fi
}

expect 1 "deny 169.254.169.254 ($def:" -- $tool check 169.254.169.254
expect 1 "deny 169.254.169.254 port 80 ($def:30: deny 169.254.169.254)" -- $tool check 169.254.169.254 80
expect 0 "allow 93.184.215.14 port 443 ($def:7: default allow)" -- $tool check 93.184.215.14 443
expect 1 "deny ::ffff:127.0.0.1 ($def:14: deny 127.0.0.0/8)" -- $tool check ::ffff:127.0.0.1
expect 0 "allow 2606:4700::1111" -- $tool check 2606:4700::1111
expect 2 "is not a numeric IPv4 or IPv6 address" -- $tool check example.com
expect 2 "invalid port" -- $tool check 1.2.3.4 65536
printf 'deny 10/8\n' >"$tmp/bad.rules"
expect 2 "bad.rules:1:6: incomplete IPv4 address \"10\"" -- $tool check -r "$tmp/bad.rules" 1.2.3.4
expect 2 "usage:" -- $tool nonsense

expect 7 "curlfence: blocked 127.0.0.1 port 8080 by $def:14 (deny 127.0.0.0/8)" -- $tool fetch http://127.0.0.1:8080/
expect 7 "blocked 127.0.0.1 port 8080" -- $tool fetch http://2130706433:8080/
expect 7 "blocked 0.0.0.0 port 80 by $def:11 (deny 0.0.0.0/8)" -- $tool fetch http://0/
expect 7 "blocked 169.254.169.254 port 80" -- $tool fetch --audit "$tmp/a.jsonl" http://169.254.169.254/
expect 0 "jsonl_check: 1 lines ok" -- python3 test/jsonl_check.py "$tmp/a.jsonl" 1 decision=deny addr=169.254.169.254 "rule.text=deny 169.254.169.254"
expect 7 "stats: generation 1, allowed 0, denied 2" -- $tool fetch --stats http://localhost:9/
expect 7 "x $def:14: deny 127.0.0.0/8" -- $tool fetch --stats http://localhost:9/
# CURLE_UNSUPPORTED_PROTOCOL: file:// is never fetched, nothing is blocked.
expect 1 "curlfence: " -- $tool fetch file:///etc/passwd
refute 1 "blocked" -- $tool fetch file:///etc/passwd
expect 7 "would block (report-only) 127.0.0.1 port 9 by $def:14" -- $tool fetch --report-only http://127.0.0.1:9/
# Report-only lets the connection be tried: it fails (CURLE_COULDNT_CONNECT),
# and curlfence does not claim it blocked it.
refute 7 "curlfence: blocked" -- $tool fetch --report-only http://127.0.0.1:9/

# Where the rules come from: -r, else CURLFENCE_RULES, else the tree's
# default for this tool; never a rules/default.rules in the working
# directory.  A copy of the tool outside the tree knows only the installed
# default.
abs_tool=$(cd "$(dirname "$tool")" && pwd)/$(basename "$tool")
mkdir -p "$tmp/cwd/rules"
printf 'default allow\nallow 0.0.0.0/0\n' >"$tmp/cwd/rules/default.rules"
printf 'default deny\nallow 127.0.0.7\n' >"$tmp/env.rules"
expect 1 "deny 127.0.0.1 ($def:14: deny 127.0.0.0/8)" -- sh -c "cd '$tmp/cwd' && '$abs_tool' check 127.0.0.1"
expect 1 "deny 127.0.0.1 ($def:14:" -- sh -c "cd / && '$abs_tool' check 127.0.0.1"
expect 0 "allow 127.0.0.7 ($tmp/env.rules:2: allow 127.0.0.7)" -- env CURLFENCE_RULES="$tmp/env.rules" $tool check 127.0.0.7
expect 1 "deny 127.0.0.7 ($def:14:" -- env CURLFENCE_RULES="$tmp/env.rules" $tool check -r "$def" 127.0.0.7
expect 1 "deny 127.0.0.7 ($def:14:" -- env CURLFENCE_RULES= $tool check 127.0.0.7
expect 0 "RULES defaults to $tmp/env.rules." -- env CURLFENCE_RULES="$tmp/env.rules" $tool --help
cp "$tool" "$tmp/copy"
expect 0 "/curlfence/default.rules." -- "$tmp/copy" --help
if "$tmp/copy" --help | grep -q "$def"; then
  fail=$((fail + 1)); echo "FAIL: a copy outside the tree uses the tree's rules"
else
  pass=$((pass + 1))
fi

# compile: an image answers like its rules, says so when they change, and
# replaces the old image by rename.
mkdir -p "$tmp/img"
printf 'default allow\ndeny 192.0.2.0/24\ninclude more.rules\n' >"$tmp/img/site.rules"
printf 'deny 198.51.100.7 port 443\n' >"$tmp/img/more.rules"
expect 0 "$tmp/img/site.cfimg: 2 rules, " -- $tool compile "$tmp/img/site.rules" -o "$tmp/img/site.cfimg"
expect 1 "deny 192.0.2.9 ($tmp/img/site.rules:2: deny 192.0.2.0/24)" -- $tool check -r "$tmp/img/site.cfimg" 192.0.2.9
expect 1 "deny 198.51.100.7 port 443 ($tmp/img/more.rules:1: deny 198.51.100.7 port 443)" -- $tool check -r "$tmp/img/site.cfimg" 198.51.100.7 443
expect 0 "allow 198.51.100.7 port 80" -- $tool check -r "$tmp/img/site.cfimg" 198.51.100.7 80
refute 0 "stale" -- $tool check -r "$tmp/img/site.cfimg" 198.51.100.7 80
expect 0 "$tmp/img/b.cfimg: 2 rules" -- $tool compile -r "$tmp/img/site.rules" -o "$tmp/img/b.cfimg"
printf 'deny 198.51.100.8\n' >"$tmp/img/more.rules"
expect 0 "curlfence: warning: $tmp/img/site.cfimg is stale: $tmp/img/more.rules: changed since $tmp/img/site.cfimg was compiled" -- $tool check -r "$tmp/img/site.cfimg" 198.51.100.7 80
expect 2 "missing -o FILE" -- $tool compile "$tmp/img/site.rules"
expect 2 "expected one RULES file" -- $tool compile -r "$tmp/img/site.rules" x.rules -o "$tmp/img/c.cfimg"
expect 2 "cannot open" -- $tool compile "$tmp/img/none.rules" -o "$tmp/img/c.cfimg"
printf '\211CFIMG\r\n' >"$tmp/img/bad.cfimg"
expect 2 "curlfence: $tmp/img/bad.cfimg: offset 8: truncated: 8 bytes, the header alone is 64" -- $tool check -r "$tmp/img/bad.cfimg" 192.0.2.9

echo "tool: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
