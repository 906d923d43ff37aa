/**
 * What the PyTorch export writes, independent of the model classes: the module's layers (as the
 * rows of torch-layers.ts write them), its standardization, its output transform, and the training
 * settings train_ddp.py repeats. `torchSpecOf` reads it off a compiled `Sequential`.
 */
import { describe } from "../core/matrix.js";
import type { LossConfig } from "../losses/index.js";
import type { Layer } from "../nn/layers.js";
import { Sequential, type SequentialConfig } from "../nn/sequential.js";
import type { OptimizerConfig } from "../optim/index.js";
import type { ScheduleConfig } from "../optim/schedules.js";
import type { DataInfo } from "./model-file.js";
import { torchLayer, type TorchLayer } from "./torch-layers.js";

export interface TorchExportSpec {
  /** The blasnet version that wrote the files. */
  version: string;
  inFeatures: number;
  outFeatures: number;
  /** A sample's shape at the input (the module takes (N, ...inputShape), or flat rows of inFeatures). */
  inputShape: number[];
  layers: TorchLayer[];
  /** The frozen layers (trainable: false) as paths under the module's `layers`: `[0]`, `[2].body[1]`. */
  frozen: string[];
  /** Standardization: inputs always together, targets (regression only) together. */
  inputMean: Float32Array | null;
  inputStd: Float32Array | null;
  targetMean: Float32Array | null;
  targetStd: Float32Array | null;
  /** What forward() applies after the layers: softmax (crossEntropy), sigmoid (binaryCrossEntropy) or nothing. */
  output: "identity" | "softmax" | "sigmoid";
  loss: LossConfig;
  optimizer: OptimizerConfig;
  /** The optimizer's learning rate: a number or a schedule's config. */
  lr: number | ScheduleConfig;
  clipNorm: number;
  clipValue: number;
  /** CSV column names, when the model was trained from a CSV file. */
  data: DataInfo;
  /** The model's config, written to blasnet.json for import-torch. */
  config: SequentialConfig;
}

/**
 * The export spec of `model`. The model must be compiled: train_ddp.py repeats its loss and
 * optimizer. A final softmax (crossEntropy) or sigmoid (binaryCrossEntropy) is fused into the loss
 * as in blasnet's training plan: the module leaves it out of its layers and forward() applies it.
 */
export function torchSpecOf(model: Sequential, data: DataInfo, version: string): TorchExportSpec {
  if (!(model instanceof Sequential)) throw new TypeError(`exportTorch expects a Sequential model but received ${describe(model)}`);
  const config = model.config();
  const compile = config.compile;
  if (!compile || !model.loss) {
    throw new TypeError("exportTorch needs a compiled model (train_ddp.py trains with its loss and optimizer): call model.compile({ loss, optimizer }) first");
  }
  const lossName = model.loss.name;
  const output = lossName === "crossEntropy" ? "softmax" : lossName === "binaryCrossEntropy" ? "sigmoid" : "identity";

  // The layer whose last step the loss applies itself (blasnet's buildSpec drops that plan step).
  const steps = model.layers.map((l) => l.planLayers());
  let last = steps.length - 1;
  while (last >= 0 && steps[last]!.length === 0) last--;
  const finalStep = last >= 0 ? steps[last]![steps[last]!.length - 1] : undefined;
  const fused =
    (output === "softmax" && finalStep?.kind === "softmax") ||
    (output === "sigmoid" && finalStep?.kind === "activation" && finalStep.activation === "sigmoid");

  const layers = config.layers.map((c, index) =>
    torchLayer(c, {
      index,
      inFeatures: model.layers[index]!.inFeatures,
      outFeatures: model.layers[index]!.outFeatures,
      fusedOutput: fused && index === last,
      next: config.layers[index + 1],
      layer: model.layers[index]!,
    }),
  );
  const norm = model.normalization;
  if (norm?.targetMean && output !== "identity") {
    throw new TypeError(`exportTorch: the model standardizes targets but its loss ${lossName} is not a regression loss; remove targetMean/targetStd (setNormalization)`);
  }
  return {
    version,
    inFeatures: model.inputSize,
    outFeatures: model.outputSize,
    inputShape: [...model.inputShape],
    layers,
    frozen: frozenModules(model.layers, ""),
    inputMean: norm?.inputMean ?? null,
    inputStd: norm?.inputStd ?? null,
    targetMean: norm?.targetMean ?? null,
    targetStd: norm?.targetStd ?? null,
    output,
    loss: compile.loss,
    optimizer: compile.optimizer,
    lr: compile.optimizer.lr ?? model.optimizer!.def.defaultLr,
    clipNorm: compile.clipNorm,
    clipValue: compile.clipValue,
    data,
    config,
  };
}

/** Paths of the frozen layers with parameters (a frozen residual block is one path, its body not listed). */
function frozenModules(layers: readonly Layer[], prefix: string): string[] {
  return layers.flatMap((l, i) => {
    const at = prefix ? `${prefix}.body[${i}]` : `[${i}]`;
    if (!l.trainable) return l.paramCount() > 0 ? [at] : [];
    return frozenModules(l.children(), at);
  });
}

/** The module's buffers (state_dict keys besides the layers' parameters), in the order they are registered. */
export const NORMALIZATION_BUFFERS = [
  ["input_mean", "inputMean"],
  ["input_std", "inputStd"],
  ["target_mean", "targetMean"],
  ["target_std", "targetStd"],
] as const;
