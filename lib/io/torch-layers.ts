/**
 * How each kind of blasnet layer is written as PyTorch: one table keyed by the layer config's
 * `type`. Everything the PyTorch export knows about a layer kind is its row here (the module
 * expression, its comment, the initializer of its weights), so a row can move into that layer's own
 * description later without touching the exporter. Activations come from the activation registry
 * (lib/ops/activations.ts: each one's `torch` spelling); an unknown one is an error at export time.
 */
import { LEAKY_RELU_ALPHA, type Layer, type LayerConfig } from "../nn/layers.js";
import { ACTIVATION_NAMES, ACTIVATIONS, activationDef } from "../ops/activations.js";
import { defaultInitializer, type Initializer } from "../nn/init.js";

/** Where a layer sits, as the row that writes it needs to know. */
export interface TorchLayerContext {
  /** Index of the layer in `model.layers` (and in the module's `layers` nn.Sequential). */
  index: number;
  inFeatures: number;
  outFeatures: number;
  /**
   * True for the layer whose final softmax (crossEntropy) or sigmoid (binaryCrossEntropy) the loss
   * applies itself: that step is left out here (forward() applies it to the outputs instead), as
   * blasnet's training plan leaves it out.
   */
  fusedOutput: boolean;
  /** The config of the next layer (for the default initializer), or undefined for the last. */
  next: LayerConfig | undefined;
  /** The built layer (its shapes; a residual block's body). */
  layer: Layer;
}

/** One entry of the module's `layers` nn.Sequential. */
export interface TorchLayer {
  /** A Python expression for the module, e.g. `nn.Linear(3, 16)`. */
  module: string;
  /** What it is in blasnet's terms, for the comment next to it. */
  comment: string;
  /** Python statements initializing its parameters in `build()`, with `layer` bound to the module. */
  init: string[];
}

/** blasnet initializer -> Python statement filling `w` (PyTorch's (out, in) weight) the same way. */
const TORCH_INITIALIZERS: Readonly<Record<Initializer, string>> = {
  glorotUniform: "nn.init.xavier_uniform_(w)",
  glorotNormal: "nn.init.xavier_normal_(w)",
  // PyTorch's Kaiming with the ReLU gain sqrt(2): bound sqrt(6 / fanIn), std sqrt(2 / fanIn), as blasnet's He.
  heUniform: 'nn.init.kaiming_uniform_(w, nonlinearity="relu")',
  heNormal: 'nn.init.kaiming_normal_(w, nonlinearity="relu")',
  zeros: "nn.init.zeros_(w)",
};

/**
 * The module expression for activation `name`: its `torch` spelling in the activation registry
 * (lib/ops/activations.ts). A name the registry does not know is an error, never a guess.
 */
export function torchActivation(name: string, alpha: number, where: string): string {
  if (name === "softmax") return "nn.Softmax(dim=-1)";
  if (!Object.hasOwn(ACTIVATIONS, name)) {
    throw new TypeError(
      `PyTorch export: ${where} uses activation ${JSON.stringify(name)}, which has no PyTorch equivalent in this blasnet ` +
        `(known: ${[...ACTIVATION_NAMES, "softmax"].join(", ")}); export it with a blasnet that defines it`,
    );
  }
  return activationDef(name).torch(alpha);
}

type Row<K extends LayerConfig["type"]> = (config: Extract<LayerConfig, { type: K }>, at: TorchLayerContext) => TorchLayer;

/** One row per layer config type. */
export const TORCH_LAYERS: { readonly [K in LayerConfig["type"]]: Row<K> } = {
  dense: (c, at) => {
    const where = `layer ${at.index} (dense)`;
    const act = c.activation ?? "linear";
    const applied = at.fusedOutput || act === "linear" ? null : torchActivation(act, act === "leakyRelu" ? LEAKY_RELU_ALPHA : 0, where);
    const bias = c.useBias === false ? ", bias=False" : "";
    const module = applied ? `Dense(${at.inFeatures}, ${at.outFeatures}${bias}, activation=${applied})` : `nn.Linear(${at.inFeatures}, ${at.outFeatures}${bias})`;
    const fused = at.fusedOutput ? `; its ${act} is applied by forward() and, while training, inside the loss` : "";
    // As Sequential picks it: the layer's own activation, else an activation layer right after it.
    const following = c.activation ?? (at.next?.type === "activation" ? at.next.activation : at.next?.type === "softmax" ? "softmax" : null);
    const initializer = c.init ?? defaultInitializer(following);
    const init = [`w = layer.weight  # ${initializer}`, TORCH_INITIALIZERS[initializer]];
    if (c.useBias !== false) init.push("nn.init.zeros_(layer.bias)");
    return { module, comment: `dense ${at.inFeatures} -> ${at.outFeatures}${c.activation ? `, ${c.activation}` : ""}${fused}`, init };
  },
  activation: (c, at) => {
    const alpha = c.activation === "leakyRelu" ? (c.alpha ?? LEAKY_RELU_ALPHA) : 0;
    const module = at.fusedOutput ? "nn.Identity()" : torchActivation(c.activation, alpha, `layer ${at.index} (activation)`);
    const label = c.activation === "leakyRelu" ? `leakyRelu (alpha=${alpha})` : c.activation;
    return { module, comment: at.fusedOutput ? `${label}: applied by forward() and, while training, inside the loss` : label, init: [] };
  },
  softmax: (_c, at) => ({
    module: at.fusedOutput ? "nn.Identity()" : torchActivation("softmax", 0, `layer ${at.index} (softmax)`),
    comment: at.fusedOutput ? "softmax: applied by forward() and, while training, inside the loss" : "softmax over each row",
    init: [],
  }),
  // Inverted dropout, as blasnet's: the identity in eval mode.
  dropout: (c) => ({ module: `nn.Dropout(${pyFloat(c.rate)})`, comment: `dropout (rate=${c.rate}); the identity in eval mode`, init: [] }),
  // Samples are stored row-major (C, H, W), as PyTorch's: flattening is a reshape.
  flatten: () => ({ module: "nn.Flatten()", comment: "flatten each sample to one dimension", init: [] }),
  conv2d: (c, at) => {
    const where = `layer ${at.index} (conv2d)`;
    const inC = at.layer.inShape[0]!;
    const args = [`${inC}`, `${c.outChannels}`, pyPair(c.kernelSize)];
    if (c.stride[0] !== 1 || c.stride[1] !== 1) args.push(`stride=${pyPair(c.stride)}`);
    if (c.padding === "same") args.push('padding="same"');
    else if (c.padding !== "valid" && (c.padding[0] !== 0 || c.padding[1] !== 0)) args.push(`padding=${pyPair(c.padding)}`);
    if (c.dilation[0] !== 1 || c.dilation[1] !== 1) args.push(`dilation=${pyPair(c.dilation)}`);
    if (c.useBias === false) args.push("bias=False");
    const act = c.activation ?? "linear";
    const applied = act === "linear" ? null : torchActivation(act, act === "leakyRelu" ? LEAKY_RELU_ALPHA : 0, where);
    const module = applied ? `Conv2d(${args.join(", ")}, activation=${applied})` : `nn.Conv2d(${args.join(", ")})`;
    const following = c.activation ?? (at.next?.type === "activation" ? at.next.activation : null);
    const initializer = c.init ?? defaultInitializer(following);
    const init = [`w = layer.weight  # ${initializer}`, TORCH_INITIALIZERS[initializer]];
    if (c.useBias !== false) init.push("nn.init.zeros_(layer.bias)");
    const [, h, w] = at.layer.outShape;
    return { module, comment: `conv2d ${c.kernelSize.join("x")}, ${inC} -> ${c.outChannels} channels (${c.outChannels}, ${h}, ${w})${c.activation ? `, ${c.activation}` : ""}`, init };
  },
  maxPool2d: (c, at) => {
    const args = [pyPair(c.kernelSize)];
    if (c.stride[0] !== c.kernelSize[0] || c.stride[1] !== c.kernelSize[1]) args.push(`stride=${pyPair(c.stride)}`);
    if (c.padding[0] !== 0 || c.padding[1] !== 0) args.push(`padding=${pyPair(c.padding)}`);
    if (c.dilation[0] !== 1 || c.dilation[1] !== 1) args.push(`dilation=${pyPair(c.dilation)}`);
    return { module: `nn.MaxPool2d(${args.join(", ")})`, comment: `max pooling -> (${at.layer.outShape.join(", ")})`, init: [] };
  },
  avgPool2d: (c, at) => {
    const args = [pyPair(c.kernelSize)];
    if (c.stride[0] !== c.kernelSize[0] || c.stride[1] !== c.kernelSize[1]) args.push(`stride=${pyPair(c.stride)}`);
    if (c.padding[0] !== 0 || c.padding[1] !== 0) args.push(`padding=${pyPair(c.padding)}`);
    return { module: `nn.AvgPool2d(${args.join(", ")})`, comment: `average pooling (padding counted as zeros) -> (${at.layer.outShape.join(", ")})`, init: [] };
  },
  globalAvgPool2d: (_c, at) => ({
    module: "nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())",
    comment: `global average pooling -> (${at.layer.outShape.join(", ")})`,
    init: [],
  }),
  batchNorm: (c, at) => {
    const rank = at.layer.inShape.length;
    if (rank > 4) throw new TypeError(`PyTorch export: layer ${at.index} (batchNorm) takes samples of ${rank} dimensions; PyTorch's BatchNorm1d/2d/3d take 1 to 4`);
    const cls = rank <= 2 ? "BatchNorm1d" : rank === 3 ? "BatchNorm2d" : "BatchNorm3d";
    return {
      module: `nn.${cls}(${at.layer.inShape[0]}, eps=${pyFloat(c.eps)}, momentum=${pyFloat(c.momentum)})`,
      comment: `batch norm over ${at.layer.inShape[0]} channels (running statistics in eval mode)`,
      init: [],
    };
  },
  layerNorm: (c, at) => {
    const shape = at.layer.inShape.slice(-c.dims);
    return { module: `nn.LayerNorm([${shape.join(", ")}], eps=${pyFloat(c.eps)})`, comment: `layer norm over the last ${c.dims} dimension${c.dims === 1 ? "" : "s"}`, init: [] };
  },
  residual: (c, at) => {
    const body = at.layer.children();
    const rows = c.layers.map((sub, j) =>
      torchLayer(sub as LayerConfig, { index: j, inFeatures: body[j]!.inFeatures, outFeatures: body[j]!.outFeatures, fusedOutput: false, next: c.layers[j + 1] as LayerConfig | undefined, layer: body[j]! }),
    );
    // The body's initializers, each with `layer` bound to its module (a name per block, for nesting).
    const block = `block_${at.layer.path.replace(/\D+/g, "_").replace(/^_|_$/g, "")}`;
    const init = rows.some((r) => r.init.length) ? [`${block} = layer`, ...rows.flatMap((r, j) => (r.init.length ? [`layer = ${block}.body[${j}]`, ...r.init] : []))] : [];
    return {
      module: `Residual(nn.Sequential(${rows.map((r) => r.module).join(", ")}))`,
      comment: `residual block x + f(x), f: ${rows.map((r) => r.comment).join("; ")}`,
      init,
    };
  },
};

/** A (height, width) pair as a Python argument: `3`, or `(3, 5)` when they differ. */
function pyPair(p: readonly [number, number] | readonly number[]): string {
  return p[0] === p[1] ? String(p[0]) : `(${p[0]}, ${p[1]})`;
}

/** The row of `config`'s type; throws for a type with no row. */
export function torchLayer(config: LayerConfig, at: TorchLayerContext): TorchLayer {
  const type = (config as { type?: unknown }).type;
  if (typeof type !== "string" || !Object.hasOwn(TORCH_LAYERS, type)) {
    throw new TypeError(
      `PyTorch export: layer ${at.index} has type ${JSON.stringify(type)}, which has no PyTorch equivalent in this blasnet (known: ${Object.keys(TORCH_LAYERS).join(", ")})`,
    );
  }
  return (TORCH_LAYERS[type as LayerConfig["type"]] as Row<LayerConfig["type"]>)(config, at);
}

/** A number as a Python float literal (`1` -> `1.0`; exponents as Python reads them). */
export function pyFloat(v: number): string {
  if (!Number.isFinite(v)) throw new RangeError(`PyTorch export: cannot write the non-finite number ${v} into Python code`);
  const s = String(v);
  return /[.e]/.test(s) ? s : `${s}.0`;
}
