/**
 * How each kind of blasnet layer is written as PyTorch: one table keyed by the layer config's
 * `type`. Everything the PyTorch export knows about a layer kind is its row here (the module
 * expression, its comment, the initializer of its weights), so a row can move into that layer's own
 * description later without touching the exporter. Activations come from the activation registry
 * (lib/ops/activations.ts: each one's `torch` spelling); an unknown one is an error at export time.
 */
import { LEAKY_RELU_ALPHA, type LayerConfig } from "../nn/layers.js";
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
};

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
