/**
 * Memory safety of a native fit against whatever JavaScript does to the arrays blasnet was given
 * or exposes while the worker runs (issue 13, items 1-3): transfers by structuredClone, by
 * postMessage and by ArrayBuffer.prototype.transfer, resizing, and out-of-range class labels
 * written mid-run. Each case runs in a child process (test/fixtures/fit-hostile.ts), since the
 * failure being guarded against is a crash of the whole process: the child must exit 0, fit must
 * end with a clear error or finish, and arrays allocated after a transfer (possibly in the memory
 * it freed) must be left as they were written.
 */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { finished, nativeOrSkip } from "./helpers.js";

const TSX_LOADER = createRequire(import.meta.url).resolve("tsx");
const FIXTURE = path.resolve("test/fixtures/fit-hostile.ts");
const PLAN_FIXTURE = path.resolve("test/fixtures/plan-hostile.ts");
// ArrayBuffer.prototype.transfer ships in Node 22; Node 20 has it behind a V8 flag.
const TRANSFER_FLAG = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === "function" ? [] : ["--harmony-rab-gsab-transfer"];

interface Outcome {
  action: string;
  acted: number;
  refused?: string;
  outcome: "finished" | "rejected";
  name?: string;
  message?: string;
  epochs?: number;
  /** plan-hostile.ts: what the plan said when asked to run again; a finished run's steps and whether its losses and parameters are finite. */
  after?: string;
  steps?: number;
  finiteLosses?: boolean;
  finiteParams?: boolean;
  sentinels: number;
  untouched: boolean;
}

async function hostile(action: string, fixture = FIXTURE): Promise<Outcome> {
  const child = spawn(process.execPath, ["--expose-gc", ...TRANSFER_FLAG, "--import", TSX_LOADER, fixture, action], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const { code, stdout, stderr } = await finished(child);
  expect(code, `child for ${action} died (-1: killed by a signal):\n${stderr}`).toBe(0);
  const r = JSON.parse(stdout.trim()) as Outcome;
  if (fixture === FIXTURE) expect(r.acted, "the action ran while fit did").toBeGreaterThan(0);
  expect(r.untouched, "arrays allocated after the action were overwritten").toBe(true);
  return r;
}

const TRANSFERRED = /^Training stopped at epoch \d, step \d+ of 256: the training data x holds 0 values, but 1048576 when fit started \(its ArrayBuffer was transferred, detached or resized\); fit reads x and y until it settles/;

describe.runIf(nativeOrSkip())("native fit while JavaScript changes its arrays", () => {
  it.each(["x-transfer-clone", "x-transfer-post", "x-transfer-method", "x-resize"])(
    "%s: the worker keeps its own copy; fit stops at the next run, naming x",
    async (action) => {
      const r = await hostile(action);
      expect(r.sentinels).toBeGreaterThan(0);
      expect(r.outcome).toBe("rejected");
      expect(r.message).toMatch(TRANSFERRED);
    },
    60_000,
  );

  it("y-transfer and labels-transfer: fit stops at the next run, naming y", async () => {
    for (const action of ["y-transfer", "labels-transfer"]) {
      const r = await hostile(action);
      expect(r.outcome).toBe("rejected");
      expect(r.message).toMatch(/^Training stopped at epoch \d, step \d+ of 256: the training data y holds 0 values, but \d+ when fit started/);
    }
  }, 60_000);

  it.each(["params-transfer-clone", "params-transfer-method", "grads-transfer", "rng-transfer"])(
    "%s: the model's training memory cannot be transferred; fit finishes",
    async (action) => {
      const r = await hostile(action);
      expect(r.refused).toMatch(/TypeError/);
      expect(r).toMatchObject({ outcome: "finished", epochs: 4 });
    },
    60_000,
  );

  it.each(["labels-mutate", "labels-shared-mutate"])(
    "%s: a class index written out of range mid-fit is caught in the worker's copy, never used",
    async (action) => {
      const r = await hostile(action);
      expect(r.outcome).toBe("rejected");
      expect(r.name).toBe("RangeError");
      expect(r.message).toMatch(/^Training stopped at epoch \d, step \d+ of 256: Invalid run\.y\[\d+\]: class (-5|1073741824); expected a class index in \[0, 10\)\. The data were checked when fit started/);
    },
    60_000,
  );

  it("values rewritten mid-fit (shared features, parameters) end the fit cleanly", async () => {
    // NaN written into the features reaches the loss (ReLU keeps NaN, as on the TypeScript backend),
    // so the fit either finishes or stops cleanly at the loss check.
    const shared = await hostile("x-shared-mutate");
    if (shared.outcome === "rejected") expect(shared.message).toMatch(/^Training stopped: the loss became NaN/);
    else expect(shared).toMatchObject({ outcome: "finished", epochs: 4 });
    const params = await hostile("params-mutate");
    if (params.outcome === "rejected") expect(params.message).toMatch(/^Training stopped: the loss became/);
  }, 60_000);
});

describe.runIf(nativeOrSkip())("the native fused plan used directly, over plain ArrayBuffers", () => {
  it("params transferred while a run is in flight: the worker wrote the plan's own copy; the run rejects naming params", async () => {
    const r = await hostile("params-transfer", PLAN_FIXTURE);
    expect(r.sentinels).toBe(4);
    expect(r.outcome).toBe("rejected");
    expect(r.message).toMatch(/^Cannot write back the results of runSteps: buffers\.params was detached \(transferred\) or resized while the run was in flight/);
    expect(r.after).toMatch(/buffers\.params was detached or resized after the plan was created; create a new plan/);
  }, 60_000);

  it("order and lr overwritten while a run is in flight: the worker uses the copies checked before it started", async () => {
    for (const action of ["order-mutate", "lr-mutate"]) {
      const r = await hostile(action, PLAN_FIXTURE);
      expect(r, action).toMatchObject({ outcome: "finished", steps: 64, finiteLosses: true, finiteParams: true });
    }
  }, 60_000);

  it("a getter on the run that transfers x: the lengths are read after every getter ran", async () => {
    const r = await hostile("getter-transfer-x", PLAN_FIXTURE);
    expect(r).toMatchObject({ outcome: "rejected", name: "RangeError", after: "ran" });
    expect(r.message).toMatch(/^Invalid run\.x: expected at least 1048576 values \(rows x inFeatures\) but received 0/);
  }, 60_000);

  it("a getter on the run that disposes the plan: checked after every getter ran", async () => {
    const r = await hostile("getter-dispose", PLAN_FIXTURE);
    expect(r).toMatchObject({ outcome: "rejected", message: "Cannot call runSteps: this training plan was disposed" });
  }, 60_000);
});
