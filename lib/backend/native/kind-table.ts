/**
 * Every kind list that crosses the native boundary, with its codes, as the TypeScript registries
 * define them. The addon builds the same table from its own lists (native/ops/kinds.h and the ops headers it includes;
 * native/steps/steps.h for the plan's step kinds) and exports
 * it as `kinds()`; the loader refuses an addon whose table differs, so that a code can never mean
 * one kind in TypeScript and another in C++.
 *
 * The activation, loss and optimizer lists sit below the backend and are imported. The plan step
 * kinds are the layer registry's (PLAN_OPS in lib/nn/layers.ts), a floor above: it hands their codes
 * down when it loads (registerPlanLayerCodes) instead of being imported from here. Whichever comes
 * second, the addon's load or the registration, compares them.
 */
import { OPTIMIZERS } from "../../optim/index.js";
import { ACTIVATIONS } from "../../ops/activations.js";
import { PLAN_LOSSES } from "../../ops/losses.js";

export interface KindTable {
  activations: Record<string, number>;
  losses: Record<string, number>;
  optimizers: Record<string, { code: number; hyper: string[] }>;
  layers: Record<string, number>;
}

let planLayerCodes: Readonly<Record<string, number>> | undefined;
let acceptedKinds: unknown;

/**
 * The plan step kinds' codes, from the layer registry (lib/nn/layers.ts calls this once, when it
 * loads). Throws when an addon already loaded lists other codes.
 */
export function registerPlanLayerCodes(codes: Readonly<Record<string, number>>): void {
  planLayerCodes = { ...codes };
  if (acceptedKinds === undefined) return;
  const difference = kindTableDifference(acceptedKinds, nativeKindTable());
  if (difference !== undefined) {
    throw new Error(`blasnet: the loaded native addon's kind codes differ from this blasnet's registry: ${difference} (built from older sources?); rebuild it with npm run build:native`);
  }
}

/** The table the addon's `kinds()` must return (`layers` empty until the layer registry has loaded). */
export function nativeKindTable(): KindTable {
  return {
    activations: Object.fromEntries(Object.entries(ACTIVATIONS).map(([name, def]) => [name, def.code])),
    losses: { ...PLAN_LOSSES },
    optimizers: Object.fromEntries(Object.entries(OPTIMIZERS).map(([name, def]) => [name, { code: def.code, hyper: [...def.hyper] }])),
    layers: { ...planLayerCodes },
  };
}

/**
 * The loader's check of an addon's `kinds()`: the first difference from nativeKindTable(), or
 * undefined when they agree (then the addon is accepted, and step codes registered later are
 * compared with its table). Before the layer registry has loaded, its list is left to the registration.
 */
export function checkAddonKinds(addonKinds: unknown): string | undefined {
  const compared =
    planLayerCodes === undefined && typeof addonKinds === "object" && addonKinds !== null ? { ...(addonKinds as Record<string, unknown>), layers: {} } : addonKinds;
  const difference = kindTableDifference(compared, nativeKindTable());
  if (difference === undefined) acceptedKinds = addonKinds;
  return difference;
}

/**
 * The first entry where the addon's kind table (`kinds()`) differs from the TypeScript registry's
 * (`nativeKindTable()`), described for the load error, or undefined when they are equal.
 */
export function kindTableDifference(addonTable: unknown, tsTable: unknown): string | undefined {
  return differ(addonTable, tsTable, "kinds()");
}

function differ(a: unknown, t: unknown, at: string): string | undefined {
  const show = (v: unknown): string => (v === undefined ? "missing" : JSON.stringify(v));
  if (Array.isArray(t) || typeof t !== "object" || t === null) {
    return JSON.stringify(a) === JSON.stringify(t) ? undefined : `${at} is ${show(a)} in the addon but ${show(t)} in TypeScript`;
  }
  if (typeof a !== "object" || a === null || Array.isArray(a)) return `${at} is ${show(a)} in the addon but an object in TypeScript`;
  const ao = a as Record<string, unknown>;
  const to = t as Record<string, unknown>;
  for (const key of Object.keys(to)) {
    const d = differ(Object.hasOwn(ao, key) ? ao[key] : undefined, to[key], `${at}.${key}`);
    if (d !== undefined) return d;
  }
  for (const key of Object.keys(ao)) {
    if (!Object.hasOwn(to, key)) return `${at}.${key} is ${show(ao[key])} in the addon but missing in TypeScript`;
  }
  return undefined;
}
