/**
 * How each kind of blasnet layer is written as PyTorch: each kind writes itself, with its static
 * `torch(config, at, write)` beside its ONNX export in its own file under lib/nn/layers/; this file
 * collects them by the layer config's `type` from the layer registry (LAYERS), so a new layer kind
 * does not touch it. The types the kinds take and return, and the helpers they write with
 * (torchActivation, pyFloat, ...), are in lib/nn/layers/torch.ts.
 */
import { LAYERS, type LayerConfig } from "../nn/layers.js";
import type { TorchLayer, TorchLayerContext, TorchWriter } from "../nn/layers/torch.js";

export { pyFloat, torchActivation, type TorchLayer, type TorchLayerContext } from "../nn/layers/torch.js";

type Row<K extends LayerConfig["type"]> = (config: Extract<LayerConfig, { type: K }>, at: TorchLayerContext, write: TorchWriter) => TorchLayer;
type Rows = { readonly [K in LayerConfig["type"]]: Row<K> };

/** Each kind's `torch`, by config type; the parameter's type makes every registered kind have one. */
function rowsOf(layers: { readonly [K in LayerConfig["type"]]: { torch: Row<K> } }): Rows {
  return Object.fromEntries(Object.entries(layers).map(([type, kind]) => [type, kind.torch])) as unknown as Rows;
}

/** One row per layer config type: the kind's static `torch`. */
export const TORCH_LAYERS: Rows = rowsOf(LAYERS);

/** A residual block's body is written through torchLayer too. */
const write: TorchWriter = (config, at) => torchLayer(config as LayerConfig, at);

/** The row of `config`'s type; throws for a type with no row. */
export function torchLayer(config: LayerConfig, at: TorchLayerContext): TorchLayer {
  const type = (config as { type?: unknown }).type;
  if (typeof type !== "string" || !Object.hasOwn(TORCH_LAYERS, type)) {
    throw new TypeError(
      `PyTorch export: layer ${at.index} has type ${JSON.stringify(type)}, which has no PyTorch equivalent in this blasnet (known: ${Object.keys(TORCH_LAYERS).join(", ")})`,
    );
  }
  return (TORCH_LAYERS[type as LayerConfig["type"]] as Row<LayerConfig["type"]>)(config, at, write);
}
