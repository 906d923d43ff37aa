#!/usr/bin/env node
/**
 * The `blasnet` executable (package.json "bin": dist/lib/cli/main.js). See program.ts for the
 * commands and exit codes; during development run it with `npx tsx lib/cli/main.ts`.
 */
import { main } from "./program.js";

// `blasnet predict ... | head`: a closed pipe ends the output, not in an error.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});
process.exitCode = await main(process.argv);
