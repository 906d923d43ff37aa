/**
 * `blasnet predict model/ data.csv > out.csv`: predictions as CSV on stdout (or --out). Regression:
 * one column per target, "<target>_pred", in raw units. Classification: "<target>_pred" (the class
 * name) and "p_<class>" probability columns. --with-inputs copies the feature columns in front.
 */
import type { Command } from "commander";
import { AtomicFileWriter } from "../io/atomic-write.js";
import { addCsvReadingOptions, loadForData, type CsvReadingFlags } from "./model-data.js";
import { userInput } from "./errors.js";

/**
 * One CSV field, quoted when needed (RFC 4180). Text that a spreadsheet would run as a formula
 * (starting with =, +, -, @, a tab or a carriage return, and not a number such as -1) gets a
 * leading apostrophe, as OWASP's advice on CSV injection says, so opening the file runs nothing.
 */
export function csvField(s: string): string {
  if (/^[=+\-@\t\r]/.test(s) && !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}

/** A float32 value in 9 significant digits: enough to round-trip it exactly. */
function num(v: number): string {
  return String(Number(v.toPrecision(9)));
}

export interface PredictFlags extends CsvReadingFlags {
  out?: string;
  withInputs?: boolean;
}

export async function runPredict(modelDir: string, file: string, opts: PredictFlags): Promise<void> {
  const { model, manifest, data } = await loadForData(modelDir, file, false, opts);
  const p = userInput(file, () => model.predict(data.x));
  const info = manifest.data ?? {};
  const targets = info.targetNames ?? Array.from({ length: p.cols }, (_, j) => `y${j}`);
  const classes = info.classNames;
  // binaryCrossEntropy on two named classes: one output, the probability of the second class.
  const binaryClasses = classes !== undefined && classes.length === 2 && p.cols === 1;
  const header: string[] = opts.withInputs ? [...data.featureNames] : [];
  if (binaryClasses) header.push(`${targets[0]}_pred`, `p_${classes[1]}`);
  else if (classes) header.push(`${targets[0]}_pred`, ...classes.map((c) => `p_${c}`));
  else if (model.loss?.name === "binaryCrossEntropy") header.push(...targets.map((t) => `p_${t}`));
  else header.push(...targets.map((t) => `${t}_pred`));

  const lines = function* (): Generator<string> {
    yield header.map(csvField).join(",");
    for (let i = 0; i < p.rows; i++) {
      const fields: string[] = opts.withInputs ? Array.from(data.x.row(i), num) : [];
      const row = p.row(i);
      if (binaryClasses) fields.push(csvField(classes[row[0]! > 0.5 ? 1 : 0]!), num(row[0]!));
      else if (classes) {
        let best = 0;
        for (let j = 1; j < row.length; j++) if (row[j]! > row[best]!) best = j;
        fields.push(csvField(classes[best]!), ...Array.from(row, num));
      } else fields.push(...Array.from(row, num));
      yield fields.join(",");
    }
  };

  if (!opts.out) {
    for (const line of lines()) if (!process.stdout.write(line + "\n")) await new Promise((r) => process.stdout.once("drain", r));
    return;
  }
  // The file appears whole when done, and a link planted at its name is replaced, not written through.
  const out = await AtomicFileWriter.open(opts.out);
  try {
    for (const line of lines()) await out.write(line + "\n");
    await out.commit();
  } catch (e) {
    await out.abort();
    throw e;
  }
}

export function registerPredict(program: Command): void {
  const cmd = program
    .command("predict")
    .description("predict with a saved model: CSV in (the model's feature columns), CSV out")
    .argument("<model-dir>", "directory written by blasnet train")
    .argument("<data.csv>", "inputs (a target column, if present, is ignored)")
    .option("-o, --out <file>", "write to a file instead of stdout")
    .option("--with-inputs", "copy the feature columns into the output");
  addCsvReadingOptions(cmd).action(async (modelDir: string, file: string, opts: PredictFlags) => {
    await runPredict(modelDir, file, opts);
  });
}
