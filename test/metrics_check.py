#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Check a curlfence metrics file with the Prometheus client's own parser.

usage: metrics_check.py FILE [SERIES=VALUE ...]
FILE must parse as the Prometheus text format, every series at most once.
SERIES is a name with its labels, as the format writes them:
  curlfence_decisions_total{decision="deny",check="open",reason="rule"}=2
(label order does not matter); VALUE compared as a number.  A VALUE of
"now" means a time within a day of the check's clock.  "absent" means
no such series.  Exit status 0 when all holds, 1 with a message otherwise.
"""
import os
import sys
import time

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    # A Python of its own (pyenv, venv) may lack the Debian package that
    # tools/install-deps installs for the system one.
    if os.path.exists("/usr/bin/python3") and sys.executable != "/usr/bin/python3":
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise


def fail(msg):
    print("metrics_check: " + msg)
    sys.exit(1)


def key(name, labels):
    return name + "{" + ",".join('%s="%s"' % kv for kv in sorted(labels.items())) + "}"


def parse_series(text):
    name, _, rest = text.partition("{")
    labels = {}
    rest = rest.rstrip("}")
    for part in filter(None, rest.split('",')):
        k, _, v = part.partition("=")
        labels[k.strip()] = v.strip().strip('"')
    return key(name, labels)


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    seen = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            k = key(s.name, s.labels)
            if k in seen:
                fail("series %s twice" % k)
            seen[k] = s.value
    for arg in sys.argv[2:]:
        series, _, want = arg.rpartition("=")
        k = parse_series(series)
        if want == "absent":
            if k in seen:
                fail("%s is present (%s)" % (k, seen[k]))
            continue
        if k not in seen:
            fail("no series %s in %s" % (k, sorted(seen)))
        if want == "now":
            if abs(seen[k] - time.time()) > 86400:
                fail("%s is %s, not about now" % (k, seen[k]))
        elif seen[k] != float(want):
            fail("%s is %s, not %s" % (k, seen[k], want))
    print("metrics_check: %d series ok" % len(seen))


main()
