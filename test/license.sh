#!/bin/sh
# SPDX-License-Identifier: MIT
# Every source file the repository tracks names its license (LICENSE) in
# an SPDX line near its top, so a file copied out of the tree keeps it.
set -eu
missing=0
n=0
# The files git tracks; in a release tarball (no git), the files present,
# which are the tracked ones, less what builds and packaging leave.
files() {
  if [ "$(git rev-parse --show-toplevel 2>/dev/null)" = "$(pwd -P)" ]; then
    git ls-files
  else
    find . \( -path ./.git -o -path './build*' -o -path ./debian \) -prune -o \
      -type f -print | sed 's|^\./||' | sort
  fi
}
for f in $(files | grep -E '\.(c|h|sh|py|mk|map|in|bash)$|(^|/)Makefile$|^tools/(install-deps|demo)$|^\.ci/run$'); do
  n=$((n + 1))
  if ! head -n 3 "$f" | grep -q 'SPDX-License-Identifier: MIT'; then
    echo "license: $f has no SPDX-License-Identifier line"
    missing=1
  fi
done
[ "$n" -gt 0 ] || { echo "license: no source files found"; exit 1; }
[ "$missing" -eq 0 ] || exit 1
echo "license: $n source files, each with an SPDX line"
