#!/bin/sh
# SPDX-License-Identifier: MIT
# Instructions and cache misses per decision from callgrind's cache model
# (steady where timings are not: a shared machine).  bench/bench.c, with
# BENCH_CACHESIM set, instruments only its timed passes and dumps one
# profile per pass, labelled "CASE KEYS decide lookups=N".
#   bench/misses.sh BENCH_BINARY LL_CACHE CASE...
# LL_CACHE is callgrind's --LL (size,associativity,line): the level whose
# misses go to memory in the model.  The target of the 1M case is at most
# one miss per lookup.
set -eu
bin=$1 ll=$2
shift 2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
BENCH_CACHESIM=1 valgrind --tool=callgrind --instr-atstart=no \
  --cache-sim=yes --LL="$ll" --callgrind-out-file="$dir/cg.out" \
  "$bin" "$@" >/dev/null 2>"$dir/log" || { cat "$dir/log" >&2; exit 1; }
for f in "$dir"/cg.out.*; do
  awk '
    /^desc: Trigger: Client Request: / {
      sub(/^desc: Trigger: Client Request: /, ""); label = $0
      n = label; sub(/.*lookups=/, "", n)
    }
    /^events:/ { for (i = 2; i <= NF; i++) col[$i] = i - 1 }
    /^(summary|totals):/ { for (i = 2; i <= NF; i++) v[i - 1] = $i }
    END {
      if (!n) exit
      ir = v[col["Ir"]] / n
      d1 = (v[col["D1mr"]] + v[col["D1mw"]]) / n
      ll = (v[col["DLmr"]] + v[col["DLmw"]]) / n
      line = sprintf("%s: %.1f instructions, %.3f L1 misses, %.3f LL misses per decision",
                     label, ir, d1, ll)
      if (label ~ /^bgp4-1M /)
        line = line sprintf("  target LL misses <= 1: %s", ll <= 1 ? "PASS" : "MISS")
      print line
    }' "$f"
done
