/**
 * `blasnet bench`: runs the benchmark suite, bench/run.ts in the source repository, in a child
 * process (through tsx), passing the remaining arguments on. The suite is not part of the npm
 * package; from an installed package the command says where to get it.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { constants } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import { packageRoot } from "../io/version.js";
import { UserError } from "./errors.js";

/** Where the suite lives (BLASNET_BENCH_SCRIPT overrides it, for tests). */
export function benchScript(): string {
  return process.env["BLASNET_BENCH_SCRIPT"] || join(packageRoot(), "bench", "run.ts");
}

export function registerBench(program: Command): void {
  program
    .command("bench")
    .description("run the benchmark suite (bench/run.ts of the source repository); its flags are passed on")
    .argument("[args...]", "flags for bench/run.ts, e.g. --quick, --only T2, --suite kernels (see the top of bench/run.ts)")
    .allowUnknownOption(true)
    .action(async (args: string[]) => {
      const script = benchScript();
      if (!existsSync(script)) {
        throw new UserError(
          `${script} not found: the benchmark suite ships with the source repository (git clone, then npm ci), not with the npm package`,
        );
      }
      let tsxCli: string;
      try {
        tsxCli = createRequire(import.meta.url).resolve("tsx/cli");
      } catch {
        throw new UserError("the benchmark suite runs through tsx, which is not installed: run `npm ci` in the repository first");
      }
      const code = await new Promise<number>((resolve, reject) => {
        const child = spawn(process.execPath, [tsxCli, script, ...args], { stdio: "inherit", cwd: packageRoot() });
        child.on("error", reject);
        // Killed by a signal: the shell's convention, 128 + the signal's number.
        child.on("exit", (c, signal) => resolve(c ?? (signal ? 128 + constants.signals[signal] : 1)));
      });
      if (code !== 0) process.exitCode = code;
    });
}
