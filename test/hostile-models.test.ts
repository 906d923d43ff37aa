/**
 * Models built the way a hostile (or careless) caller builds them: one layer object in two places,
 * residual blocks nested thousands deep, layer sizes whose outputs do not fit in memory. Each is an
 * error at construction that says what was wrong, not a model that trains on other weights than it
 * shows, a stack overflow wrapped in a 76,000-character message, or an internal plan's complaint.
 */
import { describe, expect, it } from "vitest";
import { dense, relu, residual, type Layer } from "../lib/nn/layers.js";
import { Sequential } from "../lib/nn/sequential.js";

describe("one layer object in two places of a model", () => {
  it("twice in the model's layers: refused (it trained and counted twice its parameters before)", () => {
    const d = dense(2);
    expect(() => new Sequential([d, d], { inputSize: 2, seed: 1, backend: "js" })).toThrow(
      /^Layer 1 \(dense\) is the same layer object as layer 0: a layer has one place in a model; create a new layer for each place$/,
    );
    // The layer was not taken: it can go into a model of its own.
    expect(new Sequential([d], { inputSize: 2, seed: 1, backend: "js" }).parameterCount()).toBe(6);
  });

  it("twice in a residual block's body: refused", () => {
    const d = dense(2);
    expect(() => residual([d, relu(), d])).toThrow(/^residual layer 2 \(dense\) is the same layer object as residual layer 0: /);
    expect(new Sequential([residual([d])], { inputSize: 2, seed: 1, backend: "js" }).parameterCount()).toBe(6);
  });
});

describe("residual blocks nested deeper than a model can be saved and read", () => {
  const nest = (levels: number): Layer => {
    let l: Layer = dense(3);
    for (let i = 0; i < levels; i++) l = residual([l]);
    return l;
  };

  it("10,000 levels: a RangeError naming the limit at the 65th, at construction (a stack overflow in a 76 kB message before)", () => {
    let error: unknown;
    try {
      nest(10_000);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toBe(
      "residual blocks nest 65 deep here; blasnet builds, saves and reads at most 64 levels of nesting: flatten the model's residual blocks",
    );
  });

  it("64 levels: builds, and its config rebuilds the same model", () => {
    const model = new Sequential([nest(64)], { inputSize: 3, seed: 1, backend: "js" });
    expect(model.parameterCount()).toBe(12);
    const again = Sequential.fromConfig(model.config());
    expect(again.parameterCount()).toBe(12);
  });
});
