#!/usr/bin/env bash
# The test files that load the native addon, one per line: the ones check-gyp-build.sh and
# check-baseline-build.sh run against their builds. Found by what a file calls (nativeOrSkip,
# planTestHooks or loadAddon from test/helpers.ts and the loader, or the fused plan's fixtures, which
# call nativeOrSkip), not listed by hand, so that a new native test is never left out.
# (test/native-no-alloc and native-threads build their own programs from native/, not the addon.)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
grep -lE '\b(nativeOrSkip|planTestHooks|loadAddon)\(|from "\./fused-plan-fixtures\.js"' test/*.test.ts
