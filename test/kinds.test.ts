import { describe, expect, it, vi } from "vitest";
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

  it("gets the step codes handed down by the layer registry, and checks them against an addon loaded before it", async () => {
    vi.resetModules();
    const fresh = await import("../lib/backend/native/kind-table.js");
    expect(fresh.nativeKindTable().layers).toEqual({});
    const addonKinds = structuredClone(nativeKindTable());
    // Loaded before the registry: the steps are left to the registration, the rest is checked now.
    expect(fresh.checkAddonKinds(addonKinds)).toBeUndefined();
    expect(fresh.checkAddonKinds({ ...addonKinds, losses: { ...addonKinds.losses, bce: 9 } })).toBe("kinds().losses.bce is 9 in the addon but 5 in TypeScript");
    const wrong = { ...addonKinds.layers, dropout: 4, conv2d: 3 };
    expect(() => fresh.registerPlanLayerCodes(wrong)).toThrow(
      "blasnet: the loaded native addon's kind codes differ from this blasnet's registry: kinds().layers.dropout is 3 in the addon but 4 in TypeScript",
    );
    expect(() => fresh.registerPlanLayerCodes(addonKinds.layers)).not.toThrow();
    expect(fresh.nativeKindTable().layers).toEqual(addonKinds.layers);
    // Registered before the load (as lib/index.ts orders it): the load checks the steps too.
    expect(fresh.checkAddonKinds({ ...addonKinds, layers: { ...addonKinds.layers, extra: 11 } })).toBe("kinds().layers.extra is 11 in the addon but missing in TypeScript");
  });
});
