/**
 * What every layer kind describes about itself, once, in its own file (dense.ts, activation.ts,
 * softmax.ts, dropout.ts, flatten.ts, conv2d.ts, pooling.ts, batch-norm.ts, layer-norm.ts,
 * residual.ts); lib/nn/layers.ts lists the kinds.
 *
 * - its config (what `Sequential.config()` stores) and the validation of its options;
 * - its output shape from its input shape (a sample's shape: [features], [channels, height, width]);
 * - its parameters, by PyTorch name and layout (dense: `weight` (out, in), `bias` (out)), and their
 *   initialization;
 * - its steps in the training plan (`planLayers`), whose math is defined once per plan op: the
 *   TypeScript reference forward and backward in `planOp` below (run by lib/nn/plan-executor.ts
 *   over any backend's kernels) and its native twin in native/steps/<kind>.h;
 * - its ONNX export, and beside it its PyTorch module: a static `torch(config, at)` (the types and
 *   helpers in torch.ts; lib/io/torch-layers.ts finds it through the registry; the activations'
 *   torch spellings come from lib/ops/activations.ts).
 *
 * A layer holds no arrays of its own: the model owns one flat parameter buffer and one flat
 * gradient buffer, and hands each layer views of its parameters (`bind`).
 */
import type { Kernels } from "../../backend/backend.js";
import type { PlanBuffers, PlanLayer } from "../../backend/plan.js";
import { bytesText, countText } from "../../core/format.js";
import { describe } from "../../core/matrix.js";
import type { Rng } from "../../core/rng.js";
import type { OnnxGraph } from "../../ops/graph.js";

/** The shape of one sample (without the batch dimension). */
export type Shape = readonly number[];

/** A parameter a layer declares: its PyTorch name and shape. */
export interface ParamSpec {
  /**
   * PyTorch's name within the layer ("weight", "bias", "running_mean", ...); the saved tensor is `{layer
   * path}.{name}`.
   */
  name: string;
  /**
   * PyTorch's shape and layout: (out, in) for a dense weight, (outChannels, C, kH, kW) for a conv2d
   * weight.
   */
  shape: number[];
  /**
   * False for values the optimizer never changes (batch norm's running_mean and running_var, which
   * only the training forward pass updates; Keras counts them as non-trainable). Default true.
   */
  trainable?: boolean;
}

/** A declared parameter, bound to the model's buffers. */
export interface Param extends ParamSpec {
  /** Offset of its first value in the model's flat parameter (and gradient) buffer. */
  offset: number;
  /** View of the model's parameters. */
  value: Float32Array;
  /** View of the model's gradients. */
  grad: Float32Array;
}

/** A layer's JSON-able description: its registry type and its options. */
export interface LayerConfigBase {
  type: string;
  /** Present (false) only for a frozen layer (see Layer.trainable); absent: trainable. */
  trainable?: boolean;
}

/** The option every factory of a layer with parameters takes: `dense(4, { trainable: false })`. */
export interface TrainableOption {
  /** False freezes the layer's parameters (see Layer.trainable). Default true. */
  trainable?: boolean;
}

/** A `trainable` option or config value, checked: a boolean (absent: true). */
export function checkTrainable(v: unknown, what: string): boolean {
  if (v === undefined) return true;
  if (typeof v !== "boolean") throw new TypeError(`Invalid trainable for ${what}: expected true or false but received ${describe(v)}`);
  return v;
}

/** Values of a sample's shape: the product of its dimensions. */
export function sizeOf(shape: Shape): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The most values one sample may have at any layer's output (one float32 array indexes at most 2^31 - 1). */
export const MAX_SAMPLE_VALUES = 2 ** 31 - 1;

/** Throws a RangeError unless a sample of `shape` (a layer's output) fits in MAX_SAMPLE_VALUES values. */
export function checkSampleSize(shape: Shape): void {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n > MAX_SAMPLE_VALUES) {
    throw new RangeError(
      `its output ${showShape(shape)} would hold ${countText(n)} values per sample (${bytesText(4 * n)} of float32); at most ${MAX_SAMPLE_VALUES.toLocaleString("en-US")} fit: use less padding, a larger stride or fewer channels`,
    );
  }
}

/** "(batch, 32, 28, 28)". */
export function showShape(shape: Shape): string {
  return `(batch, ${shape.join(", ")})`;
}

/**
 * The base of every layer (dense, conv2d, relu, dropout, residual, ...). Layers are made by the factories
 * (dense(64), conv2d(32, 3), relu(), ...) and belong to one model, which builds them for its input shape
 * and binds their parameters to its flat buffers. A layer's `config()` is its JSON form; its plan steps
 * are what training runs.
 */
export abstract class Layer {
  /** Set by the model: "dense_0", "relu_1", ... (kind and position). */
  name = "";
  /** Set by the model: the layer's index in it (or in its residual block's body). */
  index = -1;
  /**
   * Set by the model: the prefix of the layer's parameter names, PyTorch's: `layers.{index}`, or
   * inside a residual block `layers.{i}.body.{j}` (its parameters are `{path}.{name}`).
   */
  path = "";
  /** A sample's shape at the input and output (set by build). */
  inShape: Shape = [];
  /** A sample's shape at the output (set by build), e.g. [32, 26, 26] for (channels, height, width). */
  outShape: Shape = [];
  /** The parameters, bound to the model's buffers (set by bind). */
  params: Param[] = [];
  /** @internal set when a model builds the layer; a layer belongs to at most one model. */
  owned = false;
  private trainableFlag = true;

  /**
   * False freezes the layer (Keras' `trainable`, PyTorch's `requires_grad_(False)`): fit leaves its
   * parameters and their optimizer state as they are while the rest trains. Setting it on a layer
   * with inner layers (a residual block) sets it on all of them; a frozen block freezes its body
   * whatever the body's own flags say. A change takes effect at the next fit. Batch norm's running
   * statistics still follow the training batches (as in PyTorch), only its weight and bias freeze.
   */
  get trainable(): boolean {
    return this.trainableFlag;
  }
  set trainable(v: boolean) {
    this.trainableFlag = checkTrainable(v, this.name || this.kind());
    for (const c of this.children()) c.trainable = v;
  }

  /** `config()` plus `trainable: false` when the layer is frozen (what models save). */
  savedConfig(): LayerConfigBase {
    const c = this.config();
    return this.trainable ? c : { ...c, trainable: false };
  }

  /** The registry type of this layer kind (its config's `type`). */
  abstract readonly type: string;

  /** Fix the input shape; returns the output shape (the same, unless the kind overrides this). */
  build(inShape: Shape): Shape {
    this.inShape = inShape;
    this.outShape = this.outputShape(inShape);
    return this.outShape;
  }

  /** The output shape for an input shape; throws a RangeError naming both when the input does not fit. */
  protected outputShape(inShape: Shape): Shape {
    return inShape;
  }

  /** Features per sample in and out (the flat sizes of the shapes). */
  get inFeatures(): number {
    return sizeOf(this.inShape);
  }
  /** Values per sample at the output (the product of outShape). */
  get outFeatures(): number {
    return sizeOf(this.outShape);
  }

  /** The parameters this layer needs for its input shape (after build), in storage order. */
  paramSpecs(): ParamSpec[] {
    return [];
  }

  /**
   * The largest array a training plan makes for this layer, in values per sample (it holds batch
   * times as many): its output; a kind with a larger workspace says so (conv2d's unrolled input).
   */
  sampleArray(): { values: number; what: string } {
    return { values: sizeOf(this.outShape), what: "output" };
  }

  /** Parameters this layer owns. */
  paramCount(): number {
    return this.paramSpecs().reduce((n, p) => n + sizeOf(p.shape), 0);
  }

  /** Of those, the ones the optimizer leaves alone (a frozen layer's, and parameters declared `trainable: false`). */
  nonTrainableCount(): number {
    if (!this.trainable) return this.paramCount();
    if (this.children().length > 0) return this.children().reduce((n, c) => n + c.nonTrainableCount(), 0);
    return this.paramSpecs().reduce((n, p) => n + (p.trainable === false ? sizeOf(p.shape) : 0), 0);
  }

  /** Take views of the model's buffers from `offset`; returns the offset after this layer's parameters. */
  bind(params: Float32Array, grads: Float32Array, offset: number): number {
    this.params = this.paramSpecs().map((p) => {
      const n = sizeOf(p.shape);
      const bound = { ...p, offset, value: params.subarray(offset, offset + n), grad: grads.subarray(offset, offset + n) };
      offset += n;
      return bound;
    });
    return offset;
  }

  /** Initialize the bound parameters. `next` is the layer after this one (its activation may pick the initializer). */
  initialize(_rng: Rng, _next: Layer | undefined): void {}

  /** The element-wise function this layer applies, if it is one ("relu", "softmax", ...); null otherwise. */
  get activationKind(): string | null {
    return null;
  }

  /** The layer's steps in a training plan (after build and bind). */
  abstract planLayers(): PlanLayer[];
  /**
   * The layer's JSON-able description: its registry `type` and options, with defaults filled in. The layer
   * factories' `fromConfig` and model files rebuild the layer from it.
   */
  abstract config(): LayerConfigBase;
  /** The type shown by `summary()`, e.g. "dense (relu)". */
  abstract label(): string;
  /** The base of the layer's name ("dense", "relu", "dropout", ...). */
  abstract kind(): string;
  /** Append the layer's inference computation to an ONNX graph; returns the output's name. */
  abstract onnx(g: OnnxGraph, x: string): string;

  /** The layers inside this one (a residual block's body), else none. */
  children(): readonly Layer[] {
    return [];
  }
}

/**
 * What a step's `prepare` may see of the whole plan: its position, every step, and the buffers of
 * the others (outputs[l] and deltas[l]: step l's output and dL/d(output), (batch, width of l);
 * work[l]: what step l prepared, for l < index). Residual steps use it to find their partner.
 */
export interface PlanContext {
  /** This step's position in the plan (0-based). */
  index: number;
  /** Every step of the plan, in order. */
  layers: readonly PlanLayer[];
  /** outputs[l]: step l's output, (batch, width of l). */
  outputs: readonly Float32Array[];
  /** deltas[l]: dL/d(output of step l), (batch, width of l). Empty until the first backward pass: read it then, not in prepare. */
  deltas: readonly Float32Array[];
  /** work[l]: what step l prepared, for l < index. */
  work: readonly unknown[];
}

/**
 * A plan step's math, over any backend's kernels: the TypeScript reference of the training plan
 * (its native twin is its step file, native/steps/<kind>.h). `W` is what the step prepares once per plan (views into
 * the model's buffers, masks); a step allocates nothing.
 */
export interface PlanOp<L extends PlanLayer = PlanLayer, W = unknown> {
  /**
   * The step kind's integer code: the native addon's for the same kind (BN_LAYERS in
   * native/steps/steps.h); the loader refuses an addon whose codes differ.
   */
  code: number;
  /** Output features per sample; throws a RangeError naming `at` when the layer does not fit the plan. */
  outFeatures(layer: L, inFeatures: number, paramCount: number, at: string): number;
  /** The step's views and workspaces, for batches of up to `batchSize` rows. */
  prepare(layer: L, buffers: PlanBuffers, batchSize: number, inFeatures: number, outFeatures: number, ctx: PlanContext): W;
  /** y (rows, outF) from x (rows, inF). */
  forward(k: Kernels, layer: L, w: W, x: Float32Array, y: Float32Array, rows: number, inF: number, outF: number, training: boolean, rng: Rng): void;
  /**
   * From dL/dy (rows, outF): dL/dx into dx (null for the first layer, whose input is the data) and
   * the gradients of the step's parameters into the model's gradient buffer.
   */
  backward(k: Kernels, layer: L, w: W, x: Float32Array, y: Float32Array, dy: Float32Array, dx: Float32Array | null, rows: number, inF: number, outF: number): void;
}
