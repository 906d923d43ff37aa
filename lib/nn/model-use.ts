/**
 * Which of a model's calls may start while another of its calls runs: the one table of these rules
 * (REFUSED), and the errors that name what runs and what to do.
 *
 * fit, evaluate and predictAsync run across turns of the event loop, and between their turns the
 * caller's code runs. Each reads the model's weights, normalization, loss and training plans batch
 * by batch, so while one runs, a call that changes them (another fit, compile, setWeights,
 * setNormalization, setTrainingState, dispose) is refused: one run sees one model, and no plan is
 * released under it. While the native fused plan runs fit's steps on a worker thread, the weights
 * change under any reader, so every call that reads them is refused too. Reading calls
 * (predict, evaluate, getWeights, save, ...) are allowed while fit runs between its steps: from a
 * callback, where the weights hold still. A reader started there whose batches fit then trains
 * between (it was not awaited) stops at its next batch (ModelUse.begin's `check`).
 */
/** How the errors name each call the table governs. */
const CALLS = {
  fit: "start fit()",
  compile: "compile",
  setWeights: "setWeights",
  setNormalization: "setNormalization",
  setTrainingState: "setTrainingState",
  dispose: "dispose",
  predict: "predict",
  predictAsync: "predictAsync",
  evaluate: "evaluate",
  getWeights: "read the weights",
  getTrainingState: "read the training state",
  save: "save",
} as const;

/** A call of the model that the table may refuse. */
export type ModelCall = keyof typeof CALLS;

/** What runs across turns of the event loop: fit (all of it), fit's steps off the main thread, evaluate, predictAsync. */
export type ModelRun = "fit" | "steps" | "evaluate" | "predictAsync";

/** The calls that change what a running fit, evaluate or predictAsync reads. */
const CHANGES: readonly ModelCall[] = ["fit", "compile", "setWeights", "setNormalization", "setTrainingState", "dispose"];

/** The table: what each run refuses to start while it runs. */
const REFUSED: Readonly<Record<ModelRun, ReadonlySet<ModelCall>>> = {
  fit: new Set(CHANGES),
  // Inside a fit (which refuses the changes): a worker thread writes the weights, so reading them
  // now would mix two steps.
  steps: new Set((Object.keys(CALLS) as ModelCall[]).filter((c) => !CHANGES.includes(c))),
  evaluate: new Set(CHANGES),
  predictAsync: new Set(CHANGES),
};

/** The order the runs are checked in: the first that refuses a call is the one its error names. */
const ORDER: readonly ModelRun[] = ["fit", "steps", "evaluate", "predictAsync"];

/** The error for `call` refused because `run` runs. */
function refusal(call: ModelCall, run: ModelRun): Error {
  const what = CALLS[call];
  if (run === "steps") {
    if (call === "save") return new Error("Cannot save while training steps are running off the main thread: save from a callback (e.g. checkpoint()) or after fit() resolves");
    return new Error(`Cannot ${what} while training steps are running off the main thread: call it from a callback or after fit() resolves`);
  }
  if (run === "fit") {
    if (call === "fit") return new Error("Cannot start fit(): this model is already training. Await the running fit() before starting another.");
    return new Error(`Cannot ${what} while fit() is running on this model: await the fit() promise first (or set model.stopTraining = true to end it early)`);
  }
  return new Error(`Cannot ${what} while ${run}() is running on this model: await the ${run}() promise first`);
}

/** A run begun by ModelUse.begin. */
export interface RunHandle {
  /**
   * Before each batch of an evaluate or predictAsync: throws if the model trained since the run
   * began (or trains now, off the main thread), so that its batches never mix two sets of weights.
   */
  check(): void;
  /** Ends the run (calling it again does nothing). */
  release(): void;
}

/** The runs under way on one model, checked against the table. */
export class ModelUse {
  private readonly counts: Record<Exclude<ModelRun, "steps">, number> = { fit: 0, evaluate: 0, predictAsync: 0 };

  constructor(private readonly model: { readonly _stepsRunning: boolean; readonly step: number }) {}

  /** True while `run` runs. */
  isRunning(run: ModelRun): boolean {
    return run === "steps" ? this.model._stepsRunning : this.counts[run] > 0;
  }

  /** Throws, naming what runs and what to do, unless the table lets `call` start now. */
  assertMay(call: ModelCall): void {
    for (const run of ORDER) {
      if (this.isRunning(run) && REFUSED[run].has(call)) throw refusal(call, run);
    }
  }

  /** Begins `run` (refused as the call of the same name would be); end it with the handle's release. */
  begin(run: Exclude<ModelRun, "steps">): RunHandle {
    this.assertMay(run);
    this.counts[run]++;
    const step = this.model.step;
    let released = false;
    return {
      check: () => {
        if (this.model._stepsRunning || this.model.step !== step) {
          const rows = run === "evaluate" ? "batches" : "rows";
          throw new Error(`The model trained while ${run}() ran, so its ${rows} would mix two sets of weights: await fit() before calling ${run}(), or await ${run}() inside the callback that started it`);
        }
      },
      release: () => {
        if (released) return;
        released = true;
        this.counts[run]--;
      },
    };
  }
}
