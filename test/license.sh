#!/bin/sh
# SPDX-License-Identifier: MIT
# Every source file the repository tracks names its license (LICENSE) in
# an SPDX line near its top, so a file copied out of the tree keeps it.
set -eu
missing=0
n=0
for f in $(git ls-files 2>/dev/null | grep -E '\.(c|h|sh|py|mk|map|in|bash)$|(^|/)Makefile$|^tools/(install-deps|demo)$|^\.ci/run$'); do
  n=$((n + 1))
  if ! head -n 3 "$f" | grep -q 'SPDX-License-Identifier: MIT'; then
    echo "license: $f has no SPDX-License-Identifier line"
    missing=1
  fi
done
[ "$missing" -eq 0 ] || exit 1
echo "license: $n source files, each with an SPDX line"
