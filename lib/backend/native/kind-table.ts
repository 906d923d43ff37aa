/**
 * Every kind list that crosses the native boundary, with its codes, as the TypeScript registries
 * define them. The addon builds the same table from its own lists (native/ops/kinds.h and the ops headers it includes;
 * native/steps/steps.h for the plan's step kinds) and exports
 * it as `kinds()`; the loader refuses an addon whose table differs, so that a code can never mean
 * one kind in TypeScript and another in C++.
 */
import { OPTIMIZERS } from "../../optim/index.js";
import { ACTIVATIONS } from "../../ops/activations.js";
import { PLAN_LOSSES } from "../../ops/losses.js";
import { PLAN_LAYER_CODES } from "../../nn/layers.js";

export interface KindTable {
  activations: Record<string, number>;
  losses: Record<string, number>;
  optimizers: Record<string, { code: number; hyper: string[] }>;
  layers: Record<string, number>;
}

/** The table the addon's `kinds()` must return. */
export function nativeKindTable(): KindTable {
  return {
    activations: Object.fromEntries(Object.entries(ACTIVATIONS).map(([name, def]) => [name, def.code])),
    losses: { ...PLAN_LOSSES },
    optimizers: Object.fromEntries(Object.entries(OPTIMIZERS).map(([name, def]) => [name, { code: def.code, hyper: [...def.hyper] }])),
    layers: { ...PLAN_LAYER_CODES },
  };
}
