#!/bin/sh
# tools/curlfence as a user runs it: output and exit status.  Blocked
# fetches never leave the machine: the rules refuse them before connect.
set -u
tool=tools/curlfence
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

expect() {  # expect STATUS OUTPUT-SUBSTRING -- COMMAND...
  want_status=$1 want_out=$2
  shift 3
  out=$("$@" 2>&1)
  status=$?
  if [ "$status" -eq "$want_status" ] && case "$out" in *"$want_out"*) true ;; *) false ;; esac; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "FAIL: $* -> status $status (want $want_status), output:"
    echo "$out"
    echo "  wanted it to contain: $want_out"
  fi
}

expect 1 "deny 169.254.169.254 (rules/default.rules:" -- $tool check 169.254.169.254
expect 1 "deny 169.254.169.254 port 80 (rules/default.rules:30: deny 169.254.169.254)" -- $tool check 169.254.169.254 80
expect 0 "allow 93.184.215.14 port 443 (rules/default.rules:7: default allow)" -- $tool check 93.184.215.14 443
expect 1 "deny ::ffff:127.0.0.1 (rules/default.rules:14: deny 127.0.0.0/8)" -- $tool check ::ffff:127.0.0.1
expect 0 "allow 2606:4700::1111" -- $tool check 2606:4700::1111
expect 0 "allow 64:ff9b::808:808 port 443 as 8.8.8.8 (rules/default.rules:7: default allow)" -- $tool check 64:ff9b::808:808 443
expect 1 "deny 64:ff9b::7f00:1 port 80 as 127.0.0.1 (rules/default.rules:14: deny 127.0.0.0/8)" -- $tool check 64:ff9b::7f00:1 80
expect 1 "deny 64:ff9b:1::1 (rules/default.rules:" -- $tool check 64:ff9b:1::1
printf 'nat64 64:ff9b::/96\ndeny 64:ff9b::1\n' >"$tmp/n64.rules"
expect 2 "n64.rules:2:6: \"64:ff9b::1\" lies inside nat64 prefix \"64:ff9b::/96\"" -- $tool check -r "$tmp/n64.rules" 1.2.3.4
expect 2 "is not a numeric IPv4 or IPv6 address" -- $tool check example.com
expect 2 "invalid port" -- $tool check 1.2.3.4 65536
printf 'deny 10/8\n' >"$tmp/bad.rules"
expect 2 "bad.rules:1:6: incomplete IPv4 address \"10\"" -- $tool check -r "$tmp/bad.rules" 1.2.3.4
expect 2 "usage:" -- $tool nonsense

expect 7 "curlfence: blocked 127.0.0.1 port 8080 by rules/default.rules:14 (deny 127.0.0.0/8)" -- $tool fetch http://127.0.0.1:8080/
expect 7 "blocked 127.0.0.1 port 8080" -- $tool fetch http://2130706433:8080/
expect 7 "blocked 0.0.0.0 port 80 by rules/default.rules:11 (deny 0.0.0.0/8)" -- $tool fetch http://0/
expect 7 "blocked 169.254.169.254 port 80" -- $tool fetch --audit "$tmp/a.jsonl" http://169.254.169.254/
expect 0 "jsonl_check: 1 lines ok" -- python3 test/jsonl_check.py "$tmp/a.jsonl" 1 decision=deny addr=169.254.169.254 "rule.text=deny 169.254.169.254"
expect 7 "stats: generation 1, allowed 0, denied 2" -- $tool fetch --stats http://localhost:9/
expect 7 "x rules/default.rules:14: deny 127.0.0.0/8" -- $tool fetch --stats http://localhost:9/
expect 1 "Unsupported protocol" -- $tool fetch file:///etc/passwd
expect 7 "would block (report-only) 127.0.0.1 port 9 by rules/default.rules:14" -- $tool fetch --report-only http://127.0.0.1:9/
expect 7 "curlfence: Couldn't connect to server" -- $tool fetch --report-only http://127.0.0.1:9/

echo "tool: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
