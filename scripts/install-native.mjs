#!/usr/bin/env node
// npm's install script: build the native addon (build/Release/blasnet.node) with cmake-js.
//
// A failed build does not fail `npm install blasnet`: the library then runs on its TypeScript
// backend and warns once, at run time, with the reason and the fix. This script says the same at
// install time, after cmake-js's own output (which names what is missing). The build is required
// (a failure exits non-zero) when asked for explicitly: under `npm rebuild blasnet` (the command the
// warnings give), and with BLASNET_REQUIRE_NATIVE=1 (scripts/setup.sh sets it for a checkout's
// set-up and CI, and then also checks that the addon loads).
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const required = process.env.BLASNET_REQUIRE_NATIVE === "1" || process.env.npm_command === "rebuild";

let status;
let cause;
try {
  const cmakeJs = require.resolve("cmake-js/bin/cmake-js");
  const r = spawnSync(process.execPath, [cmakeJs, "compile", "--log-level", "warn"], { stdio: "inherit" });
  status = r.status;
  cause = r.error ? r.error.message : r.signal ? `cmake-js was killed by ${r.signal}` : `cmake-js exited with code ${r.status}`;
} catch (e) {
  status = null;
  cause = e instanceof Error ? e.message : String(e);
}
if (status === 0) process.exit(0);

console.error(
  [
    "",
    `blasnet: the native addon was not built (${cause}; the output above says why).`,
    "blasnet still works, on its TypeScript backend (slower), and warns once when it is first used.",
    "To build the addon:",
    "  sudo apt-get install -y libopenblas-dev cmake g++",
    "  then, with blasnet installed as a dependency: npm rebuild blasnet --ignore-scripts=false --foreground-scripts",
    "       in a blasnet checkout:                  npm run build:native",
    "",
  ].join("\n"),
);
process.exit(required ? 1 : 0);
