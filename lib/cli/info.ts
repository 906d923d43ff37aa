/** `blasnet info`: the backend in use, its BLAS build, threads and CPU. */
import type { Command } from "commander";
import { backendInfo } from "../backend/index.js";
import { blasnetVersion } from "../io/version.js";

export function registerInfo(program: Command): void {
  program
    .command("info")
    .description("show the backend in use (native or js), the BLAS build, threads and CPU")
    .option("--json", "print the information as JSON")
    .action((opts: { json?: boolean }) => {
      const info = backendInfo();
      const out = { blasnet: blasnetVersion(), node: process.version, ...info };
      if (opts.json) {
        process.stdout.write(JSON.stringify(out, null, 2) + "\n");
        return;
      }
      const lines = [
        `blasnet   ${out.blasnet} (Node ${out.node})`,
        `backend   ${info.backend}`,
        `BLAS      ${info.blas}`,
        `threads   ${info.threads}`,
        `CPU       ${info.cpu}`,
      ];
      if (info.fallbackReason) lines.push(`note      native backend unavailable: ${info.fallbackReason.split("\n")[0]}`);
      process.stdout.write(lines.join("\n") + "\n");
    });
}
