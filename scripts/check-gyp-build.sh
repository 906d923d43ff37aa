#!/usr/bin/env bash
# Build the addon with node-gyp (binding.gyp) and check it: load the gyp-built blasnet.node, run a
# small gemm and a rejected call, then every test file that loads the addon (scripts/native-test-files.sh:
# kernel parity against TypeScript, the fused plan, the boundary, fast math, fit...) with the loader
# pointed at it. The build
# happens in a scratch copy of binding.gyp + native/, so build/Release/blasnet.node from cmake-js is
# never touched. Exits non-zero on any failure.
#
# Node headers: node-gyp would download them unless told where they are. We pass --nodedir from
# $npm_config_nodedir, `npm config get nodedir`, or the running Node's own prefix (/usr for
# Debian's nodejs, which ships /usr/include/node); only if none has headers does node-gyp fall back
# to its default (a download).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/blasnet-gyp.XXXXXX")"
keep="${BLASNET_KEEP_GYP_BUILD:-}"
cleanup() { if [ -z "$keep" ]; then rm -rf "$work"; else echo "gyp build kept in $work"; fi; }
trap cleanup EXIT

cp "$root/binding.gyp" "$root/package.json" "$work/"
cp -R "$root/native" "$work/native"
ln -s "$root/node_modules" "$work/node_modules"

has_headers() { [ -n "$1" ] && [ "$1" != "undefined" ] && [ -f "$1/include/node/node_api.h" ] && [ -f "$1/include/node/common.gypi" ]; }
nodedir="${npm_config_nodedir:-}"
if ! has_headers "$nodedir"; then nodedir="$(cd "$root" && npm config get nodedir 2>/dev/null || true)"; fi
if ! has_headers "$nodedir"; then nodedir="$(node -p 'require("path").resolve(process.execPath, "..", "..")')"; fi
gyp_args=(rebuild --jobs=2)
if has_headers "$nodedir"; then
  gyp_args+=("--nodedir=$nodedir")
else
  echo "check-gyp-build: no local Node headers found; node-gyp will fetch them" >&2
fi

echo "check-gyp-build: node-gyp ${gyp_args[*]} (in $work)"
(cd "$work" && "$root/node_modules/.bin/node-gyp" "${gyp_args[@]}" --loglevel=warn)

addon="$work/build/Release/blasnet.node"
[ -f "$addon" ] || { echo "check-gyp-build: FAILED: $addon was not produced" >&2; exit 1; }

node - "$addon" <<'JS'
const addon = require(process.argv[2]);
const fail = (msg) => { console.error(`check-gyp-build: FAILED: ${msg}`); process.exit(1); };
// (2,3) x (3,2), C pre-filled with NaN: beta = 0 must overwrite it.
const a = new Float32Array([1, 2, 3, 4, 5, 6]);
const b = new Float32Array([7, 8, 9, 10, 11, 12]);
const c = new Float32Array(4).fill(NaN);
addon.gemm(false, false, 2, 2, 3, 1, a, b, 0, c);
const want = [58, 64, 139, 154];
if (want.some((w, i) => c[i] !== w)) fail(`gemm gave [${Array.from(c)}], expected [${want}]`);
// Transposed operands through subarray views.
const at = new Float32Array([0, 1, 4, 2, 5, 3, 6]).subarray(1); // A^T stored (3,2)
const c2 = new Float32Array(4);
addon.gemm(true, false, 2, 2, 3, 1, at, b, 0, c2);
if (want.some((w, i) => c2[i] !== w)) fail(`gemm(transA) gave [${Array.from(c2)}], expected [${want}]`);
try {
  addon.gemm(false, false, 2, 2, 3, 1, a, b, 0, new Float64Array(4));
  fail("gemm accepted a Float64Array for 'c'");
} catch (e) {
  if (!(e instanceof TypeError) || !e.message.includes("'c'")) fail(`unexpected error: ${e}`);
}
console.log(`check-gyp-build: OK: gemm checked; ${addon.blasConfig()}; kernels: ${addon.simdLevel()}; ` +
  `exports: ${Object.keys(addon).length}`);
JS

# The gyp-built addon gives the same numbers: every native test file on it (BLASNET_NATIVE_ADDON
# makes the loader take this file; CI=true makes the tests require it).
mapfile -t tests < <("$root/scripts/native-test-files.sh")
[ "${#tests[@]}" -gt 0 ] || { echo "check-gyp-build: FAILED: scripts/native-test-files.sh found no test files" >&2; exit 1; }
echo "check-gyp-build: ${#tests[@]} native test files on the node-gyp build"
(cd "$root" && BLASNET_NATIVE_ADDON="$addon" CI=true "$root/node_modules/.bin/vitest" run "${tests[@]}")
echo "check-gyp-build: OK: the node-gyp build passes the native tests"
