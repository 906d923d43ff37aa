/** The loss-curve SVG: one polyline per series with a point per epoch, a log axis for wide ranges, escaped text. */
import { describe, expect, it } from "vitest";
import { lossCurveSvg } from "../lib/cli/plot.js";

const points = (svg: string): string[][] => [...svg.matchAll(/<polyline [^>]*points="([^"]*)"/g)].map((m) => m[1]!.split(" "));

describe("lossCurveSvg", () => {
  it("draws a line per series, a point per epoch, in the plot area", async () => {
    const loss = [1, 0.5, 0.4, 0.35];
    const svg = await lossCurveSvg({ loss, valLoss: [1.1, 0.6, 0.55, 0.6] }, "blasnet: <a&b>.csv");
    expect(svg.startsWith("<svg xmlns=\"http://www.w3.org/2000/svg\"")).toBe(true);
    expect(svg.endsWith("</svg>")).toBe(true);
    expect(svg).toContain("blasnet: &lt;a&amp;b&gt;.csv");
    const lines = points(svg);
    expect(lines.map((l) => l.length)).toEqual([4, 4]);
    // Epochs run left to right; the lower loss is drawn higher up (smaller y).
    const xy = lines[0]!.map((p) => p.split(",").map(Number));
    expect(xy.map(([x]) => x)).toEqual([...xy.map(([x]) => x!)].sort((a, b) => a - b));
    expect(xy[0]![1]!).toBeLessThan(xy[3]![1]!); // loss 1 is drawn above loss 0.35
    for (const [x, y] of xy) {
      expect(x).toBeGreaterThanOrEqual(70);
      expect(x).toBeLessThanOrEqual(510);
      expect(y).toBeGreaterThanOrEqual(40);
      expect(y).toBeLessThanOrEqual(330);
    }
    expect(svg).toMatch(/>training<\/text>[\s\S]*>validation<\/text>/);
    expect(svg).toMatch(/>epoch<\/text>/);
  });

  it("uses a log loss axis when the losses span more than 100x, and skips non-finite values", async () => {
    const svg = await lossCurveSvg({ loss: [100, 10, 1, 0.1, Number.NaN, 0.05] });
    expect(svg).toContain("loss (log scale)");
    expect(points(svg)[0]).toHaveLength(5);
    expect(await lossCurveSvg({ loss: [3, 2] })).not.toContain("log scale");
  });
});
