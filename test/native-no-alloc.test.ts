/**
 * The fused plan allocates nothing per step: builds test/native/plan_alloc.cc with the engine's files
 * (native/plan_*.cc but the N-API ones: plain C++) into a program that counts every heap allocation by its
 * caller, and runs it: the workloads (every loss and optimizer, clipping, dropout, the loop GEMMs
 * of tiny layers, the per-layer update of big ones, and two convolutional plans with every image step) at 1 and 2 OpenBLAS threads must make no
 * allocation in blasnet's code over five epochs and a forward pass after the first epoch.
 * (OpenBLAS's own threaded GEMM drivers allocate per call in Debian's build; they are reported,
 * not counted.) Needs g++ and pkg-config's openblas: skipped locally without them, required in CI.
 */
import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildAndRun, nativeToolchain } from "./native-toolchain.js";

const available = nativeToolchain("the no-allocation test");
/** The engine's sources: every native/plan*.cc but the N-API ones (binding, spec parsing). */
const engineSources = readdirSync("native")
  .filter((f) => /^plan.*\.cc$/.test(f) && !["plan_binding.cc", "plan_spec.cc"].includes(f))
  .map((f) => `native/${f}`);

describe.skipIf(!available)("fused plan: no allocation per step", () => {
  it("blasnet's code allocates nothing while steps run (1 and 2 OpenBLAS threads)", () => {
    // -O1 without the per-ISA clones: quick to build; allocation does not depend on optimization.
    const built = buildAndRun("plan_alloc", ["-std=c++17", "-O1", "-DBLASNET_NO_CLONES", "-Inative"], ["test/native/plan_alloc.cc", ...engineSources], ["-ldl"]);
    expect(built.build.status, built.build.stderr).toBe(0);
    const run = built.run!;
    const lines = run.stdout.trim().split("\n");
    expect(run.status, run.stdout + run.stderr).toBe(0);
    const counted = lines.filter((l) => l.includes("allocations by blasnet"));
    expect(counted, run.stdout).toHaveLength(20); // 10 workloads x 2 thread counts
    for (const l of counted) expect(l, run.stdout).toMatch(/: 0 allocations by blasnet/);
    expect(lines.at(-1)).toBe("OK");
  }, 120_000);
});
