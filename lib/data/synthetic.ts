/**
 * The lecture's data, generated and seeded: a 1-D target that no straight line can follow.
 *
 * The lecture predicts a channel's daily views from earlier days; a linear model y = b + w x cannot
 * bend (model bias). Its answer: a piecewise-linear curve is a constant plus a sum of "hard sigmoid"
 * steps, each step is close to c σ(b + w x), and any continuous curve is close to a piecewise-linear
 * one with enough pieces. The curve here is built to show exactly that: a piecewise-linear skeleton
 * (a few sigmoids get its kinks roughly right) plus a smooth ripple (only many sigmoids follow it).
 */
import { Matrix } from "../core/matrix.js";
import { checkOptions } from "../core/options.js";
import { Rng } from "../core/rng.js";

/** A 1-D regression data set: `x` and `y` are `(n, 1)`; `target` is the noise-free curve. */
export interface CurveData {
  /** Inputs (n, 1), uniform in the domain. */
  x: Matrix;
  /** Noisy targets (n, 1). */
  y: Matrix;
  /** The noise-free curve, to plot beside a model's predictions. */
  target: (x: number) => number;
  /** The standard deviation of the Gaussian noise added to `target(x)`. */
  noise: number;
}

/** Options of lectureCurve and sampleCurve. */
export interface CurveOptions {
  /** Number of samples (default 1,000). */
  n?: number;
  /** Seed for the x positions and the noise (default 0). */
  seed?: number;
  /** Standard deviation of the Gaussian noise added to y (default 0.05). */
  noise?: number;
  /** The x interval [lo, hi] to sample uniformly (default [-1, 1]). */
  domain?: readonly [number, number];
  /** Sort the samples by x (handy for plotting; default false). */
  sorted?: boolean;
}

/**
 * A piecewise-linear function through `knots` ([x, y] pairs, x strictly increasing), held constant
 * beyond the first and last knot: the lecture's "red curve".
 */
export function piecewiseLinear(knots: readonly (readonly [number, number])[]): (x: number) => number {
  if (knots.length < 2) throw new RangeError(`Expected at least 2 knots but received ${knots.length}`);
  for (let i = 0; i < knots.length; i++) {
    const [kx, ky] = knots[i]!;
    if (!Number.isFinite(kx) || !Number.isFinite(ky)) throw new RangeError(`Knot ${i} is not finite: [${kx}, ${ky}]`);
    if (i > 0 && !(kx > knots[i - 1]![0])) {
      throw new RangeError(`Knot x values must increase strictly, but knot ${i} has x = ${kx} after ${knots[i - 1]![0]}`);
    }
  }
  const xs = knots.map((k) => k[0]);
  const ys = knots.map((k) => k[1]);
  const last = knots.length - 1;
  return (x: number): number => {
    if (x <= xs[0]!) return ys[0]!;
    if (x >= xs[last]!) return ys[last]!;
    let i = 1;
    while (x > xs[i]!) i++;
    const t = (x - xs[i - 1]!) / (xs[i]! - xs[i - 1]!);
    return ys[i - 1]! + t * (ys[i]! - ys[i - 1]!);
  };
}

/** Sample `target` at n uniform x positions in `domain`, adding Gaussian noise (seeded). */
export function sampleCurve(target: (x: number) => number, options: CurveOptions = {}): CurveData {
  checkOptions(options, ["n", "seed", "noise", "domain", "sorted"], "sampleCurve");
  const n = options.n ?? 1000;
  const noise = options.noise ?? 0.05;
  const [lo, hi] = options.domain ?? [-1, 1];
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`Invalid n: ${n}; expected a positive integer`);
  if (!Number.isFinite(noise) || noise < 0) throw new RangeError(`Invalid noise: ${noise}; expected a finite number >= 0`);
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || !(hi > lo)) {
    throw new RangeError(`Invalid domain: [${lo}, ${hi}]; expected finite lo < hi`);
  }
  const rng = new Rng(options.seed ?? 0);
  const xs = new Float32Array(n);
  for (let i = 0; i < n; i++) xs[i] = rng.uniformRange(lo, hi);
  if (options.sorted) xs.sort();
  const ys = new Float32Array(n);
  for (let i = 0; i < n; i++) ys[i] = target(xs[i]!) + (noise > 0 ? noise * rng.normal() : 0);
  return { x: new Matrix(xs, n, 1), y: new Matrix(ys, n, 1), target, noise };
}

/** The skeleton of the lecture curve: seven linear pieces over [-3, 3]. */
export const LECTURE_KNOTS: readonly (readonly [number, number])[] = [
  [-3.0, 0.2],
  [-2.1, 0.9],
  [-1.2, 0.5],
  [-0.3, 1.3],
  [0.6, 0.8],
  [1.5, 1.0],
  [2.25, 0.1],
  [3.0, 0.5],
];

/** The x interval the lecture data is drawn from. */
export const LECTURE_DOMAIN: readonly [number, number] = [-3, 3];

/**
 * The lecture's target over [-3, 3]: the piecewise-linear skeleton plus one gentle wave of
 * amplitude 0.1 (so that it is curved, not only piecewise linear).
 */
export function lectureTarget(): (x: number) => number {
  const skeleton = piecewiseLinear(LECTURE_KNOTS);
  return (x: number): number => skeleton(x) + 0.1 * Math.sin((2 * Math.PI * x) / 3);
}

/**
 * The lecture's data: `n` noisy samples (default 1,000, noise 0.05) of `lectureTarget()` at uniform
 * x in [-3, 3]. A straight line cannot follow it, 3 sigmoids follow its outline, many follow it all.
 *
 * The inputs are deliberately left at this scale (not squeezed into [-1, 1]): with the usual
 * initializers a sigmoid unit's weight starts near 1, so its step is about as wide as the curve's
 * pieces and training only has to move the steps, not also sharpen them.
 */
export function lectureCurve(options: Omit<CurveOptions, "domain"> = {}): CurveData {
  // No domain: the lecture's data is always drawn from LECTURE_DOMAIN (use sampleCurve for another).
  checkOptions(options, ["n", "seed", "noise", "sorted"], "lectureCurve");
  return sampleCurve(lectureTarget(), { ...options, domain: LECTURE_DOMAIN });
}
