#!/bin/sh
# SPDX-License-Identifier: MIT
# One version everywhere: the header's CURLFENCE_VERSION (which the
# Makefile and the tool read) agrees with its MAJOR/MINOR/PATCH, with the
# header of every man page, with the newest release section of NEWS and
# with debian/changelog; no symbol version node, and no "Added in" of a
# man page, is newer than it, or than the next minor release while NEWS
# has a section for it in progress.
set -u
fail=0
bad() { echo "version: $*"; fail=1; }

h=include/curlfence.h
v=$(sed -n 's/^#define CURLFENCE_VERSION "\(.*\)"$/\1/p' $h)
parts=$(sed -n 's/^#define CURLFENCE_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' $h |
        paste -sd. -)
[ -n "$v" ] || { echo "version: no CURLFENCE_VERSION in $h"; exit 1; }
[ "$parts" = "$v" ] ||
  bad "$h: CURLFENCE_VERSION is $v, MAJOR.MINOR.PATCH say $parts"

num() {  # X.Y[.Z] -> one comparable number
  echo "$1" | awk -F. '{ printf "%d\n", $1 * 1000000 + $2 * 1000 + $3 }'
}
n=$(num "$v")
# What the release being prepared adds (NEWS: "Next release (in
# progress)") is in the next minor release's node and says so.
nodemax=$n
if grep -q '^Next release (in progress)' NEWS; then
  nodemax=$(( (n / 1000 + 1) * 1000 ))
fi

for page in docs/*.[1-8]; do
  th=$(grep -m1 '^\.TH ' "$page")
  case $th in
    *"\"curlfence $v\""*) ;;
    *) bad "$page: header \"$th\" does not say curlfence $v" ;;
  esac
  for a in $(sed -n 's/^Added in curlfence \([0-9.]*[0-9]\).*/\1/p' "$page"); do
    [ "$(num "$a")" -le "$nodemax" ] || bad "$page: added in $a, after $v"
  done
done

top=$(grep -m1 -E '^[0-9]+\.[0-9]+\.[0-9]+' NEWS)
case $top in
  "$v"|"$v "*) ;;
  *) bad "NEWS: the newest release section is \"$top\", not $v" ;;
esac

for node in $(sed -n 's/^CURLFENCE_\([0-9][0-9.]*\) *{.*/\1/p' lib/curlfence.map); do
  [ "$(num "$node")" -le "$nodemax" ] ||
    bad "lib/curlfence.map: node CURLFENCE_$node is newer than $v and the release in progress"
done

if [ -f debian/changelog ]; then
  d=$(sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' debian/changelog)
  case $d in
    "$v"|"$v"-*) ;;
    *) bad "debian/changelog: version $d is not $v" ;;
  esac
fi

[ "$fail" -eq 0 ] || exit 1
echo "version: $v in the header, man pages, NEWS, symbol nodes and packaging"
