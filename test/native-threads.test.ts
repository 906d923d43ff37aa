/**
 * The fused plan's own threads (native/plan_threads.h), alone: builds test/native/plan_threads_check.cc
 * with native/plan_threads.cc and runs it. The team runs every share of every region; an exception on
 * a worker or on the caller reaches the caller after the other shares finish, and the team goes on;
 * BlasSolo holds OpenBLAS at one thread across nested and concurrent holders, and SetCount during one
 * takes effect at its end. Needs g++ and pkg-config's openblas: skipped locally without them, required in CI.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";

function tool(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return undefined;
  }
}

const openblas = tool("pkg-config", ["--cflags", "--libs", "openblas"]);
const gxx = tool("g++", ["--version"]);
const available = openblas !== undefined && gxx !== undefined;
if (!available && process.env["CI"]) {
  throw new Error("CI requires g++ and pkg-config's openblas (scripts/setup.sh installs them) for the native thread test");
}

describe.skipIf(!available)("fused plan threads: team, exceptions, OpenBLAS's count", () => {
  it("runs every share, brings exceptions back to the caller, and restores OpenBLAS's thread count", () => {
    const exe = path.join(mkdtempSync(path.join(os.tmpdir(), "blasnet-threads-")), "plan_threads_check");
    const args = ["-std=c++17", "-O1", "-Inative", "test/native/plan_threads_check.cc", "native/plan_threads.cc", ...openblas!.split(/\s+/), "-lpthread", "-o", exe];
    const build = spawnSync("g++", args, { encoding: "utf8" });
    expect(build.status, build.stderr).toBe(0);
    const run = spawnSync(exe, [], { encoding: "utf8", timeout: 60_000 });
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe("OK");
  }, 120_000);
});
