/** The benchmark's competitors, one entry each, loaded lazily so one missing system cannot break the others. */
import type { SystemEntry } from "./types.js";

export const SYSTEM_IDS = ["blasnet-fused", "blasnet-kernels", "blasnet-ts", "tfjs-cpu", "tfjs-wasm", "brain.js"] as const;
export type SystemId = (typeof SYSTEM_IDS)[number];

/** blasnet's own entries; the others are competitors (skipped by --no-competitors). */
export const BLASNET_IDS: readonly SystemId[] = ["blasnet-fused", "blasnet-kernels", "blasnet-ts"];

export async function loadSystem(id: string): Promise<SystemEntry> {
  switch (id) {
    case "blasnet-fused":
      return (await import("./blasnet.js")).blasnetFused;
    case "blasnet-kernels":
      return (await import("./blasnet.js")).blasnetKernels;
    case "blasnet-ts":
      return (await import("./blasnet.js")).blasnetTs;
    case "tfjs-cpu":
      return (await import("./tfjs.js")).tfjsCpu;
    case "tfjs-wasm":
      return (await import("./tfjs.js")).tfjsWasm;
    case "brain.js":
      return (await import("./brain.js")).brainJs;
    default:
      throw new Error(`Unknown system ${JSON.stringify(id)}; expected one of ${SYSTEM_IDS.join(", ")}`);
  }
}
