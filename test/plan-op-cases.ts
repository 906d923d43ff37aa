/**
 * The test rows of every plan op (lib/nn/layers.ts PLAN_OPS), keyed by step kind: each row is a
 * small model whose training plan runs that op, with its input shape, batch and mode. The gradient
 * checks and the parity tests (test/plan-ops.test.ts) run every row; the table is typed by the step
 * kinds, and a test checks it has rows for every registered op, so an op registered without rows
 * fails.
 *
 * Rows put a layer with parameters before the op under test (so the op's input gradient is used:
 * the earlier layer's gradients depend on it), and keep the models smooth where a finite difference
 * could cross a kink: max pooling follows a per-channel increasing map (batch norm in inference
 * mode, or a 1x1 single-channel convolution), so perturbing a parameter never moves a maximum.
 */
import type { PlanLayer } from "../lib/backend/plan.js";
import {
  avgPool2d,
  batchNorm,
  conv2d,
  dense,
  dropout,
  flatten,
  globalAvgPool2d,
  layerNorm,
  maxPool2d,
  residual,
  softmax,
  tanh,
  type Layer,
} from "../lib/nn/layers.js";

export interface OpCase {
  name: string;
  inputShape: number[];
  layers: () => Layer[];
  rows: number;
  /** Run the training forward pass (batch statistics; dropout masks). Default false (inference). */
  training?: boolean;
}

/** A 1x1 convolution mapping `c` channels to `c` (parameters before the op under test). */
const pre = (c: number): Layer => conv2d(c, 1, { activation: "tanh" });

export const OP_CASES: { readonly [K in PlanLayer["kind"]]: readonly OpCase[] } = {
  dense: [{ name: "dense 4 -> 5 -> 2", inputShape: [4], layers: () => [dense(5), dense(2)], rows: 3 }],
  activation: [{ name: "tanh between dense layers", inputShape: [4], layers: () => [dense(5), tanh(), dense(2)], rows: 3 }],
  softmax: [{ name: "hidden softmax", inputShape: [4], layers: () => [dense(5), softmax(), dense(2)], rows: 3 }],
  dropout: [
    { name: "dropout on images (inference: the identity)", inputShape: [2, 3, 3], layers: () => [pre(2), dropout(0.3), flatten(), dense(2)], rows: 2 },
  ],
  conv2d: [
    { name: "3x3 valid, 2 -> 3 channels, odd 5x6 input", inputShape: [2, 5, 6], layers: () => [pre(2), conv2d(3, 3)], rows: 3 },
    { name: "3x3 stride 2 padding 1 on 7x7", inputShape: [2, 7, 7], layers: () => [pre(2), conv2d(3, 3, { stride: 2, padding: 1, activation: "tanh" })], rows: 2 },
    { name: "[2, 3] kernel, stride [1, 2], padding [1, 0], dilation 2", inputShape: [3, 6, 7], layers: () => [pre(3), conv2d(2, [2, 3], { stride: [1, 2], padding: [1, 0], dilation: 2 })], rows: 2 },
    { name: "even 4x2 kernel, padding same (extra at bottom / right)", inputShape: [2, 5, 5], layers: () => [pre(2), conv2d(2, [4, 2], { padding: "same" })], rows: 2 },
    { name: "batch 1, channels 1, no bias, kernel = input", inputShape: [1, 3, 3], layers: () => [pre(1), conv2d(1, 3, { useBias: false })], rows: 1 },
    { name: "padding 2 beyond a 2x2 kernel's reach, stride 3", inputShape: [1, 4, 5], layers: () => [pre(1), conv2d(2, 2, { padding: 2, stride: 3 })], rows: 2 },
  ],
  maxPool2d: [
    { name: "2x2 on 6x6, after batch norm", inputShape: [2, 6, 6], layers: () => [batchNorm(), maxPool2d(2), flatten(), dense(2)], rows: 3 },
    { name: "3x3 stride 2 padding 1 on odd 7x5", inputShape: [2, 7, 5], layers: () => [batchNorm(), maxPool2d(3, { stride: 2, padding: 1 }), flatten(), dense(2)], rows: 2 },
    { name: "2x2 dilation 2, stride 1, batch 1, channels 1", inputShape: [1, 5, 5], layers: () => [conv2d(1, 1), maxPool2d(2, { dilation: 2, stride: 1 }), flatten(), dense(2)], rows: 1 },
  ],
  avgPool2d: [
    { name: "2x2 on 6x6", inputShape: [2, 6, 6], layers: () => [pre(2), avgPool2d(2)], rows: 3 },
    { name: "3x3 stride 2 padding 1 (padding counted) on odd 7x5", inputShape: [2, 7, 5], layers: () => [pre(2), avgPool2d(3, { stride: 2, padding: 1 })], rows: 2 },
    { name: "global average pooling, batch 1, channels 1", inputShape: [1, 4, 3], layers: () => [pre(1), globalAvgPool2d(), dense(2)], rows: 1 },
    { name: "global average pooling of 3 channels", inputShape: [3, 5, 5], layers: () => [pre(3), globalAvgPool2d(), dense(2)], rows: 4 },
  ],
  batchNorm: [
    { name: "images, training (batch statistics)", inputShape: [2, 3, 4], layers: () => [pre(2), batchNorm({ momentum: 0.3 }), tanh(), flatten(), dense(2)], rows: 3, training: true },
    { name: "images, inference (running statistics)", inputShape: [2, 3, 4], layers: () => [pre(2), batchNorm(), tanh(), flatten(), dense(2)], rows: 3 },
    { name: "features (N, F), training", inputShape: [4], layers: () => [dense(5), batchNorm(), tanh(), dense(2)], rows: 6, training: true },
    { name: "features (N, F), inference, batch 1", inputShape: [4], layers: () => [dense(5), batchNorm(), tanh(), dense(2)], rows: 1 },
    { name: "batch 1 training, channels 1", inputShape: [1, 3, 3], layers: () => [pre(1), batchNorm(), tanh(), flatten(), dense(2)], rows: 1, training: true },
  ],
  layerNorm: [
    { name: "features, last dimension", inputShape: [4], layers: () => [dense(6), layerNorm(), tanh(), dense(2)], rows: 3 },
    { name: "images, last 2 dimensions, eps 1e-3", inputShape: [2, 3, 4], layers: () => [pre(2), layerNorm({ dims: 2, eps: 1e-3 }), tanh(), flatten(), dense(2)], rows: 2 },
    { name: "images, whole sample, batch 1", inputShape: [2, 3, 3], layers: () => [pre(2), layerNorm({ dims: 3 })], rows: 1 },
  ],
  residualStart: [
    { name: "dense block", inputShape: [4], layers: () => [dense(5, { activation: "tanh" }), residual([dense(5, { activation: "tanh" }), dense(5)]), dense(2)], rows: 3 },
    {
      name: "nested blocks",
      inputShape: [4],
      layers: () => [dense(4, { activation: "tanh" }), residual([dense(4, { activation: "tanh" }), residual([dense(4, { activation: "tanh" })]), dense(4)]), dense(2)],
      rows: 2,
    },
  ],
  residualEnd: [
    {
      name: "ResNet-style conv block",
      inputShape: [2, 5, 5],
      layers: () => [pre(3 - 1), residual([conv2d(2, 3, { padding: 1 }), batchNorm(), tanh(), conv2d(2, 3, { padding: "same" })]), tanh(), flatten(), dense(2)],
      rows: 3,
      training: true,
    },
    { name: "block as the first layer", inputShape: [3], layers: () => [residual([dense(3, { activation: "tanh" })]), dense(2)], rows: 2 },
  ],
};
