#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Validate a curlfence JSON Lines audit log with a real JSON parser.

usage: jsonl_check.py FILE COUNT [KEY=VALUE ...]
Every line must be one JSON object with the documented fields and types;
there must be COUNT lines; each KEY=VALUE must hold on every line (KEY may
be "rule.text"; VALUE is compared as JSON, falling back to a string).
Exit status 0 when all holds, 1 with a message otherwise.
"""
import json
import sys

FIELDS = {
    "v": int, "time": str, "decision": str, "enforced": bool, "addr": str,
    "port": int, "family": str, "transport": str, "socktype": int,
    "protocol": int, "check": str, "default": bool, "reason": str,
    "rule": dict, "generation": int, "pid": int, "lost": int, "uid": int,
}
# keys whose value may also be null
NULLABLE = {"as": str, "host": str, "url": str, "program": str, "exe": str,
            "hostname": str}


def fail(msg):
    print("jsonl_check: " + msg)
    sys.exit(1)


def main():
    path, count = sys.argv[1], int(sys.argv[2])
    want = [a.split("=", 1) for a in sys.argv[3:]]
    with open(path, "rb") as f:
        data = f.read()
    if data and not data.endswith(b"\n"):
        fail("last line is not complete")
    lines = data.decode("utf-8").splitlines()
    if len(lines) != count:
        fail("%d lines, want %d" % (len(lines), count))
    for n, line in enumerate(lines, 1):
        try:
            ev = json.loads(line)
        except ValueError as e:
            fail("line %d is not JSON (%s): %r" % (n, e, line[:200]))
        for key, typ in FIELDS.items():
            if not isinstance(ev.get(key), typ):
                fail("line %d: %s missing or not %s" % (n, key, typ.__name__))
        for key, typ in NULLABLE.items():
            if key not in ev or not (ev[key] is None or isinstance(ev[key], typ)):
                fail("line %d: %s missing or not %s or null" % (n, key, typ.__name__))
        if ev["v"] != 4:
            fail("line %d: schema version %r, want 4" % (n, ev["v"]))
        url = ev["url"]
        if url is not None:
            if ev["host"] is None and "://" not in url:
                fail("line %d: url %r is not scheme://host..." % (n, url))
            if "?" in url or "#" in url or "@" in url:
                fail("line %d: url %r keeps user info, query or fragment"
                     % (n, url))
        if ev["host"] is not None and (ev["host"] != ev["host"].lower() or
                                       ev["host"].endswith(".")):
            fail("line %d: host %r is not canonical" % (n, ev["host"]))
        if not ev["time"].endswith("Z") or len(ev["time"]) != 27:
            fail("line %d: time %r is not RFC 3339 UTC with microseconds"
                 % (n, ev["time"]))
        for key, value in want:
            got = ev
            for part in key.split("."):
                got = got.get(part) if isinstance(got, dict) else None
            try:
                expect = json.loads(value)
            except ValueError:
                expect = value
            if got != expect:
                fail("line %d: %s is %r, want %r" % (n, key, got, expect))
    print("jsonl_check: %d lines ok" % len(lines))


main()
