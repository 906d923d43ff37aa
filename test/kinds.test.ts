import { describe, expect, it } from "vitest";
import { nativeKindTable } from "../lib/backend/native/kind-table.js";
import { PLAN_OPS } from "../lib/nn/layers.js";

describe("the kind table shared with the native addon", () => {
  it("holds every registered kind once, with distinct codes per list", () => {
    const t = nativeKindTable();
    for (const list of [t.activations, t.losses, t.layers, Object.fromEntries(Object.entries(t.optimizers).map(([k, v]) => [k, v.code]))]) {
      const codes = Object.values(list);
      expect(new Set(codes).size).toBe(codes.length);
      expect([...codes].sort((a, b) => a - b)).toEqual(codes.map((_, i) => i));
    }
    expect(t.activations.relu).toBe(2);
    expect(t.optimizers.sgd).toEqual({ code: 0, hyper: ["momentum", "dampening", "nesterov", "weightDecay"] });
    expect(t.losses.bce).toBe(5);
    expect(t.layers.dropout).toBe(3);
  });

  it("takes each plan step kind's code from its op, declared in the kind's layer file (lib/nn/layers/)", () => {
    const fromOps = Object.fromEntries(Object.entries(PLAN_OPS).map(([kind, op]) => [kind, op.code]));
    expect(Object.keys(fromOps)).toContain("dense");
    expect(nativeKindTable().layers).toEqual(fromOps);
  });
});
