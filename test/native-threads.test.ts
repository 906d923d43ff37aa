/**
 * The fused plan's own threads (native/plan_threads.h), alone: builds test/native/plan_threads_check.cc
 * with native/plan_threads.cc and runs it. The team runs every share of every region; an exception on
 * a worker or on the caller reaches the caller after the other shares finish, and the team goes on;
 * BlasSolo holds OpenBLAS at one thread across nested and concurrent holders, and SetCount during one
 * takes effect at its end. Needs g++ and pkg-config's openblas: skipped locally without them, required in CI.
 */
import { describe, expect, it } from "vitest";
import { buildAndRun, nativeToolchain } from "./native-toolchain.js";

const available = nativeToolchain("the native thread test");

describe.skipIf(!available)("fused plan threads: team, exceptions, OpenBLAS's count", () => {
  it("runs every share, brings exceptions back to the caller, and restores OpenBLAS's thread count", () => {
    const { build, run } = buildAndRun("plan_threads_check", ["-std=c++17", "-O1", "-Inative"], ["test/native/plan_threads_check.cc", "native/plan_threads.cc"], ["-lpthread"]);
    expect(build.status, build.stderr).toBe(0);
    expect(run!.status, run!.stdout + run!.stderr).toBe(0);
    expect(run!.stdout.trim()).toBe("OK");
  }, 120_000);
});
