/**
 * The examples, run in their fast forms, and what their stories claim.
 *
 * The lecture runs on every backend under test (TypeScript always; native when built, and always in
 * CI). Fashion-MNIST needs the Debian package dataset-fashion-mnist (installed by set-up and in CI).
 */
import { describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { runLecture, type LectureResult, type LectureRow } from "../examples/lecture.js";
import { runFashionMnist } from "../examples/fashion-mnist.js";
import { FASHION_MNIST_DEBIAN_DIR } from "../lib/data/fashion-mnist.js";
import { lectureCurve, lectureTarget, LECTURE_KNOTS, piecewiseLinear, sampleCurve } from "../lib/data/synthetic.js";
import { nativeOrSkip } from "./helpers.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const run = promisify(execFile);

describe("lecture data", () => {
  it("piecewiseLinear interpolates between knots and holds the end values outside", () => {
    const f = piecewiseLinear([
      [0, 1],
      [2, 5],
      [3, -1],
    ]);
    expect(f(-1)).toBe(1);
    expect(f(0)).toBe(1);
    expect(f(1)).toBe(3);
    expect(f(2.5)).toBe(2);
    expect(f(3)).toBe(-1);
    expect(f(10)).toBe(-1);
    expect(() => piecewiseLinear([[0, 1]])).toThrow(/at least 2 knots/);
    expect(() => piecewiseLinear([[0, 1], [0, 2]])).toThrow(/increase strictly, but knot 1 has x = 0 after 0/);
  });

  it("is seeded, spans the domain, and its noise has the stated standard deviation", () => {
    const a = lectureCurve({ n: 4000, seed: 7 });
    const b = lectureCurve({ n: 4000, seed: 7 });
    const c = lectureCurve({ n: 4000, seed: 8 });
    expect(a.x.data).toEqual(b.x.data);
    expect(a.y.data).toEqual(b.y.data);
    expect(a.x.data).not.toEqual(c.x.data);
    expect(a.x.shape).toEqual([4000, 1]);
    const xs = Array.from(a.x.data);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(-3);
    expect(Math.min(...xs)).toBeLessThan(-2.99);
    expect(Math.max(...xs)).toBeLessThan(3);
    expect(Math.max(...xs)).toBeGreaterThan(2.99);
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < 4000; i++) {
      const r = a.y.data[i]! - a.target(a.x.data[i]!);
      sum += r;
      sq += r * r;
    }
    const std = Math.sqrt(sq / 4000 - (sum / 4000) ** 2);
    expect(std).toBeGreaterThan(0.045);
    expect(std).toBeLessThan(0.055);
    // The target passes through the skeleton's knots plus the wave 0.1 sin(2πx/3).
    const t = lectureTarget();
    for (const [kx, ky] of LECTURE_KNOTS) expect(t(kx)).toBeCloseTo(ky + 0.1 * Math.sin((2 * Math.PI * kx) / 3), 6);
    const clean = sampleCurve((x) => 2 * x, { n: 5, noise: 0, domain: [0, 1], sorted: true });
    expect(Array.from(clean.y.data)).toEqual(Array.from(clean.x.data).map((x) => Math.fround(2 * x)));
    expect(() => sampleCurve((x) => x, { domain: [1, 1] })).toThrow(/Invalid domain/);
    expect(() => sampleCurve((x) => x, { noise: -1 })).toThrow(/Invalid noise/);
  });
});

const native = nativeOrSkip();
const backends = [["js", true], ["native", native !== undefined]] as const;
const lectureResults = new Map<string, LectureResult>();

describe.each(backends)("examples/lecture.ts (fast form) on the %s backend", (backend, available) => {
  it.skipIf(!available)("tells the lecture's story: model bias, more sigmoids fit better", async () => {
    const lines: string[] = [];
    const result: LectureResult = await runLecture({ quick: true, backend, log: (l) => lines.push(l) });
    lectureResults.set(backend, result);
    const row = (k: LectureRow["key"]): LectureRow => result.rows.find((r) => r.key === k)!;
    const [lin, s3, s10, s100, sgd100, r100, wide, deep] = (
      ["linear", "sigmoid3", "sigmoid10", "sigmoid100", "sigmoid100sgd", "relu100", "wide", "deep"] as const
    ).map(row);

    // Parameter counts: b + w; 3h + 1 for h hidden units on one input; deep 20 + 20 vs wide 160.
    expect([lin!.params, s3!.params, s10!.params, s100!.params, sgd100!.params, r100!.params]).toEqual([2, 10, 31, 301, 301, 301]);
    expect(wide!.params).toBe(481);
    expect(deep!.params).toBe(481);
    expect(result.stepsPerEpoch).toBe(20); // ceil(1000 / 50)
    expect(result.backend).toBe(backend);

    // No model can beat the noise by much on 1,000 samples: the losses are real training losses.
    for (const r of result.rows) {
      expect(r.mse, r.name).toBeGreaterThan(0.7 * result.noiseFloor);
      expect(Number.isFinite(r.mae), r.name).toBe(true);
    }
    // Model bias: the line stays far above the noise floor and far above every sigmoid sum.
    expect(lin!.mse).toBeGreaterThan(20 * result.noiseFloor);
    expect(lin!.mse).toBeGreaterThan(2.5 * s3!.mse);
    expect(lin!.curveMse).toBeGreaterThan(0.05);
    // More sigmoids, lower loss: 3 → 10 clearly, 3 → 100 with a wide margin, 100 no worse than 10.
    expect(s10!.mse).toBeLessThan(0.5 * s3!.mse);
    expect(s100!.mse).toBeLessThan(0.3 * s3!.mse);
    expect(s100!.mse).toBeLessThan(1.2 * s10!.mse);
    expect(s100!.curveMse).toBeLessThan(0.1 * lin!.curveMse);
    // Optimization, not model bias: the same 100 sigmoids under plain θ ← θ − η g end above 3 sigmoids.
    expect(sgd100!.mse).toBeGreaterThan(s3!.mse);
    expect(sgd100!.mse).toBeGreaterThan(5 * s100!.mse);
    expect(sgd100!.explanation).toMatch(/optimization problem, not model bias/);
    // A ReLU layer does the sigmoids' job with the same parameters.
    expect(r100!.mse).toBeLessThan(0.5 * s3!.mse);

    // The printed table has every row and a sentence under each.
    const text = lines.join("\n");
    for (const r of result.rows) {
      expect(text).toContain(r.name);
      expect(r.explanation.length).toBeGreaterThan(20);
      expect(text).toContain(r.explanation);
    }
    expect(text).toMatch(/20 updates per epoch/);
    expect(text).toMatch(/dense_1 +dense \(relu\) +\(batch, 20\) +420\n[^]*Total params: 481/); // the summary: 20 x 20 + 20
    expect(row("linear").explanation).toMatch(/Model bias/);
  });
});

describe("examples/lecture.ts on both backends", () => {
  it.skipIf(native === undefined)("native and TypeScript training agree on the linear and sigmoid models", () => {
    const js = lectureResults.get("js");
    const nat = lectureResults.get("native");
    expect(js, "the js run above must have completed").toBeDefined();
    expect(nat, "the native run above must have completed").toBeDefined();
    expect(nat!.rows.map((r) => r.key)).toEqual(js!.rows.map((r) => r.key));
    // Same seed, same data, same shuffles, 5,000 float32 updates: with smooth activations the two
    // trajectories stay together. The ReLU rows are left out: at η = 0.03 a rounding difference can
    // switch a unit off on one backend and not the other, and the runs part (both still fit: see above).
    for (const key of ["linear", "sigmoid3", "sigmoid10", "sigmoid100", "sigmoid100sgd"] as const) {
      const a = js!.rows.find((r) => r.key === key)!;
      const b = nat!.rows.find((r) => r.key === key)!;
      expect(Math.abs(a.mse - b.mse), a.name).toBeLessThan(0.1 * Math.max(a.mse, b.mse));
    }
  });
});

const haveFashion = existsSync(join(FASHION_MNIST_DEBIAN_DIR, "train-images-idx3-ubyte.gz"));

describe.each(backends)("examples/fashion-mnist.ts (fast form) on the %s backend", (backend, available) => {
  it.skipIf(!available || (!haveFashion && !process.env["CI"]))("learns: 2,000 images, 1 epoch, test accuracy far above chance", async () => {
    const lines: string[] = [];
    const r = await runFashionMnist({ quick: true, backend, log: (l) => lines.push(l) });
    expect(r.backend).toBe(backend);
    expect(r.trainCount).toBe(2000);
    expect(r.testCount).toBe(2000);
    expect(r.params).toBe(784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10);
    expect(r.epochs).toHaveLength(1);
    expect(r.finalAccuracy).toBeGreaterThan(0.6); // chance is 0.1
    expect(r.passed).toBe(true);
    expect(r.epochs[0]!.testLoss).toBeLessThan(Math.log(10)); // below the loss of a uniform guess
    expect(r.perClassAccuracy).toHaveLength(10);
    const mean = r.perClassAccuracy.reduce((a, b) => a + b, 0) / 10;
    expect(mean).toBeGreaterThan(0.5);
    expect(r.samplesPerSecond).toBeGreaterThan(0);
    expect(lines.join("\n")).toMatch(/epoch {2}1\/1 .* test accuracy \d+\.\d\d%/);
  });
});

describe("examples run directly", () => {
  const tsx = join(root, "node_modules", ".bin", "tsx");

  it("lecture.ts prints its table, and rejects an unknown argument with exit code 1", async () => {
    const script = join(root, "examples", "lecture.ts");
    const ok = await run(tsx, [script, "--quick", "--epochs", "2", "--n", "200"], { cwd: root });
    expect(ok.stdout).toMatch(/ceil\(200 \/ 50\) = 4 updates per epoch, 2 epochs \(8 updates\)/);
    expect(ok.stdout).toMatch(/^100 sigmoids +1 → 100 sigmoid → 1 +301 /m);
    const bad = await run(tsx, [script, "--fast"], { cwd: root }).then(
      () => null,
      (e: { code?: number; stderr?: string }) => e,
    );
    expect(bad?.code).toBe(1);
    expect(bad?.stderr).toMatch(/Unknown argument "--fast"/);
  });

  it("quickstart.ts (the README's ten lines) trains: the loss falls tenfold", async () => {
    const ok = await run(tsx, [join(root, "examples", "quickstart.ts")], { cwd: root });
    expect(ok.stdout).toMatch(/Total params: 4,481/);
    const m = /final loss (\S+) \(first (\S+)\)/.exec(ok.stdout);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeLessThan(Number(m![2]) / 10);
  });

  it.skipIf(!haveFashion && !process.env["CI"])("fashion-mnist.ts exits non-zero when the accuracy bar is not met", async () => {
    const script = join(root, "examples", "fashion-mnist.ts");
    const args = [script, "--quick", "--train-limit", "500", "--test-limit", "500"];
    const ok = await run(tsx, [...args, "--min-accuracy", "0.2"], { cwd: root });
    expect(ok.stdout).toMatch(/passes the 20.0% bar/);
    const fail = await run(tsx, [...args, "--min-accuracy", "0.999"], { cwd: root }).then(
      () => null,
      (e: { code?: number; stdout?: string }) => e,
    );
    expect(fail).not.toBeNull();
    expect(fail!.code).toBe(1);
    expect(fail!.stdout).toMatch(/FAILS the 99.9% bar/);
  });
});
