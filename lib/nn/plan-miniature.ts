/**
 * A miniature of a training plan: the same steps (the same layer kinds, activations, windows'
 * kernels, strides, padding and dilation, loss, optimizer, clipping and frozen ranges) on narrow
 * layers, small images and a few rows, with its own buffers and data. The PlanExecutor warms V8
 * up on it (see PlanExecutor.warmUpSync): V8 compiles functions, not shapes, so after many cheap
 * miniature calls the first real-sized kernel call already runs optimized code, whatever the
 * model's size; cold, that first call ran interpreted, up to ~10x as long as a warm one.
 *
 * Sizes: features and channels above MINI_FEATURES / MINI_CHANNELS are cut to them (the same real
 * size always to the same miniature size, so a residual body still keeps its width); images are cut
 * to the smallest side >= MINI_SIDE for which every window still fits; MINI_ROWS rows per step.
 * They are chosen so that the miniature takes the kernels' branches a real step takes: MINI_ROWS = 5
 * is a block of 4 GEMM rows and a leftover row; a 36-wide dense layer makes GEMMs above the TypeScript
 * GEMM's small-product cutoff (m·n·k > 4096, lib/backend/ts/gemm.ts) with a leftover of k mod 8.
 */
import type { Kernels } from "../backend/backend.js";
import type { PlanBuffers, PlanLayer, PlanSpec, StepRun } from "../backend/plan.js";
import type { Window2d } from "../ops/window.js";
import { outSize } from "../ops/window.js";
import { optimizerDef } from "../optim/index.js";
import { Rng } from "../core/rng.js";
import { opOf } from "./plan-checks.js";

/** Rows of a miniature step. */
export const MINI_ROWS = 5;
/** Widest miniature dense layer (and flat sample). */
const MINI_FEATURES = 36;
/** Most channels of a miniature image. */
const MINI_CHANNELS = 8;
/** Smallest side of a miniature image (when the real one is larger). */
const MINI_SIDE = 8;

/**
 * Warm-ups that ran to their end in this process, per kernels (known by their gemm function: the
 * TypeScript backend objects of all models share the same kernel functions): "steps|training|weights|spec"
 * or "forward|spec" of the miniature they ran. V8 compiles functions, not plans, so a later plan
 * with the same miniature (the same step kinds, activations, windows, loss, optimizer, clipping and
 * frozen ranges, over the same kernels) would only repeat them: its warm-up skips the miniature and
 * keeps the small real-shaped step (PlanExecutor.warmUpSync). Short fits of fresh models (a
 * benchmark's, a hyperparameter search's) pay the miniature once, not at every fit.
 */
let warmed = new WeakMap<object, Set<string>>();

/** Whether this warm-up (see `warmed`) already ran to its end over `kernels`. */
export function isWarmed(kernels: Kernels, key: string): boolean {
  return warmed.get(kernels.gemm)?.has(key) ?? false;
}

/** Record a warm-up that ran to its end over `kernels`. */
export function markWarmed(kernels: Kernels, key: string): void {
  let keys = warmed.get(kernels.gemm);
  if (!keys) warmed.set(kernels.gemm, (keys = new Set()));
  keys.add(key);
}

/** Forget every warm-up run so far: the next plans warm up on their miniature again (for tests). */
export function resetWarmUps(): void {
  warmed = new WeakMap();
}

/** A sample's shape as the plan steps see it: [features] or [channels, height, width]. */
type Shape = number[];

/** What a miniature is made of: its spec, buffers and a run of one step over its own data. */
export interface Miniature {
  spec: PlanSpec;
  buffers: PlanBuffers;
  run: StepRun;
}

const prod = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/**
 * The real input's shape: the first window's (C, H, W) when a window step comes before any dense
 * step (an image model), else [inFeatures].
 */
function inputShape(spec: PlanSpec): Shape {
  for (const l of spec.layers) {
    if (l.kind === "dense") break;
    if (l.kind === "conv2d" || l.kind === "maxPool2d" || l.kind === "avgPool2d") {
      const w = l.window;
      if (w.channels * w.height * w.width === spec.inFeatures) return [w.channels, w.height, w.width];
      break;
    }
  }
  return [spec.inFeatures];
}

/** The end padding that gives the real window its output size (the smallest that does). */
function endPad(size: number, kernel: number, stride: number, pad: number, dilation: number, out: number): number {
  for (let e = 0; e <= Math.max(pad, dilation * (kernel - 1)); e++) if (outSize(size, kernel, stride, pad, e, dilation) === out) return e;
  return 0;
}

/**
 * The real window `g` on a miniature input of shape (C, H, W); a window covering the whole plane
 * (global pooling) covers the miniature plane. Null when the window does not fit.
 */
function miniWindow(g: Window2d, [C, H, W]: Shape): Window2d | null {
  const whole = g.kernelH === g.height && g.kernelW === g.width && g.padTop === 0 && g.padLeft === 0;
  const kernelH = whole ? H! : g.kernelH;
  const kernelW = whole ? W! : g.kernelW;
  const outH = outSize(H!, kernelH, g.strideH, g.padTop, whole ? 0 : endPad(g.height, g.kernelH, g.strideH, g.padTop, g.dilationH, g.outH), g.dilationH);
  const outW = outSize(W!, kernelW, g.strideW, g.padLeft, whole ? 0 : endPad(g.width, g.kernelW, g.strideW, g.padLeft, g.dilationW, g.outW), g.dilationW);
  if (outH < 1 || outW < 1) return null;
  return { ...g, channels: C!, height: H!, width: W!, kernelH, kernelW, outH, outW };
}

/** Allocates parameter ranges in order and maps the real frozen ranges onto them. */
class ParamLayout {
  count = 0;
  readonly frozen: Array<[number, number]> = [];
  /** [begin, end) of each batch norm's running statistics, and of the gammas (set to 1). */
  readonly ones: Array<[number, number]> = [];

  constructor(private readonly realFrozen: ReadonlyArray<readonly [number, number]>) {}

  /** A range of n values for the real range [realOffset, realOffset + realLength); -1 stays -1 (absent). */
  take(realOffset: number, realLength: number, n: number): number {
    if (realOffset < 0) return -1;
    const at = this.count;
    this.count += n;
    if (this.realFrozen.some(([b, e]) => realOffset >= b && realOffset + realLength <= e)) {
      const last = this.frozen.at(-1);
      if (last && last[1] === at) last[1] = at + n;
      else this.frozen.push([at, at + n]);
    }
    return at;
  }
}

/** A miniature step, its output shape and the real step's output shape; null when it does not shrink cleanly. */
type MiniStep = { layer: PlanLayer; out: Shape; realOut: Shape } | null;
type Shrink<K extends PlanLayer["kind"]> = (l: Extract<PlanLayer, { kind: K }>, s: Shape, real: Shape, p: ParamLayout) => MiniStep;

function shrinkPool(l: Extract<PlanLayer, { kind: "maxPool2d" | "avgPool2d" }>, s: Shape, real: Shape): MiniStep {
  if (s.length !== 3) return null;
  const window = miniWindow(l.window, s);
  if (!window) return null;
  return { layer: { ...l, window }, out: [s[0]!, window.outH, window.outW], realOut: [real[0]!, l.window.outH, l.window.outW] };
}

/**
 * How the kinds with parameters or a shape of their own narrow to the miniature input shape `s`
 * (real shape `real`). Every other kind must keep its input's shape and have no parameters: its
 * miniature step is a copy of the real one (keepShape checks that, so a new kind of that sort needs
 * no entry here, and one that does need an entry fails loudly instead of warming up at full size).
 */
const SHRINK: { [K in PlanLayer["kind"]]?: Shrink<K> } = {
  dense(l, s, _real, p) {
    const inF = prod(s);
    const outF = Math.min(l.outFeatures, MINI_FEATURES);
    const weightOffset = p.take(l.weightOffset, l.inFeatures * l.outFeatures, inF * outF);
    const biasOffset = p.take(l.biasOffset, l.outFeatures, outF);
    return { layer: { ...l, inFeatures: inF, outFeatures: outF, weightOffset, biasOffset }, out: [outF], realOut: [l.outFeatures] };
  },
  conv2d(l, s, _real, p) {
    if (s.length !== 3) return null;
    const window = miniWindow(l.window, s);
    if (!window) return null;
    const outC = Math.min(l.outChannels, MINI_CHANNELS);
    const g = l.window;
    const weightOffset = p.take(l.weightOffset, l.outChannels * g.channels * g.kernelH * g.kernelW, outC * window.channels * window.kernelH * window.kernelW);
    const biasOffset = p.take(l.biasOffset, l.outChannels, outC);
    return { layer: { ...l, window, outChannels: outC, weightOffset, biasOffset }, out: [outC, window.outH, window.outW], realOut: [l.outChannels, g.outH, g.outW] };
  },
  maxPool2d: shrinkPool,
  avgPool2d: shrinkPool,
  batchNorm(l, s, real, p) {
    // channels: the sample's first dimension; spatial: the product of the rest.
    if (real[0] !== l.channels || prod(real.slice(1)) !== l.spatial) return null;
    const C = s[0]!;
    const at = (o: number): number => p.take(o, l.channels, C);
    const [weightOffset, biasOffset, runningMeanOffset, runningVarOffset] = [at(l.weightOffset), at(l.biasOffset), at(l.runningMeanOffset), at(l.runningVarOffset)];
    p.ones.push([weightOffset, weightOffset + C], [runningVarOffset, runningVarOffset + C]);
    return { layer: { ...l, channels: C, spatial: prod(s.slice(1)), weightOffset, biasOffset, runningMeanOffset, runningVarOffset }, out: s, realOut: real };
  },
  layerNorm(l, s, real, p) {
    // Groups of the sample's last k dimensions.
    let k = 1;
    while (k <= real.length && prod(real.slice(real.length - k)) !== l.size) k++;
    if (k > real.length) return null;
    const size = prod(s.slice(s.length - k));
    const weightOffset = p.take(l.weightOffset, l.size, size);
    const biasOffset = p.take(l.biasOffset, l.size, size);
    if (weightOffset >= 0) p.ones.push([weightOffset, weightOffset + size]);
    return { layer: { ...l, size, weightOffset, biasOffset }, out: s, realOut: real };
  },
};

/**
 * The miniature of step `i`, a kind without a SHRINK entry: a copy of the real step, which must keep
 * its input's width on both the real and the miniature input, with no parameters (its own check of
 * the plan, run with a plan of 0 parameters, refuses any parameter range). Otherwise an Error: the
 * kind needs its own entry in SHRINK.
 */
function keepShape(l: PlanLayer, i: number, s: Shape, real: Shape): MiniStep {
  const op = opOf(l, i);
  const keeps = (inF: number): boolean => {
    try {
      return op.outFeatures(l, inF, 0, `Plan layer ${i}`) === inF;
    } catch {
      return false;
    }
  };
  if (!keeps(prod(real)) || !keeps(prod(s))) {
    throw new Error(
      `The warm-up's miniature (lib/nn/plan-miniature.ts) cannot copy plan step ${i} of kind ${JSON.stringify(l.kind)}: a copy must keep its input's shape ` +
        `(${prod(real)} values per sample in the real plan, ${prod(s)} in the miniature) and have no parameters. Add a SHRINK entry for ${JSON.stringify(l.kind)} that narrows it.`,
    );
  }
  return { layer: { ...l }, out: s, realOut: real };
}

/** The miniature of step `i` (`l`) on input shape `s` (real shape `real`). */
function miniLayer(l: PlanLayer, i: number, s: Shape, real: Shape, p: ParamLayout): MiniStep {
  const shrink = SHRINK[l.kind] as Shrink<PlanLayer["kind"]> | undefined;
  return shrink ? shrink(l, s, real, p) : keepShape(l, i, s, real);
}

/** The miniature's steps for an input side cut to `side`, or null when a window does not fit or a residual body changes the width. */
function miniLayers(spec: PlanSpec, side: number): { layers: PlanLayer[]; inFeatures: number; outFeatures: number; layout: ParamLayout } | null {
  let real = inputShape(spec);
  let s: Shape = real.length === 3 ? [Math.min(real[0]!, MINI_CHANNELS), Math.min(real[1]!, side), Math.min(real[2]!, side)] : [Math.min(real[0]!, MINI_FEATURES)];
  const inFeatures = prod(s);
  const layout = new ParamLayout(spec.frozen ?? []);
  const layers: PlanLayer[] = [];
  const open: number[] = [];
  for (const [i, l] of spec.layers.entries()) {
    if (l.kind === "residualStart") open.push(prod(s));
    if (l.kind === "residualEnd" && open.pop() !== prod(s)) return null;
    const m = miniLayer(l, i, s, real, layout);
    if (!m) return null;
    layers.push(m.layer);
    s = m.out;
    real = m.realOut;
  }
  return { layers, inFeatures, outFeatures: prod(s), layout };
}

/**
 * The miniature of `spec`, with buffers (small random weights, norms' gammas and batch norms'
 * running variances 1) and one step's run over its own data, of the kinds the real run has (class
 * indices or float targets; row weights, for the caller to drop when the real run has none). Null when the spec does not shrink (a layer it does
 * not know how to narrow): the caller then has no miniature to warm up on.
 */
export function miniature(spec: PlanSpec): Miniature | null {
  const real = inputShape(spec);
  const largest = real.length === 3 ? Math.max(real[1]!, real[2]!) : 0;
  let made = miniLayers(spec, MINI_SIDE);
  for (let side = MINI_SIDE + 1; !made && side <= largest; side++) made = miniLayers(spec, side);
  if (!made) return null;
  const { layers, inFeatures, outFeatures, layout } = made;
  const P = layout.count;
  const rng = new Rng(0x5eed);
  const params = new Float32Array(P);
  for (let i = 0; i < P; i++) params[i] = rng.uniformRange(-0.1, 0.1);
  for (const [b, e] of layout.ones) params.fill(1, b, e);
  const slots = optimizerDef(spec.optimizer.kind).slots(spec.optimizer.hyper).length;
  const miniSpec: PlanSpec = { ...spec, inFeatures, outFeatures, batchSize: MINI_ROWS, layers, paramCount: P, frozen: layout.frozen };
  const buffers: PlanBuffers = { params, grads: new Float32Array(P), state: new Float32Array(slots * P), rngState: Uint32Array.of(1, 2, 3, 4) };

  const N = MINI_ROWS;
  const x = new Float32Array(N * inFeatures);
  for (let i = 0; i < x.length; i++) x[i] = rng.uniformRange(-1, 1);
  let y: Float32Array | Int32Array;
  if (spec.loss.kind === "crossEntropy") y = Int32Array.from({ length: N }, (_, i) => i % outFeatures);
  else {
    // One-hot rows: valid targets for every float loss (regression, bce, dense cross-entropy).
    y = new Float32Array(N * outFeatures);
    for (let i = 0; i < N; i++) y[i * outFeatures + (i % outFeatures)] = 1;
  }
  // The keys in the order fit makes its run in (lib/train/fit.ts): one hidden class for both, so
  // code V8 optimized on the miniature's run is not thrown away at the first real step.
  const run: StepRun = {
    x,
    y,
    rows: N,
    order: Int32Array.from({ length: N }, (_, i) => i),
    start: 0,
    steps: 1,
    batchSize: MINI_ROWS,
    lr: Float32Array.of(1e-3),
    firstStep: 1,
    training: true,
    losses: new Float32Array(1),
    weights: Float32Array.from({ length: N }, (_, i) => 0.5 + (i % 3) / 2),
  };
  return { spec: miniSpec, buffers, run };
}
