/**
 * Suggestions for misspelled flags: commander suggests flags a few letters away (`--epoch` ->
 * `--epochs`); this adds the names other tools use for the same thing (Keras' `batch_size`,
 * `validation_split`, `learning_rate`; PyTorch's `weight_decay`), in any of their spellings.
 */
import { Command, type ErrorOptions } from "commander";

/** Other tools' names (normalized: lower case, "_" and "-" dropped) -> blasnet's flag. */
const OTHER_NAMES: Readonly<Record<string, string>> = {
  batchsize: "--batch",
  validationsplit: "--val",
  valsplit: "--val",
  validation: "--val",
  learningrate: "--lr",
  epoch: "--epochs",
  numepochs: "--epochs",
  hiddenlayers: "--hidden",
  hiddensizes: "--hidden",
  layers: "--hidden",
  output: "--out",
  outdir: "--out",
  earlystopping: "--patience",
  clipnorm: "--clip-norm",
  clipvalue: "--clip-value",
  gradientclip: "--clip-norm",
  weightdecay: "--weight-decay",
  l2: "--weight-decay",
  epsilon: "--eps",
  beta: "--betas",
  dropoutrate: "--dropout",
  sep: "--delimiter",
  separator: "--delimiter",
  noheader: "--no-header",
  headerless: "--no-header",
  skiprows: "--skip-lines",
  skiplines: "--skip-lines",
  nathreshold: "--missing",
  na: "--missing",
  fillna: "--missing",
  dropna: "--missing",
  label: "--target",
  labels: "--target",
  y: "--target",
  lossfunction: "--loss",
  optim: "--optimizer",
  scheduler: "--schedule",
  lrschedule: "--schedule",
  lrscheduler: "--schedule",
};

const normalize = (flag: string): string => flag.replace(/^-+/, "").replace(/=.*$/, "").replace(/[-_]/g, "").toLowerCase();

/** blasnet's flag for another tool's `flag`, when the command has it; else null. */
export function otherToolFlag(flag: string, known: readonly string[]): string | null {
  const key = normalize(flag);
  const direct = known.find((k) => normalize(k) === key);
  if (direct && direct !== flag) return direct;
  const mapped = OTHER_NAMES[key];
  return mapped && known.includes(mapped) ? mapped : null;
}

/** The long flags a command accepts, its own and its parents'. */
function knownFlags(cmd: Command): string[] {
  const out: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) {
    for (const o of c.options) if (o.long) out.push(o.long);
  }
  return out;
}

/** A Command whose unknown-option errors also suggest blasnet's name for other tools' flags. */
export class BlasnetCommand extends Command {
  override createCommand(name?: string): BlasnetCommand {
    return new BlasnetCommand(name);
  }

  override error(message: string, errorOptions?: ErrorOptions): never {
    const m = errorOptions?.code === "commander.unknownOption" && !/Did you mean/.test(message) ? /unknown option '([^']+)'/.exec(message) : null;
    const alt = m ? otherToolFlag(m[1]!, knownFlags(this)) : null;
    return super.error(alt ? `${message}\n(Did you mean ${alt}?)` : message, errorOptions);
  }
}
