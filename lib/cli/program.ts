/**
 * The blasnet command line program (commander): the commands and the error / exit-code policy.
 *
 * Exit codes: 0 success; 1 a user mistake (missing file, bad flag value, unknown column, malformed
 * model or CSV file, training that diverged), reported as one line on stderr; 2 an internal error,
 * reported with its stack trace. `--debug` prints stack traces for every error.
 */
import { CommanderError, type Command } from "commander";
import { setBackend, setThreads } from "../backend/index.js";
import { blasnetVersion } from "../io/version.js";
import { registerBench } from "./bench.js";
import { EXIT_INTERNAL, EXIT_USER, isUserError, oneOf, parseInteger, pathError, UserError } from "./errors.js";
import { registerEvaluate } from "./evaluate.js";
import { registerExportOnnx } from "./export-onnx.js";
import { registerExportTorch } from "./export-torch.js";
import { registerImportTorch } from "./import-torch.js";
import { registerInfo } from "./info.js";
import { registerPredict } from "./predict.js";
import { BlasnetCommand } from "./suggest.js";
import { registerTrain } from "./train.js";

export function buildProgram(): Command {
  const program = new BlasnetCommand();
  program
    .name("blasnet")
    .description("Train, evaluate and export fully connected neural networks on the CPU (OpenBLAS or TypeScript).")
    .version(blasnetVersion(), "-V, --version")
    .option("--backend <name>", "native or js (default: native when the addon loads)", oneOf(["native", "js"] as const))
    .option("--threads <n>", "BLAS / kernel threads", parseInteger(1, 1024))
    .option("--debug", "print stack traces for all errors")
    .showSuggestionAfterError(true)
    // Before the commands are added: they inherit it (as they do the suggestion setting above).
    .exitOverride()
    .addHelpText(
      "after",
      "\nExit codes: 0 success, 1 bad input (one line on stderr), 2 internal error.\n" +
        "Run `blasnet <command> --help` for a command's options.",
    )
    .hook("preAction", (cmd) => {
      const o = cmd.opts<{ backend?: "native" | "js"; threads?: number }>();
      try {
        if (o.backend) setBackend(o.backend);
        if (o.threads) setThreads(o.threads);
      } catch (e) {
        throw new UserError((e as Error).message);
      }
    });
  registerTrain(program);
  registerEvaluate(program);
  registerPredict(program);
  registerExportOnnx(program);
  registerExportTorch(program);
  registerImportTorch(program);
  registerInfo(program);
  registerBench(program);
  return program;
}

/** Run the CLI with `argv` (node, script, ...args); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const debug = argv.includes("--debug");
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander already printed its message (or the help / version text).
      return e.exitCode === 0 ? 0 : EXIT_USER;
    }
    if (isUserError(e)) {
      const message = debug ? e.stack : (pathError(e) ?? e.message).replace(/\s*\n\s*/g, " ");
      process.stderr.write(`blasnet: error: ${message}\n`);
      return EXIT_USER;
    }
    process.stderr.write(`blasnet: internal error (please report it with this trace):\n${(e as Error)?.stack ?? String(e)}\n`);
    return EXIT_INTERNAL;
  }
}

