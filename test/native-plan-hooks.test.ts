/**
 * Whether the native backend offers the fused plan depends on its production entry (FusedPlan)
 * only: an addon without the plan's test hooks (planFastMath, planActivation, planCopyPace) still
 * trains fused (hasFusedPlan required all four). The hooks are in every build of ours, since the
 * native tests need them; asserted here, and the tests that use them fail (never skip) without them.
 */
import { describe, expect, it } from "vitest";
import { hasFusedPlan } from "../lib/backend/native/fused-plan.js";
import { nativeOrSkip, planTestHooks } from "./helpers.js";

describe("the fused plan's capability check and its test hooks", () => {
  it("hasFusedPlan: FusedPlan alone is enough; the hooks alone are not", () => {
    class FusedPlan {}
    expect(hasFusedPlan({ FusedPlan })).toBe(true);
    expect(hasFusedPlan({ planFastMath() {}, planActivation() {}, planCopyPace() {} })).toBe(false);
    expect(hasFusedPlan({ FusedPlan: {} })).toBe(false);
  });

  it.runIf(nativeOrSkip())("this build registers FusedPlan and every test hook", () => {
    const addon = planTestHooks()!;
    for (const entry of ["FusedPlan", "planFastMath", "planActivation", "planCopyPace"] as const) expect(typeof addon[entry], entry).toBe("function");
    expect(nativeOrSkip()!.createFusedPlan).toBeTypeOf("function");
  });
});
