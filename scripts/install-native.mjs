#!/usr/bin/env node
// npm's install script: build the native addon (build/Release/blasnet.node) with cmake-js.
//
// A failed build does not fail `npm install blasnet`: the library then runs on its TypeScript
// backend and warns once, at run time, with the reason and the fix. npm hides an install script's
// output (unless --foreground-scripts), so the reason is also kept in build/install-failure.log,
// which the run-time warning quotes; a successful build removes it. The build is required (a
// failure exits non-zero) when asked for explicitly: under `npm rebuild blasnet` (the command the
// warnings give), and with BLASNET_REQUIRE_NATIVE=1 (scripts/setup.sh sets it for a checkout's
// set-up and CI, and then also checks that the addon loads).
import { spawn } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const required = process.env.BLASNET_REQUIRE_NATIVE === "1" || process.env.npm_command === "rebuild";
const FAILURE_LOG = "build/install-failure.log";
const KEEP_LINES = 60;

/** Run cmake-js, passing its output through and keeping its last lines. */
function build(cmakeJs) {
  return new Promise((resolve) => {
    const tail = [];
    const keep = (chunk) => {
      for (const line of chunk.toString().split(/\r?\n/)) if (line.trim() !== "") tail.push(line);
      tail.splice(0, Math.max(0, tail.length - KEEP_LINES));
    };
    const child = spawn(process.execPath, [cmakeJs, "compile", "--log-level", "warn"], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (d) => {
      process.stdout.write(d);
      keep(d);
    });
    child.stderr.on("data", (d) => {
      process.stderr.write(d);
      keep(d);
    });
    child.on("error", (e) => resolve({ status: null, cause: e.message, tail }));
    child.on("close", (status, signal) => resolve({ status, cause: signal ? `cmake-js was killed by ${signal}` : `cmake-js exited with code ${status}`, tail }));
  });
}

let result;
try {
  result = await build(require.resolve("cmake-js/bin/cmake-js"));
} catch (e) {
  result = { status: null, cause: e instanceof Error ? e.message : String(e), tail: [] };
}
if (result.status === 0) {
  rmSync(FAILURE_LOG, { force: true });
  process.exit(0);
}

try {
  mkdirSync("build", { recursive: true });
  writeFileSync(FAILURE_LOG, [`cause: ${result.cause}`, `date: ${new Date().toISOString()}`, `node: ${process.version}`, "output (last lines):", ...result.tail, ""].join("\n"));
} catch {
  // An unwritable package directory: the message below still says why.
}
console.error(
  [
    "",
    `blasnet: the native addon was not built (${result.cause}; the output above says why, and ${FAILURE_LOG} keeps it).`,
    "blasnet still works, on its TypeScript backend (slower), and warns once when it is first used.",
    "To build the addon:",
    "  sudo apt-get install -y libopenblas-dev cmake g++",
    "  then, with blasnet installed as a dependency: npm rebuild blasnet --ignore-scripts=false --foreground-scripts",
    "       in a blasnet checkout:                  npm run build:native",
    "",
  ].join("\n"),
);
process.exit(required ? 1 : 0);
