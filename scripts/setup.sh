#!/usr/bin/env bash
# Sets up a blasnet checkout on Debian/Ubuntu: system packages, npm packages, the native addon
# (cmake-js against the system OpenBLAS) and the compiled TypeScript. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# What the native build and the demo need from the system.
packages=(libopenblas-dev cmake g++ make pkg-config python3 dataset-fashion-mnist)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    sudo=""
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo"
  else
    echo "blasnet setup: these Debian packages are missing: ${missing[*]}" >&2
    echo "Ask an administrator to run:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    echo "then run this script again." >&2
    exit 1
  fi
  echo "blasnet setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v node >/dev/null 2>&1 || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "blasnet setup: Node.js >= 20 is required (found: $(node --version 2>/dev/null || echo none))." >&2
  exit 1
fi

# npm ci installs exactly what package-lock.json lists (it lists every platform's optional packages,
# so it installs anywhere) and leaves it unmodified; it runs the package's install script (cmake-js
# builds build/Release/blasnet.node) and its prepare script (tsc builds dist/).
# ONNXRUNTIME_NODE_INSTALL=skip: onnxruntime-node (a dev dependency, for the ONNX export tests) uses
# the CPU binary in its npm package instead of downloading CUDA binaries at install time. (It is an
# environment variable: npm warns about, and will stop passing on, unknown keys in .npmrc.)
# BLASNET_REQUIRE_NATIVE=1: a failed addon build fails the install here (for users installing blasnet
# as a dependency it only warns; see scripts/install-native.mjs).
echo "blasnet setup: npm ci (builds the native addon and the TypeScript)"
ONNXRUNTIME_NODE_INSTALL=skip BLASNET_REQUIRE_NATIVE=1 npm ci --no-audit --no-fund --loglevel=error

# A build that silently produced no addon must stop here, not show up later as a slow fallback.
node --input-type=module -e '
  const { setBackend, backendInfo } = await import("./dist/lib/backend/index.js");
  setBackend("native");
  const info = backendInfo();
  console.log(`blasnet setup: native backend ready (${info.blas}; ${info.threads} threads; ${info.cpu})`);
'

# The README's CLI commands run `npx blasnet` in the checkout: npm installs the checkout into its npx
# cache on first use (running its prepare and install scripts), and an interrupted first use leaves an
# entry without a package.json, after which every `npx blasnet` fails with ENOENT (npm does not
# repair it). Drop such broken entries, then make that first use here, where nothing interrupts it.
npx_cache="$(npm config get cache)/_npx"
if [ -d "$npx_cache" ]; then
  for entry in "$npx_cache"/*/; do
    [ -f "$entry/package.json" ] || rm -rf "$entry"
  done
fi
version=$(ONNXRUNTIME_NODE_INSTALL=skip npx --offline blasnet --version)
echo "blasnet setup: npx blasnet $version is this checkout's CLI"
