/**
 * The progress display of `fit`, on stderr by default (stdout stays free for a program's output):
 * - verbose 1 on a TTY: a live bar per epoch (cli-progress) with the running loss and the epoch's ETA,
 *   then the epoch's summary line;
 * - verbose 1 elsewhere (a pipe, a CI log) and verbose 2: one summary line per epoch;
 * - verbose 0: nothing.
 */
import cliProgress from "cli-progress";
import type { EpochLogs } from "./callbacks.js";

/**
 * How much fit prints: 0 nothing, 1 a live progress bar on a TTY (one line per epoch otherwise), 2 one
 * line per epoch.
 */
export type Verbosity = 0 | 1 | 2;

export class Progress {
  private bar: cliProgress.SingleBar | null = null;
  private readonly live: boolean;
  private epochStart = 0;

  constructor(
    private readonly verbose: Verbosity,
    private readonly epochs: number,
    private readonly stepsPerEpoch: number,
    private readonly stream: NodeJS.WritableStream = process.stderr,
  ) {
    this.live = verbose === 1 && (stream as { isTTY?: boolean }).isTTY === true;
  }

  epochBegin(epoch: number): void {
    this.epochStart = performance.now();
    if (!this.live) return;
    this.bar = new cliProgress.SingleBar(
      {
        format: `Epoch ${epoch + 1}/${this.epochs} [{bar}] {value}/{total} | loss {loss} | ETA {eta_formatted}`,
        stream: this.stream,
        barsize: 30,
        hideCursor: true,
        clearOnComplete: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.legacy,
    );
    this.bar.start(this.stepsPerEpoch, 0, { loss: "-" });
  }

  /** `step` steps of the epoch done; `loss` the running mean. */
  update(step: number, loss: number): void {
    this.bar?.update(step, { loss: formatNumber(loss) });
  }

  epochEnd(epoch: number, logs: EpochLogs): void {
    if (this.verbose === 0) return;
    if (this.bar) {
      this.bar.stop();
      this.bar = null;
    }
    const seconds = (performance.now() - this.epochStart) / 1000;
    const parts = Object.entries(logs).map(([k, v]) => `${k} ${formatNumber(v)}`);
    this.stream.write(`Epoch ${epoch + 1}/${this.epochs} - ${seconds.toFixed(seconds < 10 ? 2 : 1)}s - ${parts.join(" - ")}\n`);
  }

  /** Remove a live bar without a summary (training failed). */
  abort(): void {
    this.bar?.stop();
    this.bar = null;
  }
}

function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(3);
  return v.toFixed(4);
}
