/** Small shared helpers for the benchmark scripts: timing, statistics, tables, machine facts. */
import os from "node:os";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const REPO_DIR = path.dirname(BENCH_DIR);
export const RESULTS_DIR = path.join(BENCH_DIR, "results");

export function nowSeconds(): number {
  return performance.now() / 1000;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** A compact human number: 3 significant digits, with k / M / G suffixes for large values. */
export function fmt(x: number | null | undefined, digits = 3): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "-";
  const a = Math.abs(x);
  if (a >= 1e9) return `${(x / 1e9).toPrecision(digits)}G`;
  if (a >= 1e6) return `${(x / 1e6).toPrecision(digits)}M`;
  if (a >= 1e4) return `${(x / 1e3).toPrecision(digits)}k`;
  if (a >= 100) return x.toFixed(0);
  if (a === 0) return "0";
  return x.toPrecision(digits);
}

export function fmtRatio(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "-";
  return x >= 100 ? `${x.toFixed(0)}x` : x >= 10 ? `${x.toFixed(1)}x` : `${x.toFixed(2)}x`;
}

/** A Markdown table (it also reads well in a terminal): header row, then rows of cells. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => /^[-+]?[\d.]+[kMGx%]?\*?$|^[-.]$|^skip$|^FAIL$/.test(r[i] ?? "-")));
  const line = (cells: readonly string[]): string =>
    "| " + cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(" | ") + " |";
  const sep = "|" + widths.map((w, i) => (numeric[i] ? "-".repeat(w + 1) + ":" : "-".repeat(w + 2))).join("|") + "|";
  return [line(header), sep, ...rows.map(line)].join("\n");
}

export interface MachineInfo {
  cpu: string;
  logicalCpus: number;
  totalMemGiB: number;
  node: string;
  platform: string;
  loadAvg: number[];
  date: string;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? "unknown",
    logicalCpus: cpus.length,
    totalMemGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    loadAvg: os.loadavg().map((x) => Math.round(x * 100) / 100),
    date: new Date().toISOString(),
  };
}

export function loadAvgString(): string {
  return os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");
}

/** "2026-11-24T07-30-00" for file names. */
export function stamp(d = new Date()): string {
  return d.toISOString().slice(0, 19).replace(/:/g, "-");
}

export function writeJson(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(value, null, 2) + "\n");
}

/** Parse `--flag value`, `--flag=value` and bare `--flag` arguments. */
export function parseArgs(argv: readonly string[]): Map<string, string | true> {
  const out = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("--")) throw new Error(`Unexpected argument ${JSON.stringify(a)}; flags start with --`);
    const eq = a.indexOf("=");
    if (eq > 0) {
      out.set(a.slice(2, eq), a.slice(eq + 1));
    } else {
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith("--")) {
        out.set(a.slice(2), next);
        i++;
      } else {
        out.set(a.slice(2), true);
      }
    }
  }
  return out;
}

/** Positive integer from a flag value, with an error that names the flag. */
export function intFlag(args: Map<string, string | true>, name: string, fallback: number): number {
  const v = args.get(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v === true || !Number.isInteger(n) || n < 1) {
    throw new RangeError(`Expected a positive integer for --${name} but received ${JSON.stringify(v)}`);
  }
  return n;
}

/**
 * The native backend if it loads, else the reason (also when lib/backend/native itself is missing,
 * so the benchmark runs on a checkout where the addon is not built).
 */
export async function loadNativeBackend(): Promise<{ native?: import("../lib/backend/backend.js").Backend; reason?: string }> {
  try {
    const m = await import("../lib/backend/index.js");
    const native = m.nativeBackendIfAvailable();
    return native ? { native } : { reason: m.nativeUnavailableReason() ?? "unknown" };
  } catch (e) {
    return { reason: e instanceof Error ? e.message.split("\n")[0] : String(e) };
  }
}
