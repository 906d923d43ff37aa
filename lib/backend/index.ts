/**
 * Backend selection: native (C++ over OpenBLAS) when the addon loads, otherwise the TypeScript
 * kernels with one warning that says why and how to fix it.
 *
 * `BLASNET_BACKEND=js|native` or `setBackend()` override the choice. Asking for native when it
 * cannot load is an error, never a silent fallback.
 */
import type { Backend, BackendInfo } from "./backend.js";
import { createTsBackend } from "./ts/index.js";
import { createNativeBackend } from "./native/index.js";

/**
 * A backend's name: "native" (OpenBLAS addon, the default when built) or "js" (TypeScript kernels, always
 * available).
 */
export type BackendName = "native" | "js";

let current: Backend | undefined;
let fallbackReason: string | undefined;
let nativeBackend: Backend | undefined;
let nativeError: Error | undefined;
let warned = false;

function tryNative(): Backend | undefined {
  if (nativeBackend) return nativeBackend;
  if (nativeError) return undefined;
  try {
    nativeBackend = createNativeBackend();
    return nativeBackend;
  } catch (e) {
    nativeError = e instanceof Error ? e : new Error(String(e));
    return undefined;
  }
}

function requireNative(): Backend {
  const b = tryNative();
  if (!b) {
    throw new Error(`The native backend was requested but cannot be used.\n${nativeError!.message}`);
  }
  return b;
}

function select(): Backend {
  const env = process.env["BLASNET_BACKEND"];
  if (env !== undefined && env !== "") {
    if (env === "native") return requireNative();
    if (env === "js") return createTsBackend();
    throw new Error(`Invalid BLASNET_BACKEND=${JSON.stringify(env)}; expected "native" or "js"`);
  }
  const b = tryNative();
  if (b) return b;
  fallbackReason = nativeError!.message;
  if (!warned) {
    warned = true;
    process.emitWarning(
      `blasnet: using the TypeScript backend (slower) because the native addon could not be loaded.\n${fallbackReason}`,
      { code: "BLASNET_NATIVE_UNAVAILABLE" },
    );
  }
  return createTsBackend();
}

/** The backend in use (chosen on first call). */
export function getBackend(): Backend {
  current ??= select();
  return current;
}

/** Choose the backend explicitly. `"native"` throws if the addon cannot be loaded. */
export function setBackend(name: BackendName): Backend {
  if (name === "native") current = requireNative();
  else if (name === "js") current = createTsBackend();
  else throw new TypeError(`Invalid backend ${JSON.stringify(name)}; expected "native" or "js"`);
  return current;
}

/** The native backend if it can be loaded, else undefined (for tests and benchmarks that compare). */
export function nativeBackendIfAvailable(): Backend | undefined {
  return tryNative();
}

/** Why the native backend cannot be loaded, or undefined if it can. */
export function nativeUnavailableReason(): string | undefined {
  tryNative();
  return nativeError?.message;
}

/** Which backend is in use, the BLAS build, threads and CPU. */
export function backendInfo(): BackendInfo {
  const b = getBackend();
  const info = b.info();
  return b.name === "js" && fallbackReason ? { ...info, fallbackReason } : info;
}

/** Set the number of BLAS / kernel threads of the current backend. */
export function setThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 1024) {
    throw new RangeError(`Invalid thread count: ${n}; expected an integer in [1, 1024]`);
  }
  getBackend().setThreads(n);
}

/**
 * The backend a model created with `option` runs on: the current backend when none was given
 * (looked up at each use), a new TypeScript backend for "js", the native one for "native" (an error
 * with the reason when it cannot load), or the object itself.
 */
export function backendFor(option: Backend | BackendName | undefined): () => Backend {
  if (option === undefined) return getBackend;
  let chosen: Backend | undefined = typeof option === "object" ? option : undefined;
  return () => {
    if (chosen) return chosen;
    if (option === "js") chosen = createTsBackend();
    else {
      const nb = tryNative();
      if (!nb) throw new Error(`This model was created with backend "native", which cannot be used:\n${nativeError!.message}`);
      chosen = nb;
    }
    return chosen;
  };
}
