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

# npm install runs the package's install script (cmake-js builds build/Release/blasnet.node) and its
# prepare script (tsc builds dist/). .npmrc tells onnxruntime-node not to download anything.
# Not `npm ci`: it insists that package-lock.json lists every platform's optional packages (rollup's
# for Android, Windows, ...), and a registry mirror without those versions makes it refuse to run;
# `npm install` follows the lock file for everything this machine installs.
# BLASNET_REQUIRE_NATIVE=1: a failed addon build fails the install here (for users installing blasnet
# as a dependency it only warns; see scripts/install-native.mjs).
echo "blasnet setup: npm install (builds the native addon and the TypeScript)"
BLASNET_REQUIRE_NATIVE=1 npm install --no-audit --no-fund --loglevel=error

# A build that silently produced no addon must stop here, not show up later as a slow fallback.
node --input-type=module -e '
  const { setBackend, backendInfo } = await import("./dist/lib/backend/index.js");
  setBackend("native");
  const info = backendInfo();
  console.log(`blasnet setup: native backend ready (${info.blas}; ${info.threads} threads; ${info.cpu})`);
'
