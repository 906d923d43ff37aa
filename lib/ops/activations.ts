/**
 * The element-wise activations, one definition each: y = f(x) and dx = dy · f'(x).
 *
 * This table is the one list of activations on the TypeScript side. Everything else is derived from
 * it: the `Kernels` activation kernels of the TypeScript backend (the loops below), the names
 * `dense({ activation })` and the CLI accept, the integer codes sent to the native addon (checked
 * against the addon's own list, native/ops/activations.h, when it loads), ONNX and PyTorch export, and the
 * parity and gradient tests, which run every entry.
 *
 * Each entry's loops work on the first n values of float32 buffers, in place allowed (y may be x,
 * dx may be dy: each index is read before it is written), in double precision rounded to float32
 * on store. NaN propagates: f(NaN) = NaN; the derivative uses the same comparisons on every path.
 *
 * Adding an activation: an entry here, its twin in native/ops/activations.h (same code), and its
 * layer factory in lib/nn/layers.ts.
 */
import type { OnnxGraph } from "./graph.js";

/** Which forward value the backward pass reads: the input x, or the output y (cheaper when f' is a function of y). */
type BackwardInput = "x" | "y";

/**
 * One element-wise activation, defined once: its native code, its formula, the weight initializer a dense
 * layer before it uses, and its forward and derivative (the TypeScript definitions the native kernels are
 * tested against).
 */
export interface ActivationDef {
  /** The integer code the native addon uses (native/ops/activations.h). */
  readonly code: number;
  /** One line of math for docs and error messages. */
  readonly math: string;
  /** Default weight initializer of a dense layer followed by this activation. */
  readonly init: "heUniform" | "glorotUniform";
  /**
   * What the derivative is computed from: "x" (the input) or "y" (the output, cheaper when f' is a
   * function of y, as for sigmoid and tanh).
   */
  readonly backwardReads: BackwardInput;
  /** y (n) = f(x) (n). `alpha` is leakyRelu's negative slope (ignored by the others). */
  forward(y: Float32Array, x: Float32Array, n: number, alpha: number): void;
  /** dx (n) = dy (n) · f'(x), from the forward input x and output y. */
  backward(dx: Float32Array, dy: Float32Array, x: Float32Array, y: Float32Array, n: number, alpha: number): void;
  /** Append the activation to an ONNX graph; returns the output's name. */
  onnx(g: OnnxGraph, x: string, alpha: number): string;
  /** The equivalent torch.nn module, as Python source. */
  torch(alpha: number): string;
}

/** σ(z) = 1 / (1 + e^-z), branching on the sign so that e^(...) never overflows. */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/** sqrt(2 / pi) and the cubic coefficient of GELU's tanh approximation. */
const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_K = 0.044715;
/** softplus(x) = x above this (PyTorch's threshold for beta = 1): log(1 + e^x) rounds to x there. */
const SOFTPLUS_THRESHOLD = 20;

/**
 * Every element-wise activation by name (linear, relu, sigmoid, tanh, ...): the one list the layers, the
 * kernels on both backends and the native addon's codes follow.
 */
export const ACTIVATIONS = {
  linear: {
    code: 0,
    math: "f(x) = x",
    init: "glorotUniform",
    backwardReads: "x",
    forward(y, x, n) {
      if (y === x) return;
      for (let i = 0; i < n; i++) y[i] = x[i]!;
    },
    backward(dx, dy, _x, _y, n) {
      if (dx === dy) return;
      for (let i = 0; i < n; i++) dx[i] = dy[i]!;
    },
    onnx: (_g, x) => x,
    torch: () => "nn.Identity()",
  },
  sigmoid: {
    code: 1,
    math: "σ(x) = 1 / (1 + e^-x)",
    init: "glorotUniform",
    backwardReads: "y",
    forward(y, x, n) {
      for (let i = 0; i < n; i++) y[i] = sigmoid(x[i]!);
    },
    // σ'(x) = σ(x) (1 - σ(x)) = y (1 - y)
    backward(dx, dy, _x, y, n) {
      for (let i = 0; i < n; i++) {
        const s = y[i]!;
        dx[i] = dy[i]! * s * (1 - s);
      }
    },
    onnx: (g, x) => g.node("Sigmoid", [x]),
    torch: () => "nn.Sigmoid()",
  },
  relu: {
    code: 2,
    math: "max(0, x)",
    init: "heUniform",
    backwardReads: "x",
    forward(y, x, n) {
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        y[i] = v < 0 ? 0 : v; // NaN stays NaN
      }
    },
    // f'(x) = 1 for x > 0, else 0 (0 at x = 0, as in PyTorch)
    backward(dx, dy, x, _y, n) {
      for (let i = 0; i < n; i++) dx[i] = x[i]! > 0 ? dy[i]! : 0;
    },
    onnx: (g, x) => g.node("Relu", [x]),
    torch: () => "nn.ReLU()",
  },
  tanh: {
    code: 3,
    math: "tanh(x)",
    init: "glorotUniform",
    backwardReads: "y",
    forward(y, x, n) {
      for (let i = 0; i < n; i++) y[i] = Math.tanh(x[i]!);
    },
    // tanh'(x) = 1 - tanh(x)^2 = 1 - y^2
    backward(dx, dy, _x, y, n) {
      for (let i = 0; i < n; i++) {
        const t = y[i]!;
        dx[i] = dy[i]! * (1 - t * t);
      }
    },
    onnx: (g, x) => g.node("Tanh", [x]),
    torch: () => "nn.Tanh()",
  },
  leakyRelu: {
    code: 4,
    math: "x for x >= 0, alpha x below (alpha default 0.01)",
    init: "heUniform",
    backwardReads: "x",
    forward(y, x, n, alpha) {
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        y[i] = v < 0 ? alpha * v : v;
      }
    },
    // f'(x) = 1 for x > 0, else alpha (alpha at 0, as in PyTorch)
    backward(dx, dy, x, _y, n, alpha) {
      for (let i = 0; i < n; i++) {
        const g = dy[i]!;
        dx[i] = x[i]! > 0 ? g : alpha * g;
      }
    },
    onnx: (g, x, alpha) => g.node("LeakyRelu", [x], [{ name: "alpha", float: alpha }]),
    torch: (alpha) => `nn.LeakyReLU(${pyFloat(alpha)})`,
  },
  gelu: {
    code: 5,
    math: "x σ(2u), u = sqrt(2/pi) (x + 0.044715 x^3) (the tanh approximation, 0.5 x (1 + tanh u))",
    init: "heUniform",
    backwardReads: "x",
    // 0.5 (1 + tanh u) = σ(2u): the σ form has no cancellation for large negative x.
    forward(y, x, n) {
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        y[i] = v * sigmoid(2 * GELU_C * (v + GELU_K * v * v * v));
      }
    },
    // f'(x) = s + x s (1 - s) 2 du/dx, s = σ(2u), du/dx = sqrt(2/pi) (1 + 3 · 0.044715 x^2)
    backward(dx, dy, x, _y, n) {
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        const v2 = v * v;
        const s = sigmoid(2 * GELU_C * (v + GELU_K * v2 * v));
        dx[i] = dy[i]! * (s + v * s * (1 - s) * 2 * GELU_C * (1 + 3 * GELU_K * v2));
      }
    },
    onnx(g, x) {
      if (g.opset >= 20) return g.node("Gelu", [x], [{ name: "approximate", string: "tanh" }]);
      // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) in elementary ops
      const x2 = g.node("Mul", [x, x], [], "gelu_x2");
      const x3 = g.node("Mul", [x2, x], [], "gelu_x3");
      const cx3 = g.node("Mul", [x3, g.scalar("gelu_c", GELU_K)], [], "gelu_cx3");
      const inner = g.node("Add", [x, cx3], [], "gelu_inner");
      const scaled = g.node("Mul", [inner, g.scalar("gelu_k", GELU_C)], [], "gelu_scaled");
      const t = g.node("Tanh", [scaled], [], "gelu_tanh");
      const onePlus = g.node("Add", [t, g.scalar("one", 1)], [], "gelu_1p");
      const half = g.node("Mul", [x, g.scalar("half", 0.5)], [], "gelu_halfx");
      return g.node("Mul", [half, onePlus], [], "gelu");
    },
    torch: () => 'nn.GELU(approximate="tanh")',
  },
  silu: {
    code: 6,
    math: "x σ(x) (SiLU, also called swish)",
    init: "heUniform",
    backwardReads: "x",
    forward(y, x, n) {
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        y[i] = v * sigmoid(v);
      }
    },
    // f'(x) = σ(x) (1 + x (1 - σ(x)))
    backward(dx, dy, x, _y, n) {
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        const s = sigmoid(v);
        dx[i] = dy[i]! * s * (1 + v * (1 - s));
      }
    },
    onnx: (g, x) => g.node("Mul", [x, g.node("Sigmoid", [x], [], "silu_sigmoid")], [], "silu"),
    torch: () => "nn.SiLU()",
  },
  softplus: {
    code: 7,
    math: "log(1 + e^x) (x above 20, as PyTorch's Softplus)",
    init: "heUniform",
    backwardReads: "x",
    forward(y, x, n) {
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        y[i] = v > SOFTPLUS_THRESHOLD ? v : Math.log1p(Math.exp(v));
      }
    },
    // f'(x) = σ(x) (1 above the threshold)
    backward(dx, dy, x, _y, n) {
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        dx[i] = v > SOFTPLUS_THRESHOLD ? dy[i]! : dy[i]! * sigmoid(v);
      }
    },
    // ONNX's Softplus has no threshold; above 20 the two differ by less than float32 resolves.
    onnx: (g, x) => g.node("Softplus", [x]),
    torch: () => "nn.Softplus()",
  },
} as const satisfies Record<string, ActivationDef>;

export type ActivationName = keyof typeof ACTIVATIONS;

/** Every activation name, in code order. */
export const ACTIVATION_NAMES = (Object.keys(ACTIVATIONS) as ActivationName[]).sort((a, b) => ACTIVATIONS[a].code - ACTIVATIONS[b].code);

/**
 * The definitions by code: activationDef checks that what it found by name is one of them, which
 * refuses the names every object inherits ("toString", "__proto__", ...).
 */
const BY_CODE: ActivationDef[] = [];
for (const def of Object.values(ACTIVATIONS)) BY_CODE[def.code] = def;

/**
 * The definition of `name`, or a RangeError listing the known names. The TypeScript kernels look one
 * up on every call (twice a step per activation layer): a property read of the table plus an array
 * read is a few nanoseconds, a Map lookup or Object.hasOwn two to four times that.
 */
export function activationDef(name: string): ActivationDef {
  const def = (ACTIVATIONS as Readonly<Record<string, ActivationDef | undefined>>)[name];
  if (def === undefined || BY_CODE[def.code] !== def) {
    throw new RangeError(`Unknown activation ${JSON.stringify(name)}; expected one of ${ACTIVATION_NAMES.map((s) => `"${s}"`).join(", ")}`);
  }
  return def;
}

/** A number as a Python float literal. */
function pyFloat(v: number): string {
  const s = String(v);
  return /[.eE]/.test(s) ? s : `${s}.0`;
}
