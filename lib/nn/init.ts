/**
 * Weight initializers, seeded. Biases always start at zero.
 *
 * For a weight of shape (fanOut, fanIn):
 * - glorotUniform: U(-l, l), l = sqrt(6 / (fanIn + fanOut))   (Glorot & Bengio 2010; Keras' default)
 * - glorotNormal:  N(0, s),  s = sqrt(2 / (fanIn + fanOut))   (plain normal, not truncated)
 * - heUniform:     U(-l, l), l = sqrt(6 / fanIn)              (He et al. 2015, for ReLU-family units)
 * - heNormal:      N(0, s),  s = sqrt(2 / fanIn)
 * - zeros
 */
import type { Rng } from "../core/rng.js";
import { describe } from "../core/matrix.js";

/** The weight initializers' names, as the layers' `init` option accepts them (formulas above). */
export const INITIALIZERS = ["glorotUniform", "glorotNormal", "heUniform", "heNormal", "zeros"] as const;
/** A weight initializer's name: glorotUniform, glorotNormal, heUniform, heNormal or zeros. */
export type Initializer = (typeof INITIALIZERS)[number];

export function checkInitializer(init: unknown, what: string): Initializer {
  if (typeof init === "string" && (INITIALIZERS as readonly string[]).includes(init)) return init as Initializer;
  throw new TypeError(
    `Invalid initializer for ${what}: expected one of ${INITIALIZERS.map((s) => `"${s}"`).join(", ")} but received ${describe(init)}`,
  );
}

/**
 * The initializer used when none is given: He uniform for units followed by relu, leakyRelu or gelu,
 * Glorot uniform otherwise (sigmoid, tanh, softmax, linear, or no activation).
 */
export function defaultInitializer(followingActivation: string | null): Initializer {
  return followingActivation === "relu" || followingActivation === "leakyRelu" || followingActivation === "gelu"
    ? "heUniform"
    : "glorotUniform";
}

/** Fill `w` (fanOut * fanIn values) from `rng` with initializer `kind`. */
export function initialize(kind: Initializer, w: Float32Array, fanIn: number, fanOut: number, rng: Rng): void {
  switch (kind) {
    case "zeros":
      w.fill(0);
      return;
    case "glorotUniform":
      fillUniform(w, Math.sqrt(6 / (fanIn + fanOut)), rng);
      return;
    case "heUniform":
      fillUniform(w, Math.sqrt(6 / fanIn), rng);
      return;
    case "glorotNormal":
      fillNormal(w, Math.sqrt(2 / (fanIn + fanOut)), rng);
      return;
    case "heNormal":
      fillNormal(w, Math.sqrt(2 / fanIn), rng);
      return;
  }
}

function fillUniform(w: Float32Array, limit: number, rng: Rng): void {
  for (let i = 0; i < w.length; i++) w[i] = rng.uniformRange(-limit, limit);
}

function fillNormal(w: Float32Array, std: number, rng: Rng): void {
  for (let i = 0; i < w.length; i++) w[i] = std * rng.normal();
}
