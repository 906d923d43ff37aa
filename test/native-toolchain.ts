/**
 * The C++ toolchain the tests that build native test programs need (g++ and pkg-config's openblas),
 * found once: those tests are skipped locally without it and required in CI, where
 * scripts/setup.sh installs it.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";

function tool(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return undefined;
  }
}

/** pkg-config's compiler and linker flags for OpenBLAS, as separate arguments (undefined: not installed). */
const openblasFlags = tool("pkg-config", ["--cflags", "--libs", "openblas"])?.split(/\s+/);
const gxx = tool("g++", ["--version"]);

/**
 * Whether g++ and OpenBLAS's flags are here; throws in CI when they are not, naming the test
 * (`what`) that needs them.
 */
export function nativeToolchain(what: string): boolean {
  const available = openblasFlags !== undefined && gxx !== undefined;
  if (!available && process.env["CI"]) {
    throw new Error(`CI requires g++ and pkg-config's openblas (scripts/setup.sh installs them) for ${what}`);
  }
  return available;
}

/**
 * Builds `sources` (with `flags` before them, OpenBLAS's and `libs` after) into a program in a new
 * temporary folder and runs it; returns the build's and the run's results.
 */
export function buildAndRun(name: string, flags: string[], sources: string[], libs: string[]) {
  const exe = path.join(mkdtempSync(path.join(os.tmpdir(), `blasnet-${name}-`)), name);
  const build = spawnSync("g++", [...flags, ...sources, ...(openblasFlags ?? []), ...libs, "-o", exe], { encoding: "utf8" });
  const run = build.status === 0 ? spawnSync(exe, [], { encoding: "utf8", timeout: 60_000 }) : undefined;
  return { build, run };
}
