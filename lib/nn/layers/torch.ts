/**
 * How a layer kind writes itself as PyTorch, for the PyTorch export (lib/io/torch-layers.ts): what
 * each kind's static `torch(config, at, write)` is handed (TorchLayerContext) and returns
 * (TorchLayer), and the helpers the kinds write with. Activations come from the activation registry
 * (lib/ops/activations.ts: each one's `torch` spelling); an unknown one is an error at export time.
 */
import { ACTIVATION_NAMES, ACTIVATIONS, activationDef } from "../../ops/activations.js";
import type { Initializer } from "../init.js";
import type { Layer, LayerConfigBase } from "./layer.js";

/** Where a layer sits, as the kind that writes it needs to know. */
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
  next: LayerConfigBase | undefined;
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

/** Writes any layer's config (a residual block writes its body with it). */
export type TorchWriter = (config: LayerConfigBase, at: TorchLayerContext) => TorchLayer;

/** blasnet initializer -> Python statement filling `w` (PyTorch's (out, in) weight) the same way. */
const TORCH_INITIALIZERS: Readonly<Record<Initializer, string>> = {
  glorotUniform: "nn.init.xavier_uniform_(w)",
  glorotNormal: "nn.init.xavier_normal_(w)",
  // PyTorch's Kaiming with the ReLU gain sqrt(2): bound sqrt(6 / fanIn), std sqrt(2 / fanIn), as blasnet's He.
  heUniform: 'nn.init.kaiming_uniform_(w, nonlinearity="relu")',
  heNormal: 'nn.init.kaiming_normal_(w, nonlinearity="relu")',
  zeros: "nn.init.zeros_(w)",
};

/** The Python statements initializing a weight (and a zero bias) as `initializer` does. */
export function torchInit(initializer: Initializer, useBias: boolean): string[] {
  const init = [`w = layer.weight  # ${initializer}`, TORCH_INITIALIZERS[initializer]];
  if (useBias) init.push("nn.init.zeros_(layer.bias)");
  return init;
}

/** The activation of `next` when it is an activation layer's config, else null. */
export function activationAfter(next: LayerConfigBase | undefined): string | null {
  return next?.type === "activation" ? (next as LayerConfigBase & { activation: string }).activation : null;
}

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

/** A (height, width) pair as a Python argument: `3`, or `(3, 5)` when they differ. */
export function pyPair(p: readonly [number, number] | readonly number[]): string {
  return p[0] === p[1] ? String(p[0]) : `(${p[0]}, ${p[1]})`;
}

/** A number as a Python float literal (`1` -> `1.0`; exponents as Python reads them). */
export function pyFloat(v: number): string {
  if (!Number.isFinite(v)) throw new RangeError(`PyTorch export: cannot write the non-finite number ${v} into Python code`);
  const s = String(v);
  return /[.e]/.test(s) ? s : `${s}.0`;
}
