/**
 * A training plan's batch: the rows of one step copied (by run.order) into contiguous buffers
 * made once for the plan's batch size, so that the kernels read one dense (rows, width) block.
 */
import { classIndexError, type PlanSpec, type StepRun } from "../backend/plan.js";

export class PlanBatch {
  /** Inputs (batchSize, inFeatures). */
  readonly x: Float32Array;
  /** Targets (batchSize, outFeatures), for every loss but crossEntropy. */
  readonly y: Float32Array;
  /** Class indices (batchSize), for crossEntropy. */
  readonly labels: Int32Array;
  /** The rows' weights, and views of their first r values (made once per r). */
  private readonly weights: Float32Array;
  private readonly weightViews: Float32Array[] = [];
  private readonly inFeatures: number;
  private readonly outFeatures: number;

  constructor(spec: PlanSpec) {
    const B = spec.batchSize;
    this.inFeatures = spec.inFeatures;
    this.outFeatures = spec.outFeatures;
    this.x = new Float32Array(B * spec.inFeatures);
    this.y = new Float32Array(B * spec.outFeatures);
    this.labels = new Int32Array(B);
    this.weights = new Float32Array(B);
  }

  /** Copy rows order[first .. first + rows) of run.x and run.y into x and y (or labels). */
  gather(run: StepRun, first: number, rows: number, classLabels: boolean): void {
    const inF = this.inFeatures;
    const outF = this.outFeatures;
    const { x, y, order } = run;
    const xb = this.x;
    for (let r = 0; r < rows; r++) {
      const src = order[first + r]! * inF;
      const dst = r * inF;
      for (let j = 0; j < inF; j++) xb[dst + j] = x[src + j]!;
    }
    if (classLabels) {
      // Checked again as copied (checkRun checked them before the run): y over a SharedArrayBuffer
      // can change meanwhile, and the kernel's own check would name the row of the batch.
      const lb = this.labels;
      for (let r = 0; r < rows; r++) {
        const row = order[first + r]!;
        const c = (lb[r] = y[row]!);
        if (c < 0 || c >= outF) throw classIndexError(row, c, outF);
      }
    } else {
      const yb = this.y;
      for (let r = 0; r < rows; r++) {
        const src = order[first + r]! * outF;
        const dst = r * outF;
        for (let j = 0; j < outF; j++) yb[dst + j] = y[src + j]!;
      }
    }
  }

  /** The weights of the batch's rows (by order), as a view of `rows` values. */
  gatherWeights(w: Float32Array, order: Int32Array, first: number, rows: number): Float32Array {
    const wb = this.weights;
    for (let r = 0; r < rows; r++) wb[r] = w[order[first + r]!]!;
    return (this.weightViews[rows] ??= wb.subarray(0, rows));
  }
}
