/**
 * What kind of typed array a value is, read from the value's own internal slot rather than from its
 * prototype chain: the one check every entry point makes on the arrays it is given. A Proxy of a
 * Float32Array passes `instanceof Float32Array` (the proxy forwards getPrototypeOf) but is no typed
 * array: reading its length, copying it or handing it to the native addon fails with V8's "Method
 * get TypedArray.prototype.length called on incompatible receiver".
 */
import { types } from "node:util";

/** The built-in %TypedArray%.prototype[Symbol.toStringTag] getter: the kind's name, or undefined for anything else. */
const kindOf = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Int8Array.prototype) as object, Symbol.toStringTag)!.get as (this: unknown) => string | undefined;

/** The names of the typed array kinds blasnet takes somewhere. */
export type TypedArrayName = "Float32Array" | "Float64Array" | "Int32Array" | "Uint32Array" | "Int16Array" | "Uint16Array" | "Int8Array" | "Uint8Array";

/** The integer kinds crossEntropy takes class labels in. */
export const INTEGER_ARRAYS: readonly TypedArrayName[] = ["Int32Array", "Uint8Array", "Uint16Array", "Int8Array", "Int16Array", "Uint32Array"];

/** True when `v` is a typed array of one of `kinds` (its subclasses included; a Proxy of one is not). */
export function isTypedArrayOf(v: unknown, kinds: readonly TypedArrayName[]): boolean {
  const kind = kindOf.call(v);
  return kind !== undefined && (kinds as readonly string[]).includes(kind);
}

/** True when `v` is a Float32Array (a Proxy of one is not). */
export function isFloat32Array(v: unknown): v is Float32Array {
  return kindOf.call(v) === "Float32Array";
}

/** True when `v` is a Uint32Array (a Proxy of one is not). */
export function isUint32Array(v: unknown): v is Uint32Array {
  return kindOf.call(v) === "Uint32Array";
}

/**
 * True when `v` can be read as an array of numbers by index and length: an array (a Proxy of one
 * included: Array.isArray sees through it), a typed array, or another object with a numeric length
 * that is not a Proxy (a Proxy of a typed array passes neither check).
 */
export function isArrayLike(v: unknown): v is ArrayLike<unknown> {
  if (Array.isArray(v) || kindOf.call(v) !== undefined) return true;
  return v !== null && typeof v === "object" && !types.isProxy(v) && typeof (v as { length?: unknown }).length === "number";
}

/** True when `v` is a Proxy (describe says so rather than reading the proxy's properties). */
export function isProxy(v: unknown): boolean {
  return types.isProxy(v);
}
