/**
 * Messages that help: a model too large to allocate says how many parameters and bytes it needs
 * and which layer is the largest, instead of "Invalid typed array length" (or, below the engine's
 * limit, trying to allocate gigabytes: before the fix the first case here ran out of memory).
 */
import { describe, expect, it } from "vitest";
import { dense, relu } from "../lib/nn/layers.js";
import { Sequential } from "../lib/nn/sequential.js";

describe("models too large to allocate", () => {
  it("a layer that fits the per-layer limit but not one buffer: parameters, bytes, the layer", () => {
    expect(() => new Sequential([dense(20_000)], { inputSize: 65_536 })).toThrow(
      /^The model has 1,310,740,000 parameters \(layer 0, dense_0, has 1,310,740,000\): 4\.9 GiB of float32 weights, .*blasnet keeps the parameters in one buffer of at most 1,073,741,824 values \(4\.0 GiB\)\. Use fewer or narrower layers/,
    );
  });

  it("layers that each fit but not together", () => {
    expect(() => new Sequential([dense(30_000), relu(), dense(30_000), relu(), dense(1)], { inputSize: 30_000 })).toThrow(
      /^The model has 1,800,090,001 parameters \(layer 0, dense_0, has 900,030,000\): 6\.7 GiB/,
    );
  });
});
