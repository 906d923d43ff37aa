/**
 * A residual block: y = x + f(x), f being the block's own layers (its body), which must keep the
 * sample's shape. ResNet-style blocks in a Sequential: residual([conv2d(16, 3, { padding: "same" }),
 * batchNorm(), relu(), conv2d(16, 3, { padding: "same" }), batchNorm()]), then relu().
 *
 * Its parameters are the body's, named as PyTorch names a submodule's: `body.{j}.weight` (so in a
 * model `layers.{i}.body.{j}.weight`). In the training plan the body's steps sit between a
 * residualStart step (the identity, its input kept) and a residualEnd step (adds it back); in the
 * backward pass the gradient reaching the end flows into the body and, around it, straight to the
 * start, which adds the two:
 *
 *   forward   s = x;  b = f(s);  y = b + s
 *   backward  dL/db = dy;  dL/dx = f'ᵀ(dy) + dy
 */
import type { PlanLayer } from "../../backend/plan.js";
import { describe } from "../../core/matrix.js";
import type { Rng } from "../../core/rng.js";
import type { OnnxGraph } from "../../ops/graph.js";
import { checkSampleSize, Layer, showShape, type LayerConfigBase, type Param, type PlanOp, type Shape } from "./layer.js";
import type { TorchLayer, TorchLayerContext, TorchWriter } from "./torch.js";

/**
 * How deeply residual blocks may nest (in a model and in a config). Building, saving and reading
 * recurse once per level, so without a limit a deep enough nest overflows the stack; real networks
 * nest a few levels at most.
 */
export const MAX_RESIDUAL_DEPTH = 64;

/** A residual block as JSON (config(), model.json): its body's configs, nested at most 64 deep. */
export interface ResidualConfig {
  /** The registry type: always "residual". */
  type: "residual";
  /** The body's layers' configs, in order. */
  layers: LayerConfigBase[];
}

/** A residual block y = x + f(x) (see this file's header). Made by residual(layers). */
export class Residual extends Layer {
  readonly type = "residual";
  /** The block's own layers f, in order; together they keep the sample's shape. */
  readonly body: readonly Layer[];
  /** Residual blocks nested here, this one included (1 for a body without residual blocks). */
  readonly depth: number;

  constructor(layers: Layer[]) {
    super();
    if (!Array.isArray(layers) || layers.length === 0) {
      throw new TypeError(`residual needs a non-empty array of layers (its body f in y = x + f(x)), e.g. residual([dense(16), relu(), dense(16)]), but received ${describe(layers)}`);
    }
    layers.forEach((l, j) => {
      if (!(l instanceof Layer)) throw new TypeError(`residual layer ${j} is ${describe(l)}; expected a layer such as dense(4) or relu()`);
      if (l.owned) throw new Error(`residual layer ${j} (${l.name || l.kind()}) already belongs to a model or block: create a new layer for each`);
      const first = layers.indexOf(l);
      if (first < j) throw new Error(`residual layer ${j} (${l.kind()}) is the same layer object as residual layer ${first}: a layer has one place in a model; create a new layer for each place`);
    });
    this.depth = 1 + Math.max(0, ...layers.map((l) => (l instanceof Residual ? l.depth : 0)));
    if (this.depth > MAX_RESIDUAL_DEPTH) {
      throw new RangeError(`residual blocks nest ${this.depth} deep here; blasnet builds, saves and reads at most ${MAX_RESIDUAL_DEPTH} levels of nesting: flatten the model's residual blocks`);
    }
    for (const l of layers) l.owned = true;
    this.body = [...layers];
  }

  override children(): readonly Layer[] {
    return this.body;
  }

  override build(inShape: Shape): Shape {
    this.inShape = inShape;
    let shape = inShape;
    this.body.forEach((l, j) => {
      l.name = `${this.name}.${l.kind()}_${j}`;
      l.index = j;
      l.path = `${this.path}.body.${j}`;
      try {
        shape = l.build(shape);
        checkSampleSize(shape);
      } catch (e) {
        if (e instanceof RangeError) throw new RangeError(`residual layer ${j} (${l.kind()}): ${e.message}`);
        throw e;
      }
    });
    if (shape.length !== inShape.length || shape.some((d, k) => d !== inShape[k])) {
      throw new RangeError(
        `residual: its layers map ${showShape(inShape)} to ${showShape(shape)}, but y = x + f(x) needs f to keep the shape: make the body's last layer produce ${showShape(inShape)}`,
      );
    }
    this.outShape = inShape;
    return inShape;
  }

  override paramSpecs() {
    return this.body.flatMap((l, j) => l.paramSpecs().map((p) => ({ ...p, name: `body.${j}.${p.name}` })));
  }

  override bind(params: Float32Array, grads: Float32Array, offset: number): number {
    const bound: Param[] = [];
    this.body.forEach((l, j) => {
      offset = l.bind(params, grads, offset);
      for (const p of l.params) bound.push({ ...p, name: `body.${j}.${p.name}` });
    });
    this.params = bound;
    return offset;
  }

  override initialize(rng: Rng, next: Layer | undefined): void {
    this.body.forEach((l, j) => l.initialize(rng, this.body[j + 1] ?? next));
  }

  planLayers(): PlanLayer[] {
    return [{ kind: "residualStart" }, ...this.body.flatMap((l) => l.planLayers()), { kind: "residualEnd" }];
  }

  config(): ResidualConfig {
    return { type: "residual", layers: this.body.map((l) => l.savedConfig()) };
  }

  /** Rebuild from a config; `layerFromConfig` rebuilds the body's layers (lib/nn/layers.ts). */
  static fromConfig(c: ResidualConfig, layerFromConfig: (c: never, index: number) => Layer): Residual {
    if (c === null || typeof c !== "object" || !Array.isArray(c.layers)) {
      throw new TypeError(`Invalid residual config: expected { type: "residual", layers: [...] } but received ${describe(c)}`);
    }
    return new Residual(c.layers.map((l, j) => layerFromConfig(l as never, j)));
  }

  label(): string {
    return `residual (${this.body.length} layer${this.body.length === 1 ? "" : "s"})`;
  }

  kind(): string {
    return "residual";
  }

  onnx(g: OnnxGraph, x: string): string {
    let y = x;
    for (const l of this.body) y = l.onnx(g, y);
    return g.node("Add", [x, y], [], this.name);
  }

  /** Its PyTorch module: the export's Residual around an nn.Sequential of its body, each written by `write`. */
  static torch(c: ResidualConfig, at: TorchLayerContext, write: TorchWriter): TorchLayer {
    const body = at.layer.children();
    const rows = c.layers.map((sub, j) =>
      write(sub, { index: j, inFeatures: body[j]!.inFeatures, outFeatures: body[j]!.outFeatures, fusedOutput: false, next: c.layers[j + 1], layer: body[j]! }),
    );
    // The body's initializers, each with `layer` bound to its module (a name per block, for nesting).
    const block = `block_${at.layer.path.replace(/\D+/g, "_").replace(/^_|_$/g, "")}`;
    const init = rows.some((r) => r.init.length) ? [`${block} = layer`, ...rows.flatMap((r, j) => (r.init.length ? [`layer = ${block}.body[${j}]`, ...r.init] : []))] : [];
    return {
      module: `Residual(nn.Sequential(${rows.map((r) => r.module).join(", ")}))`,
      comment: `residual block x + f(x), f: ${rows.map((r) => r.comment).join("; ")}`,
      init,
    };
  }
}

/** The index of the residualEnd that closes the residualStart at `start` (nesting counted), or -1. */
function matchingEnd(layers: readonly PlanLayer[], start: number): number {
  let depth = 0;
  for (let i = start; i < layers.length; i++) {
    if (layers[i]!.kind === "residualStart") depth++;
    else if (layers[i]!.kind === "residualEnd" && --depth === 0) return i;
  }
  return -1;
}

/** The index of the residualStart that the residualEnd at `end` closes, or -1. */
function matchingStart(layers: readonly PlanLayer[], end: number): number {
  let depth = 0;
  for (let i = end; i >= 0; i--) {
    if (layers[i]!.kind === "residualEnd") depth++;
    else if (layers[i]!.kind === "residualStart" && --depth === 0) return i;
  }
  return -1;
}

/** residualStart: the identity; in backward it adds the gradient that skipped the body (the end's dy). */
// The end's delta is read from ctx.deltas at backward time: the executor makes the deltas only
// when a backward pass first runs (an inference plan never does).
declare module "../../backend/plan.js" {
  interface PlanSteps {
    /** The start of a residual block (the identity); residualStart and residualEnd pair like parentheses. */
    residualStart: {};
    /** The end of a residual block: adds the matching residualStart's input to its own input (the same width). */
    residualEnd: {};
  }
}

export const residualStartOp: PlanOp<Extract<PlanLayer, { kind: "residualStart" }>, { deltas: readonly Float32Array[]; end: number }> = {
  code: 9,
  outFeatures: (_l, inF) => inF,
  prepare(_l, _buffers, _batchSize, _inF, _outF, ctx) {
    const end = matchingEnd(ctx.layers, ctx.index);
    if (end < 0) throw new RangeError(`Plan layer ${ctx.index} (residualStart) has no matching residualEnd`);
    return { deltas: ctx.deltas, end };
  },
  forward(_k, _l, _w, x, y, rows, _inF, outF) {
    for (let i = 0, n = rows * outF; i < n; i++) y[i] = x[i]!;
  },
  // dx = dy (through the body) + dy of the residualEnd (around it)
  backward(k, _l, w, _x, _y, dy, dx, rows, _inF, outF) {
    if (dx) k.add(dx, dy, w.deltas[w.end]!, rows * outF);
  },
};

/** residualEnd: y = x + the input of the matching residualStart (kept as that step's output). */
export const residualEndOp: PlanOp<Extract<PlanLayer, { kind: "residualEnd" }>, { skip: Float32Array }> = {
  code: 10,
  outFeatures: (_l, inF) => inF,
  prepare(_l, _buffers, batchSize, inF, _outF, ctx) {
    const start = matchingStart(ctx.layers, ctx.index);
    if (start < 0) throw new RangeError(`Plan layer ${ctx.index} (residualEnd) has no matching residualStart`);
    const skip = ctx.outputs[start]!;
    if (skip.length !== batchSize * inF) {
      throw new RangeError(`Plan layer ${ctx.index} (residualEnd) receives ${inF} values per sample but its residualStart (layer ${start}) passed on ${skip.length / batchSize}: a residual body must keep the width`);
    }
    return { skip };
  },
  forward(k, _l, w, x, y, rows, _inF, outF) {
    k.add(y, x, w.skip, rows * outF);
  },
  // The body's output gets dy as is; the residualStart adds the same dy (this step's delta) for the skip.
  backward(_k, _l, _w, _x, _y, dy, dx, rows, _inF, outF) {
    if (!dx) return;
    for (let i = 0, n = rows * outF; i < n; i++) dx[i] = dy[i]!;
  },
};
