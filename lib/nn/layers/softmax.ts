/**
 * Softmax over each sample's features: y_j = e^(x_j) / Σ_i e^(x_i) (max-subtracted). With a
 * crossEntropy loss the model's last softmax is fused into the loss (see Sequential).
 */
import type { PlanLayer } from "../../backend/plan.js";
import type { OnnxGraph } from "../../ops/graph.js";
import { Layer, showShape, type PlanOp, type Shape } from "./layer.js";
import { torchActivation, type TorchLayer, type TorchLayerContext } from "./torch.js";

/** A softmax layer as JSON (config(), model.json). */
export interface SoftmaxConfig {
  /** The registry type: always "softmax". */
  type: "softmax";
}

/**
 * Softmax over each sample's features, turning logits into probabilities. Made by softmax(). Before a
 * crossEntropy loss it is left out of training (the loss takes the logits).
 */
export class Softmax extends Layer {
  readonly type = "softmax";

  protected override outputShape(inShape: Shape): Shape {
    if (inShape.length !== 1) throw new RangeError(`softmax takes inputs of shape (batch, features) but receives ${showShape(inShape)}: put flatten() before it`);
    return inShape;
  }

  override get activationKind(): string {
    return "softmax";
  }

  planLayers(): PlanLayer[] {
    return [{ kind: "softmax" }];
  }

  config(): SoftmaxConfig {
    return { type: "softmax" };
  }

  /** Rebuild a softmax layer from its config (it has no options). */
  static fromConfig(): Softmax {
    return new Softmax();
  }

  label(): string {
    return "softmax";
  }

  kind(): string {
    return "softmax";
  }

  onnx(g: OnnxGraph, x: string): string {
    return g.node("Softmax", [x], [{ name: "axis", int: -1 }]);
  }

  /** Its PyTorch module: nn.Softmax over the last dimension (nn.Identity() when the loss applies it). */
  static torch(_c: SoftmaxConfig, at: TorchLayerContext): TorchLayer {
    return {
      module: at.fusedOutput ? "nn.Identity()" : torchActivation("softmax", 0, `layer ${at.index} (softmax)`),
      comment: at.fusedOutput ? "softmax: applied by forward() and, while training, inside the loss" : "softmax over each row",
      init: [],
    };
  }

}

declare module "../../backend/plan.js" {
  interface PlanSteps {
    /** Softmax over each sample's features. */
    softmax: {};
  }
}

export const softmaxOp: PlanOp<Extract<PlanLayer, { kind: "softmax" }>, null> = {
  code: 2,
  outFeatures: (_l, inF) => inF,
  prepare: () => null,
  forward(k, _l, _w, x, y, rows, _inF, outF) {
    k.softmaxForward(y, x, rows, outF);
  },
  // dx = y (dy - rowsum(dy y))
  backward(k, _l, _w, _x, y, dy, dx, rows, _inF, outF) {
    if (dx) k.softmaxBackward(dx, dy, y, rows, outF);
  },
};
