/**
 * Backend selection end to end, each case in a fresh process (test/fixtures/select-backend.ts),
 * because the choice is made once per process from the environment:
 * - the addon cannot load (BLASNET_NATIVE_ADDON names a file that does not exist): the TypeScript
 *   backend with exactly one warning that says why and how to fix it, including the one command
 *   that builds the addon when blasnet is installed as a dependency;
 * - BLASNET_BACKEND=native, setBackend("native") or a model made with backend "native" when the
 *   addon cannot load: an error, not a silent fallback; BLASNET_BACKEND=js: the TypeScript backend
 *   without a warning;
 * - the addon loads: native by default with no warning; backendInfo() reports the backend, the
 *   OpenBLAS build, threads and the CPU; setThreads() changes the thread count it reports.
 */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { finished, nativeOrSkip } from "./helpers.js";

const TSX = createRequire(import.meta.url).resolve("tsx/cli");
const FIXTURE = path.resolve("test/fixtures/select-backend.ts");
const MISSING = path.join(mkdtempSync(path.join(os.tmpdir(), "blasnet-select-")), "build", "Release", "blasnet.node");

interface Outcome {
  action: string;
  name?: string;
  info?: { backend: string; blas: string; threads: number; cpu: string; fallbackReason?: string };
  error?: { name: string; message: string };
  warnings: { name: string; code?: string; message: string }[];
}

async function select(action: string, env: Record<string, string | undefined>): Promise<Outcome> {
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...env })) if (v !== undefined) childEnv[k] = v;
  const { code, stdout, stderr } = await finished(spawn(process.execPath, [TSX, FIXTURE, action], { env: childEnv, stdio: ["ignore", "pipe", "pipe"] }));
  if (code !== 0) throw new Error(`exit ${code}: ${stderr}`);
  try {
    return JSON.parse(stdout.trim()) as Outcome;
  } catch {
    throw new Error(`no JSON on stdout: ${stdout}\n${stderr}`);
  }
}

const UNLOADABLE = { BLASNET_NATIVE_ADDON: MISSING, BLASNET_BACKEND: undefined };

describe("backend selection when the addon cannot load", () => {
  it("falls back to TypeScript with one warning: why, and how to fix it (also as an installed dependency)", async () => {
    const r = await select("default", UNLOADABLE);
    expect(r.error, r.error?.message).toBeUndefined();
    expect(r.name).toBe("js");
    expect(r.info!.backend).toBe("js");
    // getBackend() was called twice and backendInfo() once: one warning.
    expect(r.warnings).toHaveLength(1);
    const w = r.warnings[0]!;
    expect(w.code).toBe("BLASNET_NATIVE_UNAVAILABLE");
    expect(w.message).toContain("using the TypeScript backend");
    // Why: not built, where it looked.
    expect(w.message).toContain("has not been built");
    expect(w.message).toContain(`${MISSING}: not found`);
    // How: the system packages, the build in a checkout, and the one command for a dependency.
    expect(w.message).toContain("sudo apt-get install -y libopenblas-dev cmake g++");
    expect(w.message).toContain("npm run build:native");
    expect(w.message).toContain("npm rebuild blasnet --ignore-scripts=false --foreground-scripts");
    expect(w.message).toContain("BLASNET_BACKEND=js");
    // backendInfo() carries the reason too.
    expect(r.info!.fallbackReason).toContain("has not been built");
  });

  it("BLASNET_BACKEND=native is an error with the reason, not a fallback", async () => {
    const r = await select("default", { ...UNLOADABLE, BLASNET_BACKEND: "native" });
    expect(r.name).toBeUndefined();
    expect(r.error?.message).toContain("The native backend was requested but cannot be used");
    expect(r.error?.message).toContain("has not been built");
    expect(r.error?.message).toContain("npm rebuild blasnet");
    expect(r.warnings).toEqual([]);
  });

  it('setBackend("native") is an error with the reason, not a fallback', async () => {
    const r = await select("native", UNLOADABLE);
    expect(r.name).toBeUndefined();
    expect(r.error?.message).toContain("The native backend was requested but cannot be used");
    expect(r.error?.message).toContain(MISSING);
  });

  it('a model created with backend "native" fails when it first needs the backend, with the reason', async () => {
    const r = await select("model", UNLOADABLE);
    expect(r.name).toBe("constructed");
    expect(r.error?.message).toContain('This model was created with backend "native", which cannot be used');
    expect(r.error?.message).toContain("has not been built");
    expect(r.warnings).toEqual([]);
  });

  it("BLASNET_BACKEND=js and setBackend(\"js\") choose TypeScript without a warning", async () => {
    const [env, call] = await Promise.all([select("default", { ...UNLOADABLE, BLASNET_BACKEND: "js" }), select("js", UNLOADABLE)]);
    for (const r of [env, call]) {
      expect(r.error, r.error?.message).toBeUndefined();
      expect(r.name).toBe("js");
      expect(r.info).toMatchObject({ backend: "js", threads: 1 });
      expect(r.info!.fallbackReason).toBeUndefined();
      expect(r.warnings).toEqual([]);
    }
  });

  it("an unknown BLASNET_BACKEND is an error naming the accepted values", async () => {
    const r = await select("default", { ...UNLOADABLE, BLASNET_BACKEND: "gpu" });
    expect(r.error?.message).toBe('Invalid BLASNET_BACKEND="gpu"; expected "native" or "js"');
  });
});

const native = nativeOrSkip();

describe.skipIf(!native)("backend selection when the addon loads", () => {
  it("native by default, no warning; backendInfo() reports backend, BLAS build, threads and CPU", async () => {
    const r = await select("default", { BLASNET_BACKEND: undefined, BLASNET_NATIVE_ADDON: undefined });
    expect(r.error, r.error?.message).toBeUndefined();
    expect(r.name).toBe("native");
    expect(r.warnings).toEqual([]);
    expect(r.info!.backend).toBe("native");
    expect(r.info!.blas).toMatch(/OpenBLAS/);
    expect(Number.isInteger(r.info!.threads) && r.info!.threads >= 1).toBe(true);
    expect(r.info!.cpu).toMatch(/\(kernels: (avx512|avx2|sse2)/);
    expect(r.info!.fallbackReason).toBeUndefined();
  });

  it("BLASNET_BACKEND=native loads it; setThreads(1) is what backendInfo() then reports", async () => {
    const r = await select("threads", { BLASNET_BACKEND: "native", BLASNET_NATIVE_ADDON: undefined, OPENBLAS_NUM_THREADS: "2" });
    expect(r.error, r.error?.message).toBeUndefined();
    expect(r.info).toMatchObject({ backend: "native", threads: 1 });
  });
});
