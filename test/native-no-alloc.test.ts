/**
 * The fused plan allocates nothing per step: builds test/native/plan_alloc.cc with the engine's files
 * (native/plan_*.cc but the N-API ones: plain C++) into a program that counts every heap allocation by its
 * caller, and runs it: the workloads (every loss and optimizer, clipping, dropout, the loop GEMMs
 * of tiny layers, the per-layer update of big ones, and two convolutional plans with every image step) at 1 and 2 OpenBLAS threads must make no
 * allocation in blasnet's code over five epochs and a forward pass after the first epoch.
 * (OpenBLAS's own threaded GEMM drivers allocate per call in Debian's build; they are reported,
 * not counted.) Needs g++ and pkg-config's openblas: skipped locally without them, required in CI.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync } from "node:fs";
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
/** The engine's sources: every native/plan*.cc but the N-API ones (binding, spec parsing). */
const engineSources = readdirSync("native")
  .filter((f) => /^plan.*\.cc$/.test(f) && !["plan_binding.cc", "plan_spec.cc"].includes(f))
  .map((f) => `native/${f}`);

const available = openblas !== undefined && gxx !== undefined;
if (!available && process.env["CI"]) {
  throw new Error("CI requires g++ and pkg-config's openblas (scripts/setup.sh installs them) for the no-allocation test");
}

describe.skipIf(!available)("fused plan: no allocation per step", () => {
  it("blasnet's code allocates nothing while steps run (1 and 2 OpenBLAS threads)", () => {
    const exe = path.join(mkdtempSync(path.join(os.tmpdir(), "blasnet-alloc-")), "plan_alloc");
    // -O1 without the per-ISA clones: quick to build; allocation does not depend on optimization.
    const args = ["-std=c++17", "-O1", "-DBLASNET_NO_CLONES", "-Inative", "test/native/plan_alloc.cc", ...engineSources, ...openblas!.split(/\s+/), "-ldl", "-o", exe];
    const build = spawnSync("g++", args, { encoding: "utf8" });
    expect(build.status, build.stderr).toBe(0);
    const run = spawnSync(exe, [], { encoding: "utf8", timeout: 60_000 });
    const lines = run.stdout.trim().split("\n");
    expect(run.status, run.stdout + run.stderr).toBe(0);
    const counted = lines.filter((l) => l.includes("allocations by blasnet"));
    expect(counted, run.stdout).toHaveLength(20); // 10 workloads x 2 thread counts
    for (const l of counted) expect(l, run.stdout).toMatch(/: 0 allocations by blasnet/);
    expect(lines.at(-1)).toBe("OK");
  }, 120_000);
});
