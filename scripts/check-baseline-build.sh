#!/usr/bin/env bash
# Build the addon with the baseline x86-64 version of every kernel only (-DBLASNET_NO_CLONES: no
# AVX2 / AVX-512 clones; the code a CPU without AVX2 runs) and run every test file that loads the
# addon on it (scripts/native-test-files.sh: kernel parity against TypeScript, the fused plan, the
# boundary, fast math, whose baseline bounds and worst cases it then checks, model parity, fit...).
# The build happens in a scratch copy, so build/Release/blasnet.node is never touched. Exits
# non-zero on any failure.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/blasnet-baseline.XXXXXX")"
trap 'rm -rf "$work"' EXIT

cp "$root/CMakeLists.txt" "$root/package.json" "$work/"
cp -R "$root/native" "$work/native"
ln -s "$root/node_modules" "$work/node_modules"

echo "check-baseline-build: cmake-js compile -DBLASNET_NO_CLONES=ON (in $work)"
(cd "$work" && "$root/node_modules/.bin/cmake-js" compile --log-level warn --CDBLASNET_NO_CLONES=ON)
addon="$work/build/Release/blasnet.node"
[ -f "$addon" ] || { echo "check-baseline-build: FAILED: $addon was not produced" >&2; exit 1; }

level="$(node -p "require('$addon').simdLevel()")"
case "$level" in
  *"baseline only"*) ;;
  *) echo "check-baseline-build: FAILED: expected a baseline-only build, the addon reports '$level'" >&2; exit 1 ;;
esac

mapfile -t tests < <("$root/scripts/native-test-files.sh")
[ "${#tests[@]}" -gt 0 ] || { echo "check-baseline-build: FAILED: scripts/native-test-files.sh found no test files" >&2; exit 1; }
echo "check-baseline-build: ${#tests[@]} native test files on the baseline build ($level)"
(cd "$root" && BLASNET_NATIVE_ADDON="$addon" CI=true "$root/node_modules/.bin/vitest" run "${tests[@]}")
echo "check-baseline-build: OK"
