/**
 * One rule for a window's output size (lib/ops/window.ts): the TypeScript kernels' argument check
 * (lib/backend/ts/check.ts) accepts exactly the windows the layers' check accepts, and keeps its own
 * message, which names the kernel's argument.
 */
import { describe, expect, it } from "vitest";
import { checkWindow as kernelCheck } from "../lib/backend/ts/check.js";
import { checkWindow as layerCheck, outSize, outSizeRange, type Window2d } from "../lib/ops/window.js";

const G: Window2d = { channels: 2, height: 4, width: 4, kernelH: 3, kernelW: 3, strideH: 1, strideW: 1, padTop: 1, padLeft: 1, dilationH: 1, dilationW: 1, outH: 4, outW: 4 };
const accepts = (f: () => void): boolean => {
  try {
    f();
    return true;
  } catch {
    return false;
  }
};

describe("window geometry: one output-size rule", () => {
  it("outSizeRange is outSize at end padding 0 and at max(padding before, dilation·(kernel − 1))", () => {
    expect(outSizeRange(4, 3, 1, 1, 1)).toEqual({ least: 3, most: 5, maxEnd: 2 });
    expect(outSizeRange(28, 2, 2, 0, 1)).toEqual({ least: 14, most: 14, maxEnd: 1 });
    expect(outSizeRange(5, 3, 2, 3, 2)).toEqual({ least: outSize(5, 3, 2, 3, 0, 2), most: outSize(5, 3, 2, 3, 4, 2), maxEnd: 4 });
  });

  it("the kernels and the layers accept the same geometries, along either axis", () => {
    let accepted = 0;
    let cases = 0;
    for (let size = 1; size <= 7; size++)
      for (let kernel = 1; kernel <= 4; kernel++)
        for (let stride = 1; stride <= 3; stride++)
          for (let pad = 0; pad <= 3; pad++)
            for (let dilation = 1; dilation <= 2; dilation++)
              for (let out = 1; out <= 10; out++) {
                const gh = { ...G, height: size, kernelH: kernel, strideH: stride, padTop: pad, dilationH: dilation, outH: out };
                const gw = { ...G, width: size, kernelW: kernel, strideW: stride, padLeft: pad, dilationW: dilation, outW: out };
                for (const g of [gh, gw]) {
                  const byKernels = accepts(() => kernelCheck("im2col", g));
                  expect(byKernels, JSON.stringify(g)).toBe(accepts(() => layerCheck(g, "conv2d")));
                  cases++;
                  if (byKernels) accepted++;
                }
              }
    // Both outcomes are well represented.
    expect(accepted).toBeGreaterThan(cases / 10);
    expect(accepted).toBeLessThan(cases / 2);
  });

  it("the kernels' message names their argument and the sizes the rule allows", () => {
    expect(() => kernelCheck("im2col", { ...G, outH: 6 })).toThrow(
      "Invalid g.outH for im2col: 6; height 4, kernelH 3, strideH 1, padTop 1 and dilationH 1 give 3..5 (for end padding 0..2)",
    );
    expect(() => kernelCheck("maxPool2dForward", { ...G, strideW: 2, outW: 4 })).toThrow(
      "Invalid g.outW for maxPool2dForward: 4; width 4, kernelW 3, strideW 2, padLeft 1 and dilationW 1 give 2..3 (for end padding 0..2)",
    );
  });
});
