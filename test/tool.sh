#!/bin/sh
# SPDX-License-Identifier: MIT
# tools/curlfence as a user runs it: output and exit status.  Blocked
# fetches never leave the machine: the rules refuse them before connect.
set -u
tool=${CURLFENCE_TOOL:-tools/curlfence}
def=$(pwd)/rules/default.rules  # found by the tool's location, not the cwd
rf() {  # rf RULE: the file of the default rules that says RULE, as
        # rules/default.rules or the never-reach list it includes
  for f in rules/default.rules rules/never-reach.rules; do
    if grep -q -E "^$1([[:space:]]|\$)" "$f"; then echo "$f"; return; fi
  done
}
ln() {  # ln RULE: the line of that file that says RULE
  grep -n -E "^$1([[:space:]]|\$)" "$(rf "$1")" | head -n 1 | cut -d: -f1
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/expect.sh"

# libcurl's own error texts change between releases ("Couldn't connect" became
# "Could not connect" in 8.9), so only exit codes and curlfence's words are
# asserted.

# run hands the rules to the command by path, and standard input is the
# command's: "-" is refused, never taken for a file "-" in the current
# directory, as it was (this one would allow everything).
mkdir -p "$tmp/dash"
printf 'default allow\n' >"$tmp/dash/-"
atool=$(cd "$(dirname "$tool")" && pwd)/${tool##*/}
expect 2 "the rules (-r -) cannot come from standard input" -- \
  sh -c "cd '$tmp/dash' && '$atool' run -r - -- true"
expect 2 "the rules (CURLFENCE_RULES=-) cannot come from standard input" -- \
  sh -c "cd '$tmp/dash' && CURLFENCE_RULES=- '$atool' run -- true"

expect 1 "deny 169.254.169.254 ($(pwd)/$(rf "deny 169.254.169.254"):" -- $tool check 169.254.169.254
expect 1 "deny 169.254.169.254 port 80 ($(pwd)/$(rf "deny 169.254.169.254"):$(ln "deny 169.254.169.254"): deny 169.254.169.254)" -- $tool check 169.254.169.254 80
expect 0 "allow 93.184.215.14 port 443 ($(pwd)/$(rf "default allow"):$(ln "default allow"): default allow)" -- $tool check 93.184.215.14 443
expect 1 "deny ::ffff:127.0.0.1 ($(pwd)/$(rf "deny 127.0.0.0/8"):$(ln "deny 127.0.0.0/8"): deny 127.0.0.0/8)" -- $tool check ::ffff:127.0.0.1
expect 0 "allow 2606:4700::1111" -- $tool check 2606:4700::1111
expect 0 "allow 64:ff9b::808:808 port 443 as 8.8.8.8 ($(pwd)/$(rf "default allow"):$(ln "default allow"): default allow)" -- $tool check 64:ff9b::808:808 443
expect 1 "deny 64:ff9b::7f00:1 port 80 as 127.0.0.1 ($(pwd)/$(rf "deny 127.0.0.0/8"):$(ln "deny 127.0.0.0/8"): deny 127.0.0.0/8)" -- $tool check 64:ff9b::7f00:1 80
expect 1 "deny 64:ff9b:1::1 ($(pwd)/$(rf "deny ::/0"):$(ln "deny ::/0"): deny ::/0)" -- $tool check 64:ff9b:1::1
printf 'nat64 64:ff9b::/96\ndeny 64:ff9b::1\n' >"$tmp/n64.rules"
expect 2 "n64.rules:2:6: \"64:ff9b::1\" lies inside nat64 prefix \"64:ff9b::/96\"" -- $tool check -r "$tmp/n64.rules" 1.2.3.4
# nat64 in the review tools: explain decides on the embedded address,
# diff names a prefix declared on one side, lint says nothing of self
expect 1 "1. $(pwd)/$(rf "deny 127.0.0.0/8"):$(ln "deny 127.0.0.0/8"): deny 127.0.0.0/8 -- decides" -- $tool explain 64:ff9b::7f00:1 80
expect 1 "is decided as the IPv4 address 127.0.0.1 it embeds" -- $tool explain 64:ff9b::7f00:1 80
mkdir -p "$tmp/no64"
cp rules/default.rules "$tmp/no64/"
grep -v '^nat64 64:ff9b::/96' rules/never-reach.rules >"$tmp/no64/never-reach.rules"
expect 1 "nat64 64:ff9b::/96: not declared -> declared ($(rf "nat64 64:ff9b::\/96"):$(ln "nat64 64:ff9b::\/96"))" -- $tool diff "$tmp/no64/default.rules" rules/default.rules
refute 0 "self" -- $tool lint rules/default.rules
expect 2 "\"10.0.0.0/8\": not an address or a host name" -- $tool check 10.0.0.0/8
expect 2 "invalid port" -- $tool check 1.2.3.4 65536
printf 'deny 10/8\n' >"$tmp/bad.rules"
expect 2 "bad.rules:1:6: incomplete IPv4 address \"10\"" -- $tool check -r "$tmp/bad.rules" 1.2.3.4
# a line with more words than any directive takes: the first extra word
printf 'allow 1.2.3.4 port 443 foo tcp\n' >"$tmp/extra.rules"
expect 2 "$tmp/extra.rules:1:24: unexpected \"foo\" (expected end of line) [syntax]" -- $tool lint "$tmp/extra.rules"

# The tool itself loads no library but libc (`run` would pay for each
# before every program it starts); the other commands run the tree's
# curlfence-commands, which does not load libcurl; fetch runs the tree's
# curlfence-fetch.
for lib in libcurl libcidr libidn2 libpsl libjansson; do
  refute 0 "$lib" -- readelf -d "$tool"
done
refute 0 "libcurl" -- readelf -d "$(dirname "$tool")/curlfence-commands"
expect 0 "libcidr" -- readelf -d "$(dirname "$tool")/curlfence-commands"
expect 0 "libcurl" -- readelf -d "$(dirname "$tool")/curlfence-fetch"
expect 7 "curlfence: blocked 127.0.0.1 port 8080 by $(pwd)/$(rf "deny 127.0.0.0/8"):$(ln "deny 127.0.0.0/8") (deny 127.0.0.0/8)" -- $tool fetch http://127.0.0.1:8080/
expect 7 "blocked 127.0.0.1 port 8080" -- $tool fetch http://2130706433:8080/
expect 7 "blocked 0.0.0.0 port 80 by $(pwd)/$(rf "deny 0.0.0.0/8"):$(ln "deny 0.0.0.0/8") (deny 0.0.0.0/8)" -- $tool fetch http://0/
expect 7 "blocked 127.0.0.1 port 9" -- $tool fetch --audit "$tmp/a.jsonl" http://127.0.0.1:9/
expect 0 "jsonl_check: 1 lines ok" -- python3 test/jsonl_check.py "$tmp/a.jsonl" 1 decision=deny addr=127.0.0.1 "rule.text=deny 127.0.0.0/8"
# --audit from the environment when the option is not given
CURLFENCE_AUDIT="$tmp/env-a.jsonl" $tool fetch http://127.0.0.1:9/ >/dev/null 2>&1
expect 0 "jsonl_check: 1 lines ok" -- python3 test/jsonl_check.py "$tmp/env-a.jsonl" 1 decision=deny addr=127.0.0.1
CURLFENCE_AUDIT="$tmp/env-b.jsonl" $tool fetch --audit "$tmp/opt-b.jsonl" http://127.0.0.1:9/ >/dev/null 2>&1
expect 0 "jsonl_check: 1 lines ok" -- python3 test/jsonl_check.py "$tmp/opt-b.jsonl" 1 decision=deny addr=127.0.0.1
expect 1 "" -- test -e "$tmp/env-b.jsonl"
expect 7 "stats: generation 1, allowed 0, denied 2" -- $tool fetch --stats http://localhost:9/
expect 7 "x $(pwd)/$(rf "deny 127.0.0.0/8"):$(ln "deny 127.0.0.0/8"): deny 127.0.0.0/8" -- $tool fetch --stats http://localhost:9/
# CURLE_UNSUPPORTED_PROTOCOL: file:// is never fetched, nothing is blocked.
expect 1 "curlfence: " -- $tool fetch file:///etc/passwd
refute 1 "blocked" -- $tool fetch file:///etc/passwd
expect 7 "would block (report-only) 127.0.0.1 port 9 by $(pwd)/$(rf "deny 127.0.0.0/8"):$(ln "deny 127.0.0.0/8")" -- $tool fetch --report-only http://127.0.0.1:9/
# Report-only lets the connection be tried: it fails (CURLE_COULDNT_CONNECT),
# and curlfence does not claim it blocked it.
refute 7 "curlfence: blocked" -- $tool fetch --report-only http://127.0.0.1:9/


# expect_stdout STATUS EXPECTED -- COMMAND...: standard output exactly
expect_stdout() {
  want_status=$1 want_out=$2
  shift 3
  out=$("$@" 2>"$tmp/stderr")
  status=$?
  if [ "$status" -eq "$want_status" ] && [ "$out" = "$want_out" ]; then
    ok
  else
    bad "$* -> status $status (want $want_status), stdout:"
    echo "$out"
    echo "  wanted:"
    echo "$want_out"
    echo "  stderr:"
    cat "$tmp/stderr"
  fi
}

# ---- option conventions, shared by every subcommand
expect 0 "usage: curlfence check [OPTIONS] ADDRESS[:PORT]... | ADDRESS PORT" -- $tool check --help
expect 0 "usage: curlfence fetch [OPTIONS] URL" -- $tool help fetch
expect 0 "curlfence 0." -- $tool --version
expect 0 "check" -- $tool --help
expect 2 "curlfence: unknown command \"nonsense\"
Try 'curlfence --help'." -- $tool nonsense
expect 2 "curlfence check: unknown option '--bogus'
Try 'curlfence check --help'." -- $tool check --bogus 1.2.3.4
expect 2 "curlfence fetch: option '-r' needs an argument" -- $tool fetch http://127.0.0.1/ -r
expect 2 "curlfence check: option '--json' takes no argument" -- $tool check --json=yes 1.2.3.4
printf 'default deny\nallow 10.0.0.0/8\n' >"$tmp/ten.rules"
expect 0 "allow 10.1.2.3 (" -- $tool check -r "$tmp/ten.rules" 10.1.2.3
expect 0 "allow 10.1.2.3 (" -- $tool check --rules "$tmp/ten.rules" 10.1.2.3
expect 0 "allow 10.1.2.3 (" -- $tool check --rules="$tmp/ten.rules" 10.1.2.3
expect 0 "allow 10.1.2.3 (" -- $tool check 10.1.2.3 -r"$tmp/ten.rules"
expect 0 "allow 10.1.2.3 (" -- $tool check -r "$tmp/ten.rules" -- 10.1.2.3
expect 2 "Use -r FILE" -- $tool check -r "$tmp/none.rules" 10.1.2.3
expect 2 "Run 'curlfence lint $tmp/bad.rules'" -- $tool check -r "$tmp/bad.rules" 10.1.2.3

# ---- bash completion, against the command table the tool prints: every
# command, exactly the options of each, and an argument (not options) after
# each option that takes one
expect 0 "check -r|--rules=FILE -p|--port=PORT -n|--numeric -q|--quiet --resolve=HOST:PORT:ADDR[,ADDR] --json -h|--help" -- $tool --list-options
if command -v bash >/dev/null; then
  complete_words() {  # complete_words WORDS...: what completion offers
    bash -c '. tools/curlfence.bash; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _curlfence; printf "%s\n" "${COMPREPLY[@]}"' _ "$@"
  }
  $tool --list-options >"$tmp/table"
  # same_words WANT GOT: the same words, in any order
  same_words() {
    w=$(printf '%s\n' $1 | sort -u | tr '\n' ' ')
    g=$(printf '%s\n' $2 | sort -u | tr '\n' ' ')
    if [ "$w" = "$g" ]; then echo same; else echo "want: $w"; echo "got:  $g"; fi
  }
  set -f  # option arguments such as HOST:PORT:ADDR[,ADDR] are not globs
  cmds=$(cut -d' ' -f1 "$tmp/table")
  expect 0 "same" -- same_words "$cmds help version -h --help -V --version" "$(complete_words curlfence '')"
  expect 0 "same" -- same_words "$cmds" "$(complete_words curlfence help '')"
  while read -r c spellings; do
    opts=$(printf '%s\n' $spellings | sed 's/=.*//' | tr '|' ' ')
    # run also offers "--", which ends its options
    expect 0 "same" -- same_words "$opts" "$(complete_words curlfence "$c" - | grep -v -x -e --)"
    for o in $(printf '%s\n' $spellings | grep = | sed 's/=.*//' | tr '|' ' '); do
      expect 0 "none" -- sh -c 'case "$1" in *-[a-z]*) echo "$1" ;; *) echo none ;; esac' _ "$(complete_words curlfence "$c" "$o" -)"
    done
  done <"$tmp/table"
  set +f
  mkdir -p "$tmp/comp"
  : >"$tmp/comp/a.rules"; : >"$tmp/comp/b.cfimg"; : >"$tmp/comp/c.txt"
  for c in $(grep -e ' -r|--rules=' "$tmp/table" | cut -d' ' -f1); do
    expect 0 "$tmp/comp/a.rules
$tmp/comp/b.cfimg" -- complete_words curlfence "$c" --rules "$tmp/comp/"
    refute 0 "c.txt" -- complete_words curlfence "$c" -r "$tmp/comp/"
  done
  for c in lint diff compile; do
    expect 0 "$tmp/comp/a.rules" -- complete_words curlfence "$c" "$tmp/comp/"
    refute 0 "c.txt" -- complete_words curlfence "$c" "$tmp/comp/"
  done
  expect 0 "explain" -- complete_words curlfence ex
  expect 0 "--connect-timeout" -- complete_words curlfence fetch --con
  expect 0 "rules/default.rules" -- complete_words curlfence check -r rules/def
  expect 0 "rules/examples/" -- complete_words curlfence lint rules/ex
  # run: the command after "--", not run's options
  expect 0 "printf" -- complete_words curlfence run -r x.rules -- printf
  refute 0 "--keep-proxy" -- complete_words curlfence run -- curl --k
fi

# ---- check: ports are plain decimal 1-65535
for p in " +80" "+80" "080" "-1" "0" "65536" "8 0" "99999999999"; do
  expect 2 "invalid port \"$p\" (expected 1-65535)" -- $tool check 1.2.3.4 "$p"
done
expect 0 "allow 1.2.3.4 port 65535 (" -- $tool check 1.2.3.4 65535
expect 0 "allow 1.2.3.4 port 1 (" -- $tool check 1.2.3.4 1

# ---- check: several addresses, host names, zone ids, stdin, --json
expect_stdout 1 "deny 127.0.0.1 port 80 ($(pwd)/$(rf "deny 127.0.0.0/8"):$(ln "deny 127.0.0.0/8"): deny 127.0.0.0/8)
allow 93.184.215.14 port 80 ($(pwd)/$(rf "default allow"):$(ln "default allow"): default allow)" -- $tool check 127.0.0.1 93.184.215.14 -p 80
expect_stdout 0 "allow 93.184.215.14 ($(pwd)/$(rf "default allow"):$(ln "default allow"): default allow)
allow 2606:4700::1111 ($(pwd)/$(rf "allow 2000::/3"):$(ln "allow 2000::/3"): allow 2000::/3)" -- $tool check 93.184.215.14 2606:4700::1111
expect_stdout 1 "deny localhost 127.0.0.1 port 443 ($(pwd)/$(rf "deny 127.0.0.0/8"):$(ln "deny 127.0.0.0/8"): deny 127.0.0.0/8)" -- $tool check localhost 443
expect_stdout 1 "deny fe80::1%lo ($(pwd)/$(rf "deny fe80::/10"):$(ln "deny fe80::/10"): deny fe80::/10)" -- $tool check fe80::1%lo
expect_stdout 1 "deny 2130706433 127.0.0.1 ($(pwd)/$(rf "deny 127.0.0.0/8"):$(ln "deny 127.0.0.0/8"): deny 127.0.0.0/8)" -- $tool check 2130706433
expect 2 "\"fe80::1%no-such-interface\": not an address or a host name" -- $tool check fe80::1%no-such-interface
printf '# a log\n127.0.0.1\n\n93.184.215.14 443\n  ::2   8080  \n' >"$tmp/batch"
expect_stdout 1 "deny 127.0.0.1 port 22 ($(pwd)/$(rf "deny 127.0.0.0/8"):$(ln "deny 127.0.0.0/8"): deny 127.0.0.0/8)
allow 93.184.215.14 port 443 ($(pwd)/$(rf "default allow"):$(ln "default allow"): default allow)
deny ::2 port 8080 ($(pwd)/$(rf "deny ::/96"):$(ln "deny ::/96"): deny ::/96)" -- sh -c "$tool check - 22 <'$tmp/batch'"
printf '93.184.215.14\n' | { expect_stdout 0 "allow 93.184.215.14 ($(pwd)/$(rf "default allow"):$(ln "default allow"): default allow)" -- $tool check -; }
printf '1.2.3.4 080\n10.0.0.1\nnot/an/address\n' >"$tmp/batch2"
expect_stdout 2 "deny 10.0.0.1 ($(pwd)/$(rf "deny 10.0.0.0/8"):$(ln "deny 10.0.0.0/8"): deny 10.0.0.0/8)" -- sh -c "$tool check - <'$tmp/batch2'"
expect 2 "\"080\": invalid port \"080\" (expected 1-65535)" -- sh -c "$tool check - <'$tmp/batch2'"
# a batch: spellings only inet_aton reads are repeated, the others not; a
# rule text longer than the tool's line buffer is written whole
longports=$(seq -s, 1 400)
printf 'default allow\ndeny 10.0.0.0/8\ndeny 1.2.3.0/24 port %s\n' \
  "$longports" >"$tmp/long.rules"
printf '01.2.3.4 7\n010.1.2.3\n10.0.0.00\n9.0.0.0\n255.255.255.255 65535\n199.9.10.100\n1.2.3.255 400\n' >"$tmp/batch3"
expect_stdout 1 "deny 01.2.3.4 1.2.3.4 port 7 ($tmp/long.rules:3: deny 1.2.3.0/24 port $longports)
allow 010.1.2.3 8.1.2.3 ($tmp/long.rules:1: default allow)
deny 10.0.0.00 10.0.0.0 ($tmp/long.rules:2: deny 10.0.0.0/8)
allow 9.0.0.0 ($tmp/long.rules:1: default allow)
allow 255.255.255.255 port 65535 ($tmp/long.rules:1: default allow)
allow 199.9.10.100 ($tmp/long.rules:1: default allow)
deny 1.2.3.255 port 400 ($tmp/long.rules:3: deny 1.2.3.0/24 port $longports)" -- sh -c "$tool check -r '$tmp/long.rules' - <'$tmp/batch3'"
$tool check --json 127.0.0.1 93.184.215.14 -p 443 >"$tmp/check.json"
expect 0 "ok" -- python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 2, rows
want = {"input": "127.0.0.1", "addr": "127.0.0.1", "port": 443, "decision": "deny", "default": False, "reason": "rule", "rule": {"file": sys.argv[2], "line": int(sys.argv[3]), "text": "deny 127.0.0.0/8"}}
assert all(rows[0][k] == v for k, v in want.items()), rows[0]
assert rows[1]["decision"] == "allow" and rows[1]["default"] is True and rows[1]["reason"] == "default", rows[1]
print("ok")' "$tmp/check.json" "$(pwd)/$(rf "deny 127.0.0.0/8")" "$(ln "deny 127.0.0.0/8")"

# ---- version: the library's, the libcurl in use, the default paths
ver=$(sed -n 's/^#define CURLFENCE_VERSION "\(.*\)"$/\1/p' include/curlfence.h)
preload=$(dirname "$(dirname "$(readlink -f "$tool")")")/libcurlfence-preload.so
expect_stdout 0 "curlfence $ver" -- sh -c "$tool --version | head -n 1"
expect 0 "rules: $def
preload: $preload" -- $tool --version
if pkg-config --exists libcurl 2>/dev/null; then
  expect 0 "
libcurl $(pkg-config --modversion libcurl)
" -- $tool --version
fi
expect_stdout 0 "$($tool --version)" -- $tool -V
expect 0 "rules: $tmp/env.rules" -- env CURLFENCE_RULES="$tmp/env.rules" $tool -V
expect 0 "preload: $tmp/none.so (not found)" -- env CURLFENCE_PRELOAD="$tmp/none.so" $tool -V

# ---- check and explain: ADDRESS:PORT, [V6ADDR]:PORT, HOST:PORT, -p, -n
expect_stdout 1 "deny 10.1.2.3 port 443 ($(pwd)/$(rf "deny 10.0.0.0/8"):$(ln "deny 10.0.0.0/8"): deny 10.0.0.0/8)
deny 10.1.2.3 port 22 ($(pwd)/$(rf "deny 10.0.0.0/8"):$(ln "deny 10.0.0.0/8"): deny 10.0.0.0/8)
deny 2001:db8::1 port 8443 ($(pwd)/$(rf "deny 2001:db8::\/32"):$(ln "deny 2001:db8::\/32"): deny 2001:db8::/32)
allow 93.184.215.14 ($(pwd)/$(rf "default allow"):$(ln "default allow"): default allow)" -- $tool check 10.1.2.3:443 10.1.2.3:22 [2001:db8::1]:8443 93.184.215.14
expect_stdout 1 "deny fe80::1%lo port 22 ($(pwd)/$(rf "deny fe80::\/10"):$(ln "deny fe80::\/10"): deny fe80::/10)
deny ::2 ($(pwd)/$(rf "deny ::\/96"):$(ln "deny ::\/96"): deny ::/96)" -- $tool check "[fe80::1%lo]:22" "[::2]"
expect 1 "deny localhost 127.0.0.1 port 443 (" -- $tool check localhost:443
# the trailing PORT: one address only; among several it is not guessed
expect 2 "curlfence check: \"443\" looks like a port, but there are several addresses: write ADDRESS:PORT, [IPV6]:PORT or -p PORT" -- $tool check 10.1.2.3 443 10.1.2.3 22
expect 2 "\"80\" looks like a port" -- $tool check 127.0.0.1 93.184.215.14 80
expect_stdout 1 "deny 10.1.2.3 port 443 ($(pwd)/$(rf "deny 10.0.0.0/8"):$(ln "deny 10.0.0.0/8"): deny 10.0.0.0/8)" -- $tool check 10.1.2.3 443
expect_stdout 1 "deny 2130706433 127.0.0.1 ($(pwd)/$(rf "deny 127.0.0.0/8"):$(ln "deny 127.0.0.0/8"): deny 127.0.0.0/8)
allow 93.184.215.14 ($(pwd)/$(rf "default allow"):$(ln "default allow"): default allow)
deny 10.0.0.1 ($(pwd)/$(rf "deny 10.0.0.0/8"):$(ln "deny 10.0.0.0/8"): deny 10.0.0.0/8)" -- $tool check 2130706433 93.184.215.14 10.0.0.1
# -p: every operand without a port of its own
expect_stdout 1 "deny 10.1.2.3 port 80 ($(pwd)/$(rf "deny 10.0.0.0/8"):$(ln "deny 10.0.0.0/8"): deny 10.0.0.0/8)
deny 10.1.2.4 port 22 ($(pwd)/$(rf "deny 10.0.0.0/8"):$(ln "deny 10.0.0.0/8"): deny 10.0.0.0/8)" -- $tool check -p 80 10.1.2.3 10.1.2.4:22
expect 2 "curlfence check: \"443\" is a second port: -p gives it already" -- $tool check -p 80 10.1.2.3 443
expect 2 "curlfence check: invalid port \"0\"" -- $tool check --port 0 10.1.2.3
for bad in "[1.2.3.4]:80=brackets hold only IPv6 addresses" "[::1=missing \"]\"" \
           "[::1]x=expected \":PORT\" after \"]\"" ":80=missing address before \":\"" \
           "1.2.3.4:0=invalid port \"0\"" "1.2.3.4:080=invalid port \"080\"" \
           "[::1]:=invalid port \"\"" "1.2.3.999=not an address or a host name"; do
  expect 2 "curlfence: \"${bad%%=*}\": ${bad#*=}" -- $tool check -n "${bad%%=*}"
done
# -n: a name is an error, never a lookup; numeric spellings still work
expect 2 "curlfence: \"localhost\": not a numeric address (-n: host names are not resolved)" -- $tool check -n localhost
expect_stdout 2 "deny 2130706433 127.0.0.1 port 80 ($(pwd)/$(rf "deny 127.0.0.0/8"):$(ln "deny 127.0.0.0/8"): deny 127.0.0.0/8)" -- $tool check --numeric no-such-host.test:80 2130706433:80
expect 2 "\"no-such-host.test\": not a numeric address" -- $tool check --numeric no-such-host.test:80 2130706433:80
# standard input: ADDRESS:PORT on a line too; a line's port beats -p
printf '10.1.2.3:443\n[::2]:8080\n10.1.2.3\n10.1.2.3 22\n' >"$tmp/batch3"
expect_stdout 1 "deny 10.1.2.3 port 443 ($(pwd)/$(rf "deny 10.0.0.0/8"):$(ln "deny 10.0.0.0/8"): deny 10.0.0.0/8)
deny ::2 port 8080 ($(pwd)/$(rf "deny ::\/96"):$(ln "deny ::\/96"): deny ::/96)
deny 10.1.2.3 port 9 ($(pwd)/$(rf "deny 10.0.0.0/8"):$(ln "deny 10.0.0.0/8"): deny 10.0.0.0/8)
deny 10.1.2.3 port 22 ($(pwd)/$(rf "deny 10.0.0.0/8"):$(ln "deny 10.0.0.0/8"): deny 10.0.0.0/8)" -- sh -c "$tool check -p 9 - <'$tmp/batch3'"
printf '10.1.2.3:443 22\n' | { expect 2 "\"22\": a second port for an address that names one" -- $tool check -; }
# A batch answers as the operands do, line for line, whichever way the
# tool reads a line: one pass for "ADDRESS [PORT]", the general reading
# for the rest (blanks, comments, ADDRESS:PORT, the unspecified address,
# self rules), with rules files with and without a default line.
printf '10.1.2.3\n10.2.3.4 80\n10.2.3.4 81\n192.0.2.1 443\n0.0.0.0 80\n8.8.8.8\n10.2.3.4\t443\n  10.1.2.3   22 # x\n10.2.3.4:443\n127.0.0.1 65535\n1.2.3.4 99999\n' >"$tmp/same.in"
printf 'allow 10.0.0.0/8 port 80,443\ndeny 10.1.0.0/16\nallow 192.0.2.0/24\ndeny self\n' >"$tmp/same1.rules"
printf 'allow 10.0.0.0/8 port 80,443\ndeny 10.1.0.0/16\nallow 192.0.2.0/24\n' >"$tmp/same2.rules"
printf 'allow 10.0.0.0/8 port 80,443\ndeny 10.1.0.0/16\ndefault allow\n' >"$tmp/same3.rules"
for r in same1 same2 same3; do
  sed -e 's/#.*//' -e 's/[[:space:]][[:space:]]*/ /g' -e 's/^ //' \
    -e 's/ $//' -e 's/ /:/' "$tmp/same.in" | while read -r a; do
    $tool check -r "$tmp/$r.rules" "$a" 2>/dev/null
  done >"$tmp/$r.want"
  $tool check -r "$tmp/$r.rules" - <"$tmp/same.in" >"$tmp/$r.got" 2>/dev/null
  expect 0 "" -- cmp "$tmp/$r.want" "$tmp/$r.got"
  expect 0 "" -- grep -q "^deny 10.1.2.3 (" "$tmp/$r.got"
done
# A program that writes an address and waits for its answer gets it:
# the answers are written before standard input is waited for (into a
# pipe otherwise in large blocks).
for json in "" --json; do
  expect 0 "answer: $([ -n "$json" ] && echo '{"input":"10.1.2.3"' || echo "deny 10.1.2.3 ($tmp/same3.rules:2: deny 10.1.0.0/16)")" -- python3 -c '
import select, subprocess, sys
p = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
p.stdin.write(b"10.1.2.3\n")
p.stdin.flush()
ready = select.select([p.stdout], [], [], 60)[0]
print("answer: " + (p.stdout.readline().decode() if ready else "none"))
p.stdin.close()
sys.exit(p.wait() != 1)
' $tool check $json -r "$tmp/same3.rules" -
done
# -q: nothing on standard output, the status only
expect_stdout 1 "" -- $tool check -q 127.0.0.1 93.184.215.14
expect_stdout 0 "" -- $tool check --quiet 93.184.215.14:443
expect_stdout 1 "" -- $tool check -q --json 127.0.0.1
expect_stdout 2 "" -- $tool check -q 10.0.0.0/8 127.0.0.1
expect 2 "\"10.0.0.0/8\": not an address or a host name" -- $tool check -q 10.0.0.0/8 127.0.0.1
# explain: the same spellings of a port
expect 1 "10.1.2.3 port 443:
  1. $(pwd)/$(rf "deny 10.0.0.0/8"):$(ln "deny 10.0.0.0/8"): deny 10.0.0.0/8 -- decides" -- $tool explain 10.1.2.3:443
expect 1 "::ffff:10.0.0.1 port 80:" -- $tool explain "[::ffff:10.0.0.1]:80"
expect 1 "10.1.2.3 port 22:" -- $tool explain -p 22 10.1.2.3
expect 1 "10.1.2.3 port 80:" -- $tool explain -p 22 10.1.2.3:80
expect 1 "10.1.2.3 port 22:" -- $tool explain 10.1.2.3 22
expect 2 "curlfence explain: \"80\" is a second port for an address that names one" -- $tool explain 10.1.2.3:80 80
expect 2 "curlfence explain: \"80\" is a second port: -p gives it already" -- $tool explain -p 22 10.1.2.3 80
expect 2 "curlfence explain: \"10.1.2.3:0\": invalid port \"0\"" -- $tool explain 10.1.2.3:0

# ---- - for standard input wherever a file is read
printf 'default deny\nallow 10.0.0.0/8\n' >"$tmp/in.rules"
printf 'default allow\n' >"$tmp/allow.rules"
printf 'deny 10.0.0.0/8\ndefault allow\n  deny 10.0.0.0/8   # again\n' >"$tmp/dup.rules"
expect_stdout 1 "allow 10.1.1.1 (<stdin>:2: allow 10.0.0.0/8)
deny 11.1.1.1 (<stdin>:1: default deny)" -- sh -c "$tool check -r - 10.1.1.1 11.1.1.1 <'$tmp/in.rules'"
expect 0 "decision: allow (<stdin>:2: allow 10.0.0.0/8)" -- sh -c "$tool explain --rules - 10.1.1.1 <'$tmp/in.rules'"
# its includes are relative to the working directory
expect 1 "deny 127.0.0.1 ($(rf "deny 127.0.0.0/8"):$(ln "deny 127.0.0.0/8"): deny 127.0.0.0/8)" -- sh -c "printf 'include rules/default.rules\n' | $tool check -r - 127.0.0.1"
expect 2 "<stdin>:1:6: incomplete IPv4 address \"10\"" -- sh -c "$tool check -r - 1.2.3.4 <'$tmp/bad.rules'"
expect 2 "curlfence check: standard input (-) can be read only once" -- $tool check -r - -
expect 2 "curlfence check: standard input (-) can be read only once" -- $tool check - -
expect_stdout 1 "<stdin>:3:3: warning: duplicate of line 1 (deny 10.0.0.0/8) [duplicate]" -- sh -c "$tool lint - <'$tmp/dup.rules'"
expect_stdout 2 "<stdin>:1:24: unexpected \"foo\" (expected end of line) [syntax]" -- sh -c "$tool lint - <'$tmp/extra.rules'"
expect 2 "curlfence lint: standard input (-) can be read only once" -- $tool lint - -
expect_stdout 1 "10.20.0.0/16 any port: allow ($tmp/allow.rules:1 default) -> deny (<stdin>:2)" -- sh -c "printf 'default allow\ndeny 10.20.0.0/16\n' | $tool diff '$tmp/allow.rules' -"
expect_stdout 1 "10.20.0.0/16 any port: deny (<stdin>:2) -> allow ($tmp/allow.rules:1 default)" -- sh -c "printf 'default allow\ndeny 10.20.0.0/16\n' | $tool diff - '$tmp/allow.rules'"
expect 2 "curlfence diff: only one of OLD and NEW may be - (standard input)" -- $tool diff - -
expect 0 "$tmp/stdin.cfimg: 1 rules, " -- sh -c "$tool compile - -o '$tmp/stdin.cfimg' <'$tmp/in.rules'"
expect_stdout 1 "deny 11.1.1.1 (<stdin>:1: default deny)" -- $tool check -r "$tmp/stdin.cfimg" 11.1.1.1
expect 0 "$tmp/stdin2.cfimg: 1 rules, " -- sh -c "$tool compile -r - -o '$tmp/stdin2.cfimg' <'$tmp/in.rules'"
expect 7 "curlfence: blocked 127.0.0.1 port 9 by <stdin>:1 (default deny)" -- sh -c "$tool fetch -r - http://127.0.0.1:9/ <'$tmp/in.rules'"

# ---- fetch against a loopback server
python3 test/tool_httpd.py 127.0.0.2 "$tmp/port" &
httpd=$!
trap 'kill $httpd 2>/dev/null; rm -rf "$tmp"' EXIT
i=0
while [ ! -s "$tmp/port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
port=$(cat "$tmp/port")
printf 'include %s/rules/default.rules\nallow 127.0.0.2 port %s\n' "$(pwd)" "$port" >"$tmp/srv.rules"
expect_stdout 0 "hello" -- $tool fetch -r "$tmp/srv.rules" http://127.0.0.2:$port/
expect_stdout 0 "X-Test=42" -- $tool fetch -r "$tmp/srv.rules" -H "X-Test: 42" http://127.0.0.2:$port/echo
expect_stdout 0 "" -- $tool fetch -r "$tmp/srv.rules" -s -o "$tmp/body" http://127.0.0.2:$port/
expect 0 "hello" -- cat "$tmp/body"
expect 28 "curlfence: " -- $tool fetch -r "$tmp/srv.rules" --max-time 0.3 http://127.0.0.2:$port/slow
expect 2 "curlfence fetch: invalid --max-time \"soon\"" -- $tool fetch --max-time soon http://127.0.0.2:$port/
expect 2 "curlfence fetch: invalid --connect-timeout \"-1\"" -- $tool fetch --connect-timeout -1 http://127.0.0.2:$port/
expect 2 "curlfence fetch: invalid header \"X-Test\"" -- $tool fetch -H X-Test http://127.0.0.2:$port/
expect 0 "hello" -- $tool fetch -r "$tmp/srv.rules" --connect-timeout 2 http://127.0.0.2:$port/
# blocked: curlfence says so, writes no output file
expect 7 "curlfence: http://127.0.0.2:$port/: blocked by policy" -- $tool fetch -o "$tmp/none" http://127.0.0.2:$port/
expect 1 "absent" -- sh -c "test -e '$tmp/none' && echo present || { echo absent; exit 1; }"
expect_stdout 7 "" -- $tool fetch -s http://127.0.0.2:$port/
expect 0 "empty" -- sh -c "[ ! -s '$tmp/stderr' ] && echo empty"
# allowed but refused: libcurl's own error, not "blocked by policy"
printf 'default deny\nallow 127.0.0.1 port 9\n' >"$tmp/nine.rules"
expect 7 "curlfence: " -- $tool fetch -r "$tmp/nine.rules" http://127.0.0.1:9/
refute 7 "blocked" -- $tool fetch -r "$tmp/nine.rules" http://127.0.0.1:9/
# a redirect to a blocked address: the policy, not the first hop, ended it
expect 7 "curlfence: http://127.0.0.2:$port/redirect/http://127.0.0.1:9/: blocked by policy" -- $tool fetch -r "$tmp/srv.rules" http://127.0.0.2:$port/redirect/http://127.0.0.1:9/
# one address blocked, the other let through and refused: both said
printf 'default deny\nallow 127.0.0.2 port 9\n' >"$tmp/two.rules"
expect 7 "curlfence: http://two.test:9/: blocked by policy; the other addresses: " -- $tool fetch -r "$tmp/two.rules" --resolve two.test:9:127.0.0.1,127.0.0.2 http://two.test:9/
expect 7 "curlfence: blocked 127.0.0.1 (two.test) port 9 by $tmp/two.rules:1 (default deny)" -- $tool fetch -r "$tmp/two.rules" --resolve two.test:9:127.0.0.1,127.0.0.2 http://two.test:9/
# the name, as the URL's host in canonical form, decided and logged; the URL
# without user info, query and fragment; "allowed@other" is other
expect 7 "curlfence: blocked 127.0.0.1 (two.test) port 9 by" -- $tool fetch -r "$tmp/two.rules" --audit "$tmp/name.jsonl" --resolve Two.Test.:9:127.0.0.1 'http://u:secret@Two.Test.:9/p/q?token=1#frag'
expect 0 "jsonl_check: 1 lines ok" -- python3 test/jsonl_check.py "$tmp/name.jsonl" 1 decision=deny host=two.test url=http://two.test:9/p/q check=open
expect 7 "curlfence: blocked 127.0.0.1 (other.test) port 9 by" -- $tool fetch -r "$tmp/two.rules" --resolve other.test:9:127.0.0.1 'http://two.test@other.test:9/'
expect 7 "curlfence: blocked 127.0.0.1 port 9 by" -- $tool fetch -r "$tmp/two.rules" --audit "$tmp/noname.jsonl" --no-audit-url http://127.0.0.1:9/
expect 0 "jsonl_check: 1 lines ok" -- python3 test/jsonl_check.py "$tmp/noname.jsonl" 1 host=null url=null
expect 7 "curlfence: blocked 127.0.0.1 (two.test) port 9 by" -- $tool fetch -r "$tmp/two.rules" --audit "$tmp/nourl.jsonl" --no-audit-url --resolve two.test:9:127.0.0.1 'http://two.test:9/secret-path'
expect 0 "jsonl_check: 1 lines ok" -- python3 test/jsonl_check.py "$tmp/nourl.jsonl" 1 host=two.test url=null
# through the preload library: curl's handles know their names at both checks
expect 0 "hello" -- $tool run -r "$tmp/srv.rules" --audit "$tmp/run-name.jsonl" -- curl -sS --resolve Srv.Test.:$port:127.0.0.2 "http://u:secret@Srv.Test.:$port/a/b?q=1#f"
expect 0 "jsonl_check: 2 lines ok" -- python3 test/jsonl_check.py "$tmp/run-name.jsonl" 2 decision=allow host=srv.test url=http://srv.test:$port/a/b program=curl uid=$(id -u)
expect 7 "curlfence: blocked 127.0.0.1 (other.test) port 9 by" -- $tool run -r "$tmp/two.rules" --audit stderr -- curl -sS --resolve other.test:9:127.0.0.1 http://other.test:9/
# a redirect from one name to another: the second hop has the second name
expect 0 "hello" -- $tool run -r "$tmp/srv.rules" --audit "$tmp/run-redir.jsonl" -- curl -sSL --resolve one.test:$port:127.0.0.2 --resolve two.test:$port:127.0.0.2 "http://one.test:$port/redirect/http://two.test:$port/x"
expect 0 "two.test" -- sh -c "grep -o '\"host\":\"[a-z.]*\"' '$tmp/run-redir.jsonl' | tail -1"
expect 0 "one.test" -- sh -c "grep -o '\"host\":\"[a-z.]*\"' '$tmp/run-redir.jsonl' | head -1"
expect 0 "hello" -- $tool run -r "$tmp/srv.rules" --no-audit-url --audit "$tmp/run-nourl.jsonl" -- curl -sS --resolve srv.test:$port:127.0.0.2 http://srv.test:$port/
expect 0 "jsonl_check: 2 lines ok" -- python3 test/jsonl_check.py "$tmp/run-nourl.jsonl" 2 host=srv.test url=null
expect 2 "invalid --resolve \"two.test\"" -- $tool fetch --resolve two.test http://two.test:9/
# an audit file that cannot be written
expect 2 "curlfence: audit: 2 event(s) could not be written to /dev/full" -- $tool fetch -r "$tmp/srv.rules" --audit /dev/full http://127.0.0.2:$port/
expect 2 "curlfence: audit: " -- $tool fetch --audit "$tmp/no/such/dir/a.jsonl" http://127.0.0.2:$port/
kill $httpd 2>/dev/null

# ---- lint: each finding on a minimal file, with its position and status
l="$tmp/l"
mkdir -p "$l"
printf 'default allow\ndeny 10.0.0.0/8\nallow 10.0.0.0/9\nallow 10.128.0.0/9\n' >"$l/shadowed"
printf 'allow 10.0.0.0/8\ndeny 10.0.0.0/8\n' >"$l/tie"
printf 'deny 10.0.0.0/8\ndefault allow\n  deny 10.0.0.0/8   # again\n' >"$l/dup"
printf 'deny 10.0.0.0/8 port 80,443\n\tallow 10.0.0.0/8 port 443,80\n' >"$l/portdup"
printf 'deny 10.0.0.0/8 port 80-443\nallow 10.0.0.0/8 port 443\n' >"$l/port"
printf 'allow 10.0.0.0/8 port 443\ndeny 10.0.0.0/9\ndeny 10.128.0.0/9\n' >"$l/portdeep"
printf 'default deny\ndeny 10.0.0.0/8\n' >"$l/redundant"
printf 'default allow\ndeny 10.0.0.0/8\ndeny 10.1.0.0/16\n' >"$l/redundant2"
printf 'include %s/rules/default.rules\nallow 169.254.169.254\nallow 198.51.100.7 port 443\nallow 10.1.0.0/16\n' "$(pwd)" >"$l/opens"
printf 'default deny\nallow 10.0.0.0/8\ndeny 10.1.0.0/16 port 22\n' >"$l/clean"
# expect lines: lint runs them, compile writes no image that breaks one
printf 'default allow\ndeny 169.254.169.254\nallow 169.254.169.254 port 80\nexpect deny 169.254.169.254\n' >"$l/broken-expect"
printf 'default allow\ndeny 169.254.169.254\nexpect deny 169.254.169.254\nexpect allow 1.1.1.1 port 443\n' >"$l/kept-expect"
expect_stdout 2 "$l/broken-expect:4:1: expected deny for 169.254.169.254 port 80 (every port), but $l/broken-expect:3 (allow 169.254.169.254 port 80) decides allow [expect]" -- $tool lint "$l/broken-expect"
expect_stdout 0 "" -- $tool lint "$l/kept-expect"
expect 2 "$l/broken-expect:4:1: expected deny for 169.254.169.254 port 80" -- $tool compile "$l/broken-expect" -o "$l/broken.cfimg"
expect 1 "absent" -- sh -c "test -e '$l/broken.cfimg' && echo present || { echo absent; exit 1; }"
expect 0 "$l/kept.cfimg: 1 rules" -- $tool compile "$l/kept-expect" -o "$l/kept.cfimg"
expect 2 "$l/broken-expect:4:1: expected deny" -- $tool check -r "$l/broken-expect" 1.1.1.1
expect_stdout 1 "$l/shadowed:2:1: warning: never decides: more specific rules decide every address and port it covers [shadowed]" -- $tool lint "$l/shadowed"
expect_stdout 1 "$l/tie:1:1: warning: never decides: line 2 (deny 10.0.0.0/8) wins on the same prefix [shadowed]" -- $tool lint "$l/tie"
expect_stdout 1 "$l/dup:3:3: warning: duplicate of line 1 (deny 10.0.0.0/8) [duplicate]" -- $tool lint "$l/dup"
expect_stdout 1 "$l/portdup:2:2: warning: port rule never wins: line 1 (deny 10.0.0.0/8 port 80,443) ranks above it for all of its ports [port-never-wins]" -- $tool lint "$l/portdup"
expect_stdout 1 "$l/port:2:1: warning: port rule never wins: line 1 (deny 10.0.0.0/8 port 80-443) ranks above it for all of its ports [port-never-wins]" -- $tool lint "$l/port"
expect_stdout 1 "$l/portdeep:1:1: warning: port rule never wins: more specific rules decide every address and port it covers [port-never-wins]" -- $tool lint "$l/portdeep"
expect_stdout 0 "$l/redundant:2:1: note: redundant: wherever it decides, the default (default deny) would decide the same [redundant]" -- $tool lint "$l/redundant"
expect_stdout 0 "$l/redundant2:3:1: note: redundant: wherever it decides, line 2 (deny 10.0.0.0/8) would decide the same [redundant]" -- $tool lint "$l/redundant2"
expect_stdout 1 "$l/opens:2:1: warning: never decides: $(pwd)/$(rf "deny 169.254.169.254"):$(ln "deny 169.254.169.254") (deny 169.254.169.254) wins on the same prefix [shadowed]
$l/opens:3:1: note: allows addresses that $(pwd)/$(rf "deny 198.51.100.0/24"):$(ln "deny 198.51.100.0/24") (deny 198.51.100.0/24) denies, such as 198.51.100.7 [opens-default-deny]
$l/opens:4:1: note: allows addresses that $(pwd)/$(rf "deny 10.0.0.0/8"):$(ln "deny 10.0.0.0/8") (deny 10.0.0.0/8) denies, such as 10.1.0.0 [opens-default-deny]" -- $tool lint "$l/opens"
expect_stdout 0 "" -- $tool lint "$l/clean"
expect_stdout 2 "$tmp/bad.rules:1:6: incomplete IPv4 address \"10\" (write all four octets) [address]" -- $tool lint "$tmp/bad.rules"
expect_stdout 2 "$tmp/bad.rules:1:6: incomplete IPv4 address \"10\" (write all four octets) [address]
$l/dup:3:3: warning: duplicate of line 1 (deny 10.0.0.0/8) [duplicate]" -- $tool lint "$tmp/bad.rules" "$l/dup"
expect 0 "" -- $tool lint rules/default.rules rules/examples/allowlist.rules
expect 2 "curlfence lint: expected one or more rules files" -- $tool lint
$tool lint --json "$l/dup" "$tmp/bad.rules" >"$tmp/lint.json"
expect 0 "ok" -- python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 2, rows
d, e = rows[0], rows[1]
assert (d["line"], d["column"], d["severity"], d["name"]) == (3, 3, "warning", "duplicate"), d
assert d["related"]["line"] == 1 and d["rule"] == "deny 10.0.0.0/8", d
assert (e["line"], e["column"], e["severity"], e["name"]) == (1, 6, "error", "address"), e
print("ok")' "$tmp/lint.json"

# ---- explain: rank order and the reason the winner wins
e="$tmp/explain.rules"
printf 'default allow\ndeny 10.0.0.0/8\nallow 10.1.0.0/16\nallow 10.2.0.0/16 port 443\ndeny 10.3.0.0/16\nallow 10.3.0.0/16\n' >"$e"
expect_stdout 0 "10.1.2.3 port 80:
  1. $e:3: allow 10.1.0.0/16 -- decides
  2. $e:2: deny 10.0.0.0/8 -- outranked: shorter prefix: /8 loses to /16 (line 3)
  default: $e:1: default allow -- not used, a rule matched
why: longest matching prefix: /16 is longer than /8 (line 2)
decision: allow ($e:3: allow 10.1.0.0/16)" -- $tool explain -r "$e" 10.1.2.3 80
expect_stdout 0 "10.2.0.1 port 443:
  1. $e:4: allow 10.2.0.0/16 port 443 -- decides
  2. $e:2: deny 10.0.0.0/8 -- outranked: shorter prefix: /8 loses to /16 (line 4)
  default: $e:1: default allow -- not used, a rule matched
why: longest matching prefix: /16 is longer than /8 (line 2)
decision: allow ($e:4: allow 10.2.0.0/16 port 443)" -- $tool explain -r "$e" 10.2.0.1 443
expect_stdout 1 "10.2.0.1 port 80:
  1. $e:4: allow 10.2.0.0/16 port 443 -- skipped: port 80 is not in its list
  2. $e:2: deny 10.0.0.0/8 -- decides
  default: $e:1: default allow -- not used, a rule matched
why: the only rule that matches
decision: deny ($e:2: deny 10.0.0.0/8)" -- $tool explain -r "$e" 10.2.0.1 80
expect_stdout 1 "10.3.0.1:
  1. $e:5: deny 10.3.0.0/16 -- decides
  2. $e:6: allow 10.3.0.0/16 -- outranked: same prefix and ports: deny (line 5) wins a tie
  3. $e:2: deny 10.0.0.0/8 -- outranked: shorter prefix: /8 loses to /16 (line 5)
  default: $e:1: default allow -- not used, a rule matched
why: same prefix and ports as line 6: deny wins a tie
decision: deny ($e:5: deny 10.3.0.0/16)" -- $tool explain -r "$e" 10.3.0.1
expect_stdout 0 "192.0.2.1 port 22:
  no rule matches 192.0.2.1
  default: $e:1: default allow -- decides
why: no rule matches: the default decides
decision: allow ($e:1: default allow)" -- $tool explain -r "$e" 192.0.2.1 22
expect_stdout 1 "::ffff:10.0.0.1:
  ::ffff:10.0.0.1 is an IPv4-mapped IPv6 address (::ffff:0:0/96): it is decided as the IPv4 address 10.0.0.1
  1. $e:2: deny 10.0.0.0/8 -- decides
  default: $e:1: default allow -- not used, a rule matched
why: the only rule that matches
decision: deny ($e:2: deny 10.0.0.0/8)" -- $tool explain -r "$e" ::ffff:10.0.0.1
expect 2 "curlfence explain: invalid port \"080\"" -- $tool explain 10.0.0.1 080
expect 2 "curlfence explain: \"example\" is not a numeric IPv4 or IPv6 address" -- $tool explain example
$tool explain --json -r "$e" 10.3.0.1 >"$tmp/explain.json"
expect 0 "ok" -- python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))
assert o["decision"] == "deny" and [r["outcome"] for r in o["rules"]] == ["decides", "outranked", "outranked"], o
assert o["rules"][0]["line"] == 5 and o["default"]["used"] is False, o
print("ok")' "$tmp/explain.json"

# ---- the unspecified address is decided as loopback too (a connection to
# it reaches 127.0.0.1 or ::1): check, explain and diff give the guard's
# answer and name the rule that decided
u="$tmp/unspec.rules"
printf 'default deny\nallow 0.0.0.0/8\ndeny 127.0.0.0/8\nallow ::/128\n' >"$u"
expect_stdout 1 "deny 0.0.0.0 port 8080 as 127.0.0.1 ($u:3: deny 127.0.0.0/8)
deny ::ffff:0.0.0.0 port 8080 as 127.0.0.1 ($u:3: deny 127.0.0.0/8)
deny :: port 8080 as ::1 ($u:1: default deny)
allow 0.0.0.1 port 8080 ($u:2: allow 0.0.0.0/8)" -- $tool check -r "$u" -p 8080 0.0.0.0 ::ffff:0.0.0.0 :: 0.0.0.1
$tool check --json -r "$u" 0.0.0.0 8080 >"$tmp/unspec.json"
expect 0 "ok" -- python3 -c '
import json, sys
o = json.loads(open(sys.argv[1]).read())
assert (o["decision"], o["as"], o["reason"], o["default"]) == ("deny", "127.0.0.1", "loopback", False), o
assert (o["rule"]["line"], o["rule"]["text"]) == (3, "deny 127.0.0.0/8"), o
print("ok")' "$tmp/unspec.json"
expect_stdout 1 "0.0.0.0 port 8080:
  0.0.0.0 is the unspecified address: a connection to it reaches this host's loopback address 127.0.0.1, so it is decided as both and allowed only when both are allowed
  1. $u:2: allow 0.0.0.0/8 -- decides
  default: $u:1: default deny -- not used, a rule matched
why: the only rule that matches
as 127.0.0.1 port 8080:
  1. $u:3: deny 127.0.0.0/8 -- decides
  default: $u:1: default deny -- not used, a rule matched
why: the only rule that matches
loopback step: allow as 0.0.0.0, deny as 127.0.0.1: the decision as 127.0.0.1 decides
decision: deny ($u:3: deny 127.0.0.0/8)" -- $tool explain -r "$u" 0.0.0.0 8080
printf 'default allow\n' >"$tmp/unspec-allow.rules"
expect_stdout 0 "::ffff:0.0.0.0:
  ::ffff:0.0.0.0 is an IPv4-mapped IPv6 address (::ffff:0:0/96): it is decided as the IPv4 address 0.0.0.0
  0.0.0.0 is the unspecified address: a connection to it reaches this host's loopback address 127.0.0.1, so it is decided as both and allowed only when both are allowed
  no rule matches 0.0.0.0
  default: $tmp/unspec-allow.rules:1: default allow -- decides
why: no rule matches: the default decides
as 127.0.0.1:
  no rule matches 127.0.0.1
  default: $tmp/unspec-allow.rules:1: default allow -- decides
why: no rule matches: the default decides
loopback step: allow as 0.0.0.0, allow as 127.0.0.1: the decision as 0.0.0.0 decides
decision: allow ($tmp/unspec-allow.rules:1: default allow)" -- $tool explain -r "$tmp/unspec-allow.rules" ::ffff:0.0.0.0
$tool explain --json -r "$u" :: 80 >"$tmp/unspec-explain.json"
expect 0 "ok" -- python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))
l = o["loopback"]
assert o["decision"] == "deny" and o["rules"][0]["rule"] == "allow ::/128", o
assert (l["decided_as"], l["decision"], l["decides"], l["rules"], l["default"]["used"]) == ("::1", "deny", True, [], True), o
print("ok")' "$tmp/unspec-explain.json"
# diff: taking loopback's allow away changes 0.0.0.0 too, named as loopback
printf 'default deny\nallow 0.0.0.0/8\nallow 127.0.0.0/8 port 80\n' >"$tmp/unspec-old.rules"
printf 'default deny\nallow 0.0.0.0/8\n' >"$tmp/unspec-new.rules"
expect_stdout 1 "0.0.0.0/32 port 80: allow ($tmp/unspec-old.rules:2) -> deny ($tmp/unspec-new.rules:1 default, as 127.0.0.1)
127.0.0.0/8 port 80: allow ($tmp/unspec-old.rules:3) -> deny ($tmp/unspec-new.rules:1 default)" -- $tool diff "$tmp/unspec-old.rules" "$tmp/unspec-new.rules"
expect_stdout 0 "" -- $tool diff "$u" "$u"
# deny self: the loopback interface is this host too, its whole IPv4 prefix
printf 'default allow\ndeny self\n' >"$tmp/self.rules"
expect 1 "deny 127.0.0.2 ($tmp/self.rules:2: deny self (127.0.0.1/8, lo))" -- $tool check -r "$tmp/self.rules" 127.0.0.2
expect 1 "1. $tmp/self.rules:2: deny self (127.0.0.1/8, lo) -- decides" -- $tool explain -r "$tmp/self.rules" 127.0.0.1

# ---- diff on hand-built pairs: exact CIDR lists
d="$tmp/d"
mkdir -p "$d"
printf 'default allow\n' >"$d/allow"
printf 'default allow\ndeny 10.20.0.0/16\n' >"$d/added"
printf 'default deny\nallow 192.0.2.0/24 port 80\n' >"$d/p80"
printf 'default deny\nallow 192.0.2.0/24 port 443\n' >"$d/p443"
printf 'default allow\ndeny 10.0.0.0/8\n' >"$d/flip1"
printf 'default deny\ndeny 10.0.0.0/8\n' >"$d/flip2"
printf 'default allow\ndeny 10.0.0.0/9\ndeny 10.128.0.0/9\n' >"$d/same"
expect_stdout 1 "10.20.0.0/16 any port: allow ($d/allow:1 default) -> deny ($d/added:2)" -- $tool diff "$d/allow" "$d/added"
expect_stdout 1 "10.20.0.0/16 any port: deny ($d/added:2) -> allow ($d/allow:1 default)" -- $tool diff "$d/added" "$d/allow"
expect_stdout 1 "192.0.2.0/24 port 80: allow ($d/p80:2) -> deny ($d/p443:1 default)
192.0.2.0/24 port 443: deny ($d/p80:1 default) -> allow ($d/p443:2)" -- $tool diff "$d/p80" "$d/p443"
expect_stdout 1 "0.0.0.0/5 any port: allow ($d/flip1:1 default) -> deny ($d/flip2:1 default)
8.0.0.0/7 any port: allow ($d/flip1:1 default) -> deny ($d/flip2:1 default)
11.0.0.0/8 any port: allow ($d/flip1:1 default) -> deny ($d/flip2:1 default)
12.0.0.0/6 any port: allow ($d/flip1:1 default) -> deny ($d/flip2:1 default)
16.0.0.0/4 any port: allow ($d/flip1:1 default) -> deny ($d/flip2:1 default)
32.0.0.0/3 any port: allow ($d/flip1:1 default) -> deny ($d/flip2:1 default)
64.0.0.0/2 any port: allow ($d/flip1:1 default) -> deny ($d/flip2:1 default)
128.0.0.0/1 any port: allow ($d/flip1:1 default) -> deny ($d/flip2:1 default)
::/0 any port: allow ($d/flip1:1 default) -> deny ($d/flip2:1 default)" -- $tool diff "$d/flip1" "$d/flip2"
expect_stdout 0 "" -- $tool diff "$d/flip1" "$d/same"
expect_stdout 0 "" -- $tool diff rules/default.rules rules/default.rules
expect 1 "203.0.113.0/24 port 443: deny ($(rf "deny 203.0.113.0/24"):$(ln "deny 203.0.113.0/24")) -> allow (rules/examples/allowlist.rules:7)" -- $tool diff rules/default.rules rules/examples/allowlist.rules
expect 1 "unix sockets: deny ($d/u1:1) -> allow ($d/u2:1)" -- sh -c "printf 'unix deny\n' >'$d/u1'; printf 'unix allow\n' >'$d/u2'; $tool diff '$d/u1' '$d/u2'"
expect 2 "curlfence diff: expected OLD and NEW rules files" -- $tool diff "$d/allow"
expect 2 "$tmp/bad.rules:1:6: incomplete IPv4 address" -- $tool diff "$d/allow" "$tmp/bad.rules"
$tool diff --json "$d/p80" "$d/p443" >"$tmp/diff.json"
expect 0 "ok" -- python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 2, rows
r = rows[0]
assert r["family"] == "inet" and r["range"] == "192.0.2.0/24" and r["ports"] == [[80, 80]], r
assert r["old"]["decision"] == "allow" and r["old"]["line"] == 2 and r["old"]["rule"] == "allow 192.0.2.0/24 port 80", r
assert r["new"]["decision"] == "deny" and r["new"]["default"] is True and r["new"]["rule"] == "default deny", r
print("ok")' "$tmp/diff.json"

# ---- --json: valid UTF-8 JSON whatever the bytes in file names, rules
# and operands.  Invalid UTF-8 becomes U+FFFD, byte by byte, as in audit
# events; json-lines checks JSON and UTF-8 strictly, python3 the values.
json_lines=${JSON_LINES:-build/test/json-lines}
j="$tmp/j"
mkdir -p "$j"
hname=$(printf 'r\351gles-\377 "q" \\ \t\001\177 \303\251 \300\257 \355\240\200.rules')
hrules="$j/$hname"
hnew="$j/$(printf 'new-\377.rules')"
hbad="$j/$(printf 'bad-\376.rules')"
printf 'default allow\ndeny 127.0.0.0/8\ndeny 10.0.0.0/8\ndeny 10.0.0.0/8\n' >"$hrules"
printf 'default allow\ndeny 127.0.0.0/8\n' >"$hnew"
printf 'deny 10.0.0.\377\n' >"$hbad"
hinput=$(printf 'x\377\001"')
# json_ok NAME STATUS COUNT -- COMMAND...: COMMAND exits STATUS and prints
# COUNT JSON lines, kept in $j/NAME.json
json_ok() {
  name=$1 want_status=$2 count=$3
  shift 4
  "$@" >"$j/$name.json" 2>"$tmp/stderr"
  status=$?
  if [ "$status" -eq "$want_status" ]; then
    ok
  else
    bad "$name: $* -> status $status (want $want_status)"
    cat "$tmp/stderr"
  fi
  expect 0 "json-lines: $count lines ok" -- "$json_lines" "$j/$name.json" "$count"
}
json_ok check 2 3 -- $tool check --json -r "$hrules" 10.1.2.3 "$hinput" 192.0.2.1
json_ok explain 1 1 -- $tool explain --json -r "$hrules" 10.1.2.3
json_ok lint 2 2 -- $tool lint --json "$hrules" "$hbad"
json_ok diff 1 1 -- $tool diff --json "$hrules" "$hnew"
expect 7 "blocked 127.0.0.1 port 9" -- $tool fetch -r "$hrules" --audit "$j/fetch.jsonl" http://127.0.0.1:9/
expect 0 "jsonl_check: 1 lines ok" -- python3 test/jsonl_check.py "$j/fetch.jsonl" 1 decision=deny "rule.text=deny 127.0.0.0/8"
expect 0 "ok" -- python3 -c '
import json, os, sys
def rows(name):
    with open(os.path.join(sys.argv[1], name + ".json"), "rb") as f:
        return [json.loads(l) for l in f.read().decode("utf-8").splitlines()]
shown = lambda a: os.fsencode(a).decode("utf-8", "replace")
hrules, hnew, hbad, hinput = (shown(a) for a in sys.argv[2:6])
assert "\ufffdgles-\ufffd \"q\" \\ \t\x01\x7f \u00e9 \ufffd\ufffd \ufffd\ufffd\ufffd.rules" in hrules, hrules
c = rows("check")
assert c[0]["rule"]["file"] == hrules and c[0]["rule"]["line"] == 3, c[0]
assert c[1] == {"input": hinput, "error": "not an address or a host name"}, c[1]
assert c[2]["rule"]["file"] == hrules and c[2]["default"] is True, c[2]
e = rows("explain")[0]
assert [r["file"] for r in e["rules"]] == [hrules] * 2 and e["default"]["file"] == hrules, e
l = rows("lint")
assert l[0]["file"] == hrules and l[0]["related"]["file"] == hrules and l[0]["name"] == "duplicate", l[0]
assert l[1]["file"] == hbad and "10.0.0." in l[1]["message"] and l[1]["severity"] == "error", l[1]
d = rows("diff")[0]
assert d["old"]["file"] == hrules and d["new"]["file"] == hnew and d["range"] == "10.0.0.0/8", d
with open(os.path.join(sys.argv[1], "fetch.jsonl"), "rb") as f:
    a = json.loads(f.read().decode("utf-8"))
assert a["rule"]["file"] == hrules, a
print("ok")' "$j" "$hrules" "$hnew" "$hbad" "$hinput"

# Where the rules come from: -r, else CURLFENCE_RULES, else the tree's
# default for this tool; never a rules/default.rules in the working
# directory.  A copy of the tool outside the tree knows only the installed
# default.
abs_tool=$(cd "$(dirname "$tool")" && pwd)/$(basename "$tool")
mkdir -p "$tmp/cwd/rules"
printf 'default allow\nallow 0.0.0.0/0\n' >"$tmp/cwd/rules/default.rules"
printf 'default deny\nallow 127.0.0.7\n' >"$tmp/env.rules"
expect 1 "deny 127.0.0.1 ($(pwd)/$(rf "deny 127.0.0.0/8"):$(ln "deny 127.0.0.0/8"): deny 127.0.0.0/8)" -- sh -c "cd '$tmp/cwd' && '$abs_tool' check 127.0.0.1"
expect 1 "deny 127.0.0.1 ($(pwd)/$(rf "deny 127.0.0.0/8"):$(ln "deny 127.0.0.0/8"):" -- sh -c "cd / && '$abs_tool' check 127.0.0.1"
expect 0 "allow 127.0.0.7 ($tmp/env.rules:2: allow 127.0.0.7)" -- env CURLFENCE_RULES="$tmp/env.rules" $tool check 127.0.0.7
expect 1 "deny 127.0.0.7 ($(pwd)/$(rf "deny 127.0.0.0/8"):$(ln "deny 127.0.0.0/8"):" -- env CURLFENCE_RULES="$tmp/env.rules" $tool check -r "$def" 127.0.0.7
expect 1 "deny 127.0.0.7 ($(pwd)/$(rf "deny 127.0.0.0/8"):$(ln "deny 127.0.0.0/8"):" -- env CURLFENCE_RULES= $tool check 127.0.0.7
expect 0 "RULES defaults to $tmp/env.rules." -- env CURLFENCE_RULES="$tmp/env.rules" $tool --help
cp "$(dirname "$tool")/curlfence-commands" "$tmp/copy-commands"
expect 0 "/curlfence/default.rules." -- "$tmp/copy-commands" --help
if "$tmp/copy-commands" --help | grep -q "$def"; then
  bad "a copy outside the tree uses the tree's rules"
else
  ok
fi
# and a copy of the tool runs the installed commands, not the tree's
cp "$tool" "$tmp/copy"
if "$tmp/copy" --help 2>&1 | grep -q "$def"; then
  bad "a copy outside the tree runs the tree's commands"
else
  ok
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
expect 2 "is a compiled image: give the rules file it was compiled from" -- $tool lint "$tmp/img/site.cfimg"
expect 2 "missing -o FILE" -- $tool compile "$tmp/img/site.rules"
expect 2 "expected one RULES file" -- $tool compile -r "$tmp/img/site.rules" x.rules -o "$tmp/img/c.cfimg"
expect 2 "cannot open" -- $tool compile "$tmp/img/none.rules" -o "$tmp/img/c.cfimg"
printf '\211CFIMG\r\n' >"$tmp/img/bad.cfimg"
expect 2 "curlfence: $tmp/img/bad.cfimg: offset 8: truncated: 8 bytes, the header alone is 64" -- $tool check -r "$tmp/img/bad.cfimg" 192.0.2.9

# ---- host rules: check and explain decide a name at the addresses
# --resolve gives (never looked up), as a guard decides it
printf 'default deny\ndeny 127.0.0.0/8\nallow host api.partner.example port 443\nallow host ci.internal to 127.0.0.0/24\n' >"$tmp/hosts.rules"
h=$tmp/hosts.rules
pin=api.partner.example:443:203.0.113.5
expect_stdout 0 "allow api.partner.example 203.0.113.5 port 443 ($h:3: allow host api.partner.example port 443)" -- $tool check -r "$h" --resolve "$pin" api.partner.example 443
expect_stdout 0 "allow api.partner.example 203.0.113.5 port 443 ($h:3: allow host api.partner.example port 443)" -- $tool check -r "$h" --resolve API.Partner.Example.:443:203.0.113.5 API.Partner.Example. 443
expect_stdout 1 "deny api.partner.example 127.0.0.1 port 443 ($h:2: deny 127.0.0.0/8)" -- $tool check -r "$h" --resolve api.partner.example:443:127.0.0.1 api.partner.example 443
expect_stdout 1 "deny other.example 203.0.113.5 port 443 ($h:1: default deny)" -- $tool check -r "$h" --resolve other.example:443:203.0.113.5 other.example 443
expect_stdout 1 "deny 203.0.113.5 port 443 ($h:1: default deny)" -- $tool check -r "$h" --resolve "$pin" 203.0.113.5 443
expect_stdout 1 "allow api.partner.example 203.0.113.5 port 443 ($h:3: allow host api.partner.example port 443)
deny api.partner.example 127.0.0.1 port 443 ($h:2: deny 127.0.0.0/8)" -- $tool check -r "$h" --resolve api.partner.example:443:203.0.113.5,127.0.0.1 api.partner.example:443
expect_stdout 0 "allow ci.internal 127.0.0.5 port 80 ($h:4: allow host ci.internal to 127.0.0.0/24)" -- $tool check -r "$h" --resolve ci.internal:80:127.0.0.5 ci.internal:80
expect 0 '"host":"api.partner.example","addr":"203.0.113.5","as":null,"port":443,"decision":"allow","default":false,"reason":"host"' -- $tool check --json -r "$h" --resolve "$pin" api.partner.example 443
# pinned at another port: an error, never a lookup
expect 2 "\"api.partner.example\": --resolve gives no address for it at this port" -- $tool check -r "$h" --resolve "$pin" api.partner.example 80
expect 2 "\"bogus\" in --resolve is not a numeric address" -- $tool check -r "$h" --resolve api.partner.example:443:bogus api.partner.example 443
expect 2 "\"a_b\" is not a host name" -- $tool check -r "$h" --resolve a_b:443:203.0.113.5 203.0.113.5
expect 0 "4. no address rule matched; allow host: $h:3: allow host api.partner.example port 443 -- decides: allow" -- $tool explain -r "$h" --resolve "$pin" api.partner.example
expect 0 "2. an address rule denies; allow host NAME to PREFIX holding the address: $h:4: allow host ci.internal to 127.0.0.0/24 -- decides: allow" -- $tool explain -r "$h" --resolve ci.internal:80:127.0.0.5 ci.internal 80
expect 1 "host: none (an IP address): host rules do not apply" -- $tool explain -r "$h" 203.0.113.5 443
expect 2 "a host name needs --resolve" -- $tool explain -r "$h" api.partner.example 443
# the three-line allowlist: default deny, the never-reach list, one name
ex=rules/examples/partner-api.rules
expect_stdout 0 "allow api.partner.example 203.0.113.5 port 443 ($ex:$(grep -n '^allow host' $ex | cut -d: -f1): allow host api.partner.example port 443)" -- $tool check -r $ex --resolve "$pin" api.partner.example 443
expect_stdout 1 "deny api.partner.example 127.0.0.1 port 443 (rules/examples/../never-reach.rules:$(ln "deny 127.0.0.0/8"): deny 127.0.0.0/8)" -- $tool check -r $ex --resolve api.partner.example:443:127.0.0.1 api.partner.example 443
expect_stdout 1 "deny api.partner.example 169.254.169.254 port 443 (rules/examples/../never-reach.rules:$(ln "deny 169.254.169.254"): deny 169.254.169.254)" -- $tool check -r $ex --resolve api.partner.example:443:169.254.169.254 api.partner.example 443
expect_stdout 1 "deny other.example 203.0.113.5 port 443 ($ex:6: default deny)" -- $tool check -r $ex --resolve other.example:443:203.0.113.5 other.example 443
# lint: host rules that can never decide
printf 'default deny\nallow host b.example\nallow host b.example port 8080\nallow host c.example to 10.0.0.0/8\n' >"$tmp/hl.rules"
expect_stdout 1 "$tmp/hl.rules:3:1: warning: never decides: $tmp/hl.rules:2 (allow host b.example) decides first for the same name at every port [shadowed]" -- $tool lint "$tmp/hl.rules"
printf 'default allow\nallow host a.example port 443\nallow host c.example to 10.0.0.0/8\n' >"$tmp/hl2.rules"
expect_stdout 1 "$tmp/hl2.rules:2:1: warning: never decides: under default allow it allows only what the default allows (write allow host NAME to PREFIX to exempt the name from an address rule) [host-never-decides]" -- $tool lint "$tmp/hl2.rules"
# diff: a host rule on one side only is a change, with its effect
printf 'default deny\nallow host a.example port 443\ndeny host *.bad.example\n' >"$tmp/h1.rules"
printf 'default deny\nallow host a.example port 443\nallow host ci.internal to 10.0.0.0/8\n' >"$tmp/h2.rules"
expect_stdout 1 "host rule added: allow host ci.internal to 10.0.0.0/8 ($tmp/h2.rules:3): exempts the name from address denials inside the prefix
host rule removed: deny host *.bad.example ($tmp/h1.rules:3): no longer denies the name at every address" -- $tool diff "$tmp/h1.rules" "$tmp/h2.rules"
expect_stdout 0 "" -- $tool diff "$tmp/h1.rules" "$tmp/h1.rules"
printf 'allow host API.example\n' >"$tmp/badhost.rules"
expect 2 "badhost.rules:1:12: host name \"API.example\" is not in canonical form (did you mean api.example?)" -- $tool check -r "$tmp/badhost.rules" 192.0.2.1
# an image of host rules decides names as its rules text does
expect 0 "$tmp/hosts.cfimg: 1 rules" -- $tool compile "$h" -o "$tmp/hosts.cfimg"
hi=$tmp/hosts.cfimg
expect_stdout 0 "allow api.partner.example 203.0.113.5 port 443 ($h:3: allow host api.partner.example port 443)" -- $tool check -r "$hi" --resolve "$pin" api.partner.example 443
expect_stdout 0 "allow api.partner.example 203.0.113.5 port 443 ($h:3: allow host api.partner.example port 443)" -- $tool check -r "$hi" --resolve API.Partner.Example.:443:203.0.113.5 API.Partner.Example. 443
expect_stdout 1 "deny api.partner.example 127.0.0.1 port 443 ($h:2: deny 127.0.0.0/8)" -- $tool check -r "$hi" --resolve api.partner.example:443:127.0.0.1 api.partner.example 443
expect_stdout 1 "deny other.example 203.0.113.5 port 443 ($h:1: default deny)" -- $tool check -r "$hi" --resolve other.example:443:203.0.113.5 other.example 443
expect_stdout 1 "deny 203.0.113.5 port 443 ($h:1: default deny)" -- $tool check -r "$hi" --resolve "$pin" 203.0.113.5 443
expect_stdout 0 "allow ci.internal 127.0.0.5 port 80 ($h:4: allow host ci.internal to 127.0.0.0/24)" -- $tool check -r "$hi" --resolve ci.internal:80:127.0.0.5 ci.internal:80
expect_stdout 1 "deny ci.internal 127.0.1.5 port 80 ($h:2: deny 127.0.0.0/8)" -- $tool check -r "$hi" --resolve ci.internal:80:127.0.1.5 ci.internal:80
expect 0 '"host":"api.partner.example","addr":"203.0.113.5","as":null,"port":443,"decision":"allow","default":false,"reason":"host"' -- $tool check --json -r "$hi" --resolve "$pin" api.partner.example 443
expect 0 "2. an address rule denies; allow host NAME to PREFIX holding the address: $h:4: allow host ci.internal to 127.0.0.0/24 -- decides: allow" -- $tool explain -r "$hi" --resolve ci.internal:80:127.0.0.5 ci.internal 80
# the three-line allowlist, compiled
expect 0 "$tmp/partner.cfimg:" -- $tool compile $ex -o "$tmp/partner.cfimg"
expect_stdout 0 "allow api.partner.example 203.0.113.5 port 443 ($ex:$(grep -n '^allow host' $ex | cut -d: -f1): allow host api.partner.example port 443)" -- $tool check -r "$tmp/partner.cfimg" --resolve "$pin" api.partner.example 443
expect_stdout 1 "deny api.partner.example 127.0.0.1 port 443 (rules/examples/../never-reach.rules:$(ln "deny 127.0.0.0/8"): deny 127.0.0.0/8)" -- $tool check -r "$tmp/partner.cfimg" --resolve api.partner.example:443:127.0.0.1 api.partner.example 443
expect_stdout 1 "deny other.example 203.0.113.5 port 443 ($ex:6: default deny)" -- $tool check -r "$tmp/partner.cfimg" --resolve other.example:443:203.0.113.5 other.example 443
# check NAME without --resolve looks it up: only in a network namespace
# of our own, whose /etc/hosts names it (nothing can leave it)
if unshare -m -n true 2>/dev/null; then
  printf '203.0.113.5 api.partner.example\n127.0.0.1 localhost\n' >"$tmp/etc-hosts"
  expect 0 "allow api.partner.example 203.0.113.5 port 443 ($h:3: allow host api.partner.example port 443)" -- \
    unshare -m -n sh -c "mount --bind '$tmp/etc-hosts' /etc/hosts && exec $tool check -r '$h' api.partner.example 443"
else
  echo "tool: skipped check NAME in a network namespace (unshare -m -n not permitted)"
fi

summary tool
