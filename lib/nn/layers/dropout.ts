/**
 * Inverted dropout, any shape: while training each value is zeroed with probability `rate` and the
 * survivors scaled by 1 / (1 - rate); at inference it is the identity. Masks come from the model's
 * seeded generator state (the same xoshiro128** stream natively), so seeded runs repeat.
 */
import type { PlanLayer } from "../../backend/plan.js";
import { describe } from "../../core/matrix.js";
import type { OnnxGraph } from "../../ops/graph.js";
import { Layer, type PlanOp } from "./layer.js";
import { pyFloat, type TorchLayer } from "./torch.js";

/** A dropout layer as JSON (config(), model.json). */
export interface DropoutConfig {
  /** The registry type: always "dropout". */
  type: "dropout";
  /** Probability in [0, 1) of zeroing each value while training. */
  rate: number;
}

/**
 * Inverted dropout (see this file's header): a regularizer active only while training. Made by
 * dropout(rate).
 */
export class Dropout extends Layer {
  readonly type = "dropout";
  /** Probability in [0, 1) that a value is zeroed while training; survivors are scaled by 1 / (1 - rate). */
  readonly rate: number;

  constructor(rate: number) {
    super();
    if (typeof rate !== "number" || !(rate >= 0 && rate < 1)) {
      throw new RangeError(`Invalid dropout rate: ${describe(rate)}; expected a number in [0, 1)`);
    }
    this.rate = rate;
  }

  planLayers(): PlanLayer[] {
    return this.rate === 0 ? [] : [{ kind: "dropout", rate: this.rate }];
  }

  config(): DropoutConfig {
    return { type: "dropout", rate: this.rate };
  }

  /** Rebuild a dropout layer from its config, validating the rate. */
  static fromConfig(c: DropoutConfig): Dropout {
    return new Dropout(c.rate);
  }

  label(): string {
    return `dropout (rate=${this.rate})`;
  }

  kind(): string {
    return "dropout";
  }

  onnx(_g: OnnxGraph, x: string): string {
    return x; // the identity at inference
  }

  /** Its PyTorch module: nn.Dropout, inverted dropout as blasnet's (the identity in eval mode). */
  static torch(c: DropoutConfig): TorchLayer {
    return { module: `nn.Dropout(${pyFloat(c.rate)})`, comment: `dropout (rate=${c.rate}); the identity in eval mode`, init: [] };
  }

}

declare module "../../backend/plan.js" {
  interface PlanSteps {
    /** Inverted dropout with drop probability `rate`. */
    dropout: { rate: number };
  }
}

type DropoutStep = Extract<PlanLayer, { kind: "dropout" }>;

/** The mask, already scaled by 1 / (1 - rate): y = x · mask, dx = dy · mask. */
export const dropoutOp: PlanOp<DropoutStep, Float32Array> = {
  code: 3,
  outFeatures: (_l, inF) => inF,
  prepare: (_l, _buffers, batchSize, inF) => new Float32Array(batchSize * inF),
  forward(_k, l, mask, x, y, rows, _inF, outF, training, rng) {
    const n = rows * outF;
    if (!training || l.rate === 0) {
      mask.fill(1, 0, n);
      for (let i = 0; i < n; i++) y[i] = x[i]!;
      return;
    }
    const keepScale = 1 / (1 - l.rate);
    for (let i = 0; i < n; i++) {
      const m = rng.uniform() >= l.rate ? keepScale : 0;
      mask[i] = m;
      y[i] = x[i]! * m;
    }
  },
  backward(_k, _l, mask, _x, _y, dy, dx, rows, _inF, outF) {
    if (!dx) return;
    for (let i = 0, n = rows * outF; i < n; i++) dx[i] = dy[i]! * mask[i]!;
  },
};
