#!/bin/sh
# SPDX-License-Identifier: MIT
# The report -> learn -> diff -> enforce loop on real audit logs: fetch and
# `curlfence run` in report mode against loopback servers write them, then
# report and learn read them.  Nothing leaves the machine: the servers
# listen on 127.0.0.2 and 127.0.0.3, and the hand-written log lines below
# name other addresses but are only read, never connected to.
set -u
tool=${CURLFENCE_TOOL:-tools/curlfence}
json_lines=${JSON_LINES:-build/test/json-lines}
tmp=$(mktemp -d)
pids=
trap 'kill $pids 2>/dev/null; rm -rf "$tmp"' EXIT
. "$(dirname "$0")/expect.sh"

# check WHAT STATUS COMMAND...: the status, and the output (stdout and
# stderr) in $out for the asserts that follow
check() {
  what=$1 want=$2
  shift 2
  out=$("$@" 2>&1)
  status=$?
  [ "$status" -eq "$want" ] && { ok; return; }
  bad "$what: $* -> status $status (want $want), output:"
  echo "$out"
}

# has WHAT TEXT: the last check's output contains TEXT (a whole line when
# TEXT starts with ^)
has() {
  case $2 in
    ^*) printf '%s\n' "$out" | grep -qxF -- "${2#^}" ;;
    *) printf '%s\n' "$out" | grep -qF -- "$2" ;;
  esac && { ok; return; }
  bad "$1: wanted \"$2\" in:"
  echo "$out"
}

hasnt() {
  printf '%s\n' "$out" | grep -qF -- "$2" || { ok; return; }
  bad "$1: did not want \"$2\" in:"
  echo "$out"
}

serve() {  # serve ADDRESS: start a server, its port in $port
  rm -f "$tmp/port"
  python3 test/tool_httpd.py "$1" "$tmp/port" &
  pids="$pids $!"
  i=0
  while [ ! -s "$tmp/port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
  port=$(cat "$tmp/port")
}
serve 127.0.0.2
p2=$port
serve 127.0.0.3
p3=$port

# The current policy: everything denied by default, 127.0.0.3 by a rule
# (as the default rules deny loopback and the metadata service), and one
# rule that no connection of the logs reaches.
cat >"$tmp/base.rules" <<EOR
default deny
deny 127.0.0.3
deny 10.0.0.0/8
EOR
log=$tmp/audit.jsonl

# ---- report mode: what the program does is let through, and logged
check "report-only fetch" 0 $tool fetch --report-only -r "$tmp/base.rules" --audit "$log" http://127.0.0.2:$p2/
has "report-only fetch" "hello"
check "report-only fetch again" 0 $tool fetch --report-only -r "$tmp/base.rules" --audit "$log" http://127.0.0.2:$p2/
check "report-only fetch, rule" 0 $tool fetch --report-only -r "$tmp/base.rules" --audit "$log" http://127.0.0.3:$p3/
check "run curl in report mode" 0 $tool run --report-only -r "$tmp/base.rules" --audit "$log" -- curl -sS http://127.0.0.2:$p2/
has "run curl in report mode" "hello"
# and one connection refused for real
check "enforced fetch" 7 $tool fetch -r "$tmp/base.rules" --audit "$log" http://127.0.0.2:$p2/

# ---- report
check "report" 0 $tool report "$log"
has "report" "^connections: 5 decided, 0 allowed, 1 denied, 4 would have been denied (report-only mode let them through)"
has "report" "^requests on reused connections: 4 checked, 0 denied, 4 would have been denied"
has "report" "^events: 9 read, 0 invalid lines, 0 lost by their writers"
has "report" "^         4  127.0.0.2 port $p2 (some in report-only mode)"
has "report" "^         1  127.0.0.3 port $p3 (report-only mode)"
has "report" "^         4  $tmp/base.rules:1: default deny"
has "report" "^         1  $tmp/base.rules:2: deny 127.0.0.3"
has "report" "^top programs:"
hasnt "report" "denied names"
check "report from standard input" 0 sh -c "$tool report - <'$log'"
has "report from standard input" "^connections: 5 decided, 0 allowed, 1 denied, 4 would have been denied (report-only mode let them through)"
check "report --top 1" 0 $tool report --top 1 "$log"
hasnt "report --top 1" "127.0.0.3 port"

# one JSON document, strict JSON, with the same counts
check "report --json" 0 $tool report --json "$log"
printf '%s\n' "$out" >"$tmp/report.json"
check "report --json is one valid JSON line" 0 "$json_lines" "$tmp/report.json"
check "report --json counts" 0 python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
c = d["connections"]
assert (c["decided"], c["allowed"], c["denied"], c["reported"]) == (5, 0, 1, 4), c
top = d["top_denied"][0]
assert (top["addr"], top["port"], top["count"], top["enforced"]) == ("127.0.0.2", int(sys.argv[2]), 4, 1), top
r = d["top_rules"][0]
assert (r["file"], r["line"], r["text"], r["count"]) == (sys.argv[3], 1, "default deny", 4), r
assert sum(p["connections"] for p in d["top_programs"]) == 5
assert d["top_denied_names"] == [] and d["invalid"] == 0
' "$tmp/report.json" "$p2" "$tmp/base.rules"

# --since/--until compare times as RFC 3339 text
check "report --since later" 0 $tool report --since 2999-01-01 "$log"
has "report --since later" "^connections: 0 decided, 0 allowed, 0 denied, 0 would have been denied (report-only mode let them through)"
has "report --since later" "9 outside the time range"
check "report --until later" 0 $tool report --until 2999-01-01T00:00:00Z "$log"
has "report --until later" "connections: 5 decided,"
check "report --since earlier --until earlier" 0 $tool report --since 2000-01-01 --until 2000-01-02 "$log"
has "report --since earlier --until earlier" "^time range: no events"
check "report --since bad" 2 $tool report --since yesterday "$log"
has "report --since bad" "invalid --since \"yesterday\""
check "report --top 0" 2 $tool report --top 0 "$log"
check "report without FILE" 2 $tool report
check "report of a missing file" 2 $tool report "$tmp/none.jsonl"
has "report of a missing file" "$tmp/none.jsonl: No such file or directory"

# --unused: the rules that decided none of the connections
check "report --unused" 0 $tool report --unused -r "$tmp/base.rules" "$log"
has "report --unused" "^$tmp/base.rules:3: deny 10.0.0.0/8"
hasnt "report --unused" "127.0.0.3"
check "report --unused --json" 0 $tool report --unused --json -r "$tmp/base.rules" "$log"
has "report --unused --json" "^{\"unused\":[{\"file\":\"$tmp/base.rules\",\"line\":3,\"text\":\"deny 10.0.0.0/8\"}]}"
check "report --unused without -r" 2 $tool report --unused "$log"
check "report --unused, rules on standard input" 2 sh -c "$tool report --unused -r - '$log' <'$tmp/base.rules'"
has "report --unused, rules on standard input" "needs the rules file the events name"
# a rule named by another spelling of its file's path is still used
case $tool in /*) abs_tool=$tool ;; *) abs_tool=$(pwd)/$tool ;; esac
check "report --unused, relative path" 0 sh -c "cd '$tmp' && '$abs_tool' report --unused -r base.rules audit.jsonl"
hasnt "report --unused, relative path" "deny 127.0.0.3"
has "report --unused, relative path" "^base.rules:3: deny 10.0.0.0/8"

# lines that are not events are counted and named, never fatal; version 2
# (no "lost"), keys in another order and a "host" field are events
cp "$log" "$tmp/mixed.jsonl"
cat >>"$tmp/mixed.jsonl" <<'EOL'
not json
{"v":2,"time":"2026-11-25T06:52:23.744004Z","decision":"deny","enforced":true,"addr":"192.0.2.7","as":null,"port":443,"family":"inet","transport":"tcp","socktype":1,"protocol":6,"check":"open","default":true,"reason":"default","rule":{"file":null,"line":0,"text":"default deny (built-in)"},"generation":1,"pid":7}
{"decision":"deny","v":3,"host":"api.example.test","time":"2026-11-25T06:52:24.000000Z","enforced":false,"addr":"192.0.2.8","as":null,"port":443,"family":"inet","transport":"tcp","socktype":1,"protocol":6,"check":"open","default":true,"reason":"default","rule":{"file":null,"line":0,"text":"default deny (built-in)"},"generation":1,"pid":7,"lost":3}
{"v":3,"time":"2026-11-25T06:52:25.000000Z","decision":"maybe","enforced":true,"addr":"192.0.2.9","as":null,"port":443,"family":"inet","transport":"tcp","socktype":1,"protocol":6,"check":"open","default":true,"reason":"default","rule":{"file":null,"line":0,"text":"default deny (built-in)"},"generation":1,"pid":7,"lost":0}
{"v":3,"time":"2026-11-25T06:52:25.000000Z","decision":"deny","enforced":true,"addr":"192.0.2.9","as":null,"port":70000,"family":"inet","transport":"tcp","socktype":1,"protocol":6,"check":"open","default":true,"reason":"default","rule":{"file":null,"line":0,"text":"default deny (built-in)"},"generation":1,"pid":7,"lost":0}
{"v":3,"time":"2026-11-25T06:52:2
EOL
check "report of a mixed log" 1 $tool report "$tmp/mixed.jsonl"
has "report of a mixed log" "$tmp/mixed.jsonl:10: not an audit event: not JSON"
has "report of a mixed log" "$tmp/mixed.jsonl:13: not an audit event: \"decision\" is neither allow nor deny"
has "report of a mixed log" "$tmp/mixed.jsonl:14: not an audit event: \"port\" is not a number in range"
has "report of a mixed log" "$tmp/mixed.jsonl:15: not an audit event: not JSON"
has "report of a mixed log" "^events: 11 read, 4 invalid lines, 3 lost by their writers"
has "report of a mixed log" "time range: 2026-11-25T06:52:23.744004Z .. "
has "report of a mixed log" "^connections: 7 decided, 0 allowed, 2 denied, 5 would have been denied (report-only mode let them through)"
has "report of a mixed log" "^top denied names:"
has "report of a mixed log" "^         1  api.example.test port 443 (report-only mode)"
has "report of a mixed log" "^         2  built-in: default deny (built-in)"
has "report of a mixed log" "warning: the logs are incomplete: their writers lost 3 events"

# ---- learn: a rule for what was let through, never for what a rule denies
check "learn" 0 $tool learn -r "$tmp/base.rules" "$log"
printf '%s\n' "$out" >"$tmp/learned.rules"
has "learn" "^allow 127.0.0.2 port $p2"
has "learn" "# needs a human decision: 127.0.0.3 port $p3 is denied by $tmp/base.rules:2: deny 127.0.0.3"
has "learn" "#   allow host NAME to 127.0.0.3/32 port $p3"
hasnt "learn" "allow 127.0.0.3"
# each proposal says how often and when
grep -B1 "^allow 127.0.0.2 port $p2\$" "$tmp/learned.rules" >"$tmp/seen"
check "learn: seen" 0 grep -q "^# seen 4 times, 20" "$tmp/seen"

# the loop: include the proposal, review the change, enforce
printf 'include base.rules\ninclude learned.rules\n' >"$tmp/site.rules"
check "diff base site" 1 $tool diff "$tmp/base.rules" "$tmp/site.rules"
has "diff base site" "127.0.0.2/32 port $p2: deny ($tmp/base.rules:1 default) -> allow ($tmp/learned.rules:"
hasnt "diff base site" "127.0.0.3"
check "enforce the learned policy" 0 $tool fetch -r "$tmp/site.rules" http://127.0.0.2:$p2/
has "enforce the learned policy" "hello"
check "the ruled-out address stays denied" 7 $tool fetch -r "$tmp/site.rules" http://127.0.0.3:$p3/
check "run under the learned policy" 0 $tool run -r "$tmp/site.rules" -- curl -sS http://127.0.0.2:$p2/
has "run under the learned policy" "hello"
check "learn after learning" 0 $tool learn -r "$tmp/site.rules" "$log"
hasnt "learn after learning" "allow 127.0.0.2"

# merging stays honest: a prefix only when all of it was seen with the same
# ports; names become host rules; the default rules send loopback to a human
ev() {  # ev ADDR PORT [HOST]: one report-mode denial
  h=
  [ $# -gt 2 ] && h="\"host\":\"$3\","
  printf '{"v":3,%s"time":"2026-11-25T06:52:%02d.000000Z","decision":"deny","enforced":false,"addr":"%s","as":null,"port":%s,"family":"%s","transport":"tcp","socktype":1,"protocol":6,"check":"open","default":true,"reason":"default","rule":{"file":"x.rules","line":1,"text":"default deny"},"generation":1,"pid":7,"lost":0}\n' \
    "$h" "$2" "$1" "$2" "$(case $1 in *:*) echo inet6 ;; *) echo inet ;; esac)"
}
{
  ev 192.0.2.0 43; ev 192.0.2.1 43; ev 192.0.2.2 43
  ev 192.0.2.4 43; ev 192.0.2.5 43; ev 192.0.2.6 43; ev 192.0.2.7 43
  ev 198.51.100.7 8; ev 198.51.100.7 9; ev 198.51.100.7 10; ev 198.51.100.7 44
  ev 2001:db8::10 43; ev 2001:db8::11 43
  ev 203.0.113.5 43 api.example.test; ev 203.0.113.6 44 api.example.test
  ev 127.0.0.1 8 local.example.test
} >"$tmp/seen.jsonl"
printf 'default deny\n' >"$tmp/deny.rules"
check "learn merges" 0 $tool learn -r "$tmp/deny.rules" "$tmp/seen.jsonl"
has "learn merges" "^allow 192.0.2.0/31 port 43"
has "learn merges" "^allow 192.0.2.2 port 43"
has "learn merges" "^allow 192.0.2.4/30 port 43"
has "learn merges" "^allow 198.51.100.7 port 8-10,44"
has "learn merges" "^allow 2001:db8::10/127 port 43"
has "learn merges" "^allow host api.example.test port 43-44"
has "learn merges" "^allow host local.example.test port 8"
hasnt "learn merges" "203.0.113"
check "learn against the default rules" 0 $tool learn "$tmp/seen.jsonl"
has "learn against the default rules" "# needs a human decision: local.example.test port 8 is denied by $(pwd)/rules/never-reach.rules:"
has "learn against the default rules" "#   allow host local.example.test to 127.0.0.1/32 port 8"
hasnt "learn against the default rules" "allow host local.example.test port"
check "learn of a mixed log" 1 $tool learn -r "$tmp/deny.rules" "$tmp/mixed.jsonl"
has "learn of a mixed log" "$tmp/mixed.jsonl:10: not an audit event"
check "learn: rules and log both on standard input" 2 $tool learn -r - -
check "learn: rules that do not load" 2 $tool learn -r "$tmp/none.rules" "$log"

# ---- the program's own sockets: "connect" events are read like "open"
log2=$tmp/own.jsonl
check "run python in report mode" 0 $tool run --report-only -r "$tmp/base.rules" --audit "$log2" -- /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.2', $p2)).close()"
check "report of a program's own connection" 0 $tool report "$log2"
has "report of a program's own connection" "^connections: 1 decided, 0 allowed, 0 denied, 1 would have been denied (report-only mode let them through)"
has "report of a program's own connection" "^events: 1 read, 0 invalid lines, 0 lost by their writers"
check "learn from a program's own connection" 0 $tool learn -r "$tmp/base.rules" "$log2"
has "learn from a program's own connection" "^allow 127.0.0.2 port $p2"

summary loop
