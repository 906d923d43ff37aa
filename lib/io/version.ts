/**
 * blasnet's own version and package root, read from its package.json at run time (found by walking
 * up from this module, which works from the sources under lib/ and the build under dist/lib/).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let cached: { root: string; version: string } | undefined;

function find(): { root: string; version: string } {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const p = join(dir, "package.json");
    if (existsSync(p)) {
      try {
        const pkg = JSON.parse(readFileSync(p, "utf8")) as { name?: unknown; version?: unknown };
        if (pkg.name === "blasnet" && typeof pkg.version === "string") {
          cached = { root: dir, version: pkg.version };
          return cached;
        }
      } catch {
        // Not ours or unreadable: keep walking up.
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`blasnet: cannot find blasnet's package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** blasnet's version ("0.1.0"). */
export function blasnetVersion(): string {
  return find().version;
}

/** The directory holding blasnet's package.json. */
export function packageRoot(): string {
  return find().root;
}
