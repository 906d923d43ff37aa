/**
 * Finds and loads the native addon (build/Release/blasnet.node), in one place.
 *
 * The addon is located from the package root: the nearest directory above this file whose
 * package.json is named "blasnet" (so it works from lib/ under tsx or vitest and from the compiled
 * dist/lib/). Every candidate is tried and every error kept; when none loads, the thrown Error says
 * why (not built, OpenBLAS missing, wrong architecture, built for another Node ...) and how to fix it.
 *
 * `BLASNET_NATIVE_ADDON=/path/to/blasnet.node` loads that file instead (e.g. a node-gyp build).
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { checkAddonKinds } from "./kind-table.js";
import { REQUIRED_EXPORTS, type NativeAddon } from "./binding.js";

/** One place the addon was looked for, and what happened there. */
export interface LoadAttempt {
  path: string;
  /** The error, or undefined when the file does not exist. */
  error?: Error;
}

/** Why loading failed, as far as the errors tell. */
export type LoadFailureKind = "not-built" | "openblas-missing" | "wrong-architecture" | "abi-mismatch" | "other";

const require = createRequire(import.meta.url);

let cached: NativeAddon | undefined;
let cachedError: Error | undefined;

/** The addon, loaded once. Throws an Error explaining why and how to fix it when it cannot load. */
export function loadAddon(): NativeAddon {
  if (cached) return cached;
  if (cachedError) throw cachedError;
  try {
    cached = loadFrom(addonCandidates());
    return cached;
  } catch (e) {
    cachedError = e instanceof Error ? e : new Error(String(e));
    throw cachedError;
  }
}

/** The blasnet package root: the nearest directory above `from` with a package.json named "blasnet". */
export function findPackageRoot(from: string = path.dirname(fileURLToPath(import.meta.url))): string | undefined {
  let dir = path.resolve(from);
  for (;;) {
    const pkg = path.join(dir, "package.json");
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, "utf8")) as { name?: unknown }).name === "blasnet") return dir;
      } catch {
        // An unreadable package.json is not ours; keep walking up.
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Where the addon may be, in the order tried. */
export function addonCandidates(): string[] {
  const override = process.env["BLASNET_NATIVE_ADDON"];
  if (override !== undefined && override !== "") return [path.resolve(override)];
  const root = findPackageRoot();
  if (root === undefined) {
    throw new Error(
      `blasnet: cannot locate the package root (no package.json named "blasnet" above ` +
        `${path.dirname(fileURLToPath(import.meta.url))}), so the native addon cannot be found.\n` +
        `Set BLASNET_NATIVE_ADDON=/path/to/blasnet.node, or BLASNET_BACKEND=js to use the TypeScript kernels.`,
    );
  }
  return [path.join(root, "build", "Release", "blasnet.node"), path.join(root, "build", "Debug", "blasnet.node")];
}

/** Load the first candidate that works; otherwise throw the explanation of every attempt. */
export function loadFrom(candidates: readonly string[]): NativeAddon {
  const attempts: LoadAttempt[] = [];
  for (const file of candidates) {
    if (!existsSync(file)) {
      attempts.push({ path: file });
      continue;
    }
    try {
      const addon = require(file) as NativeAddon;
      const missing = REQUIRED_EXPORTS.filter((name) => typeof addon[name] !== "function");
      if (missing.length > 0) {
        throw new Error(`the addon does not export ${missing.join(", ")} (built from older sources?)`);
      }
      const difference = checkAddonKinds(addon.kinds());
      if (difference !== undefined) {
        throw new Error(`the addon's kind codes differ from this blasnet's registry: ${difference} (built from older sources?)`);
      }
      return addon;
    } catch (e) {
      attempts.push({ path: file, error: e instanceof Error ? e : new Error(String(e)) });
    }
  }
  const log = candidates[0] === undefined ? undefined : path.join(path.dirname(path.dirname(candidates[0])), "install-failure.log");
  throw new Error(explainLoadFailure(attempts, log !== undefined && existsSync(log) ? installFailureSummary(readFileSync(log, "utf8")) : undefined));
}

/**
 * The reason an install-time build failed, from build/install-failure.log (written by
 * scripts/install-native.mjs, whose output npm hides): its cause and the build output's error lines.
 */
export function installFailureSummary(log: string): string {
  const lines = log.split("\n");
  const cause = lines.find((l) => l.startsWith("cause: "))?.slice(7) ?? "unknown";
  const output = lines.slice(lines.indexOf("output (last lines):") + 1).filter((l) => l.trim() !== "");
  const errors = [...new Set(output.filter((l) => /error|not found|could not|cannot|missing|not available/i.test(l)))];
  return [cause, ...(errors.length > 0 ? errors : output).slice(-6)].join("\n");
}

/**
 * Classify one load error by its message (dlopen's and Node's wording). `file` is the addon that
 * was tried: glibc reports an ELF built for another machine as "<file>: cannot open shared object
 * file", as if the existing file were missing.
 */
export function classifyLoadError(error: Error | undefined, file?: string): LoadFailureKind {
  if (error === undefined) return "not-built";
  const msg = error.message;
  if (file !== undefined && msg.includes(`${file}: cannot open shared object file`) && existsSync(file)) {
    return "wrong-architecture";
  }
  if (/libopenblas[^:]*: cannot open shared object file/i.test(msg) || /Library not loaded: .*openblas/i.test(msg)) {
    return "openblas-missing";
  }
  if (/wrong ELF class|invalid ELF header|ELF file'?s? (machine|class)|wrong architecture|incompatible architecture|Exec format error|not a valid Win32 application/i.test(msg)) {
    return "wrong-architecture";
  }
  if (/NODE_MODULE_VERSION|undefined symbol|Module did not self-register|older sources/i.test(msg)) return "abi-mismatch";
  return "other";
}

const INSTALL = "sudo apt-get install -y libopenblas-dev cmake g++";
const BUILD_CHECKOUT = "npm run build:native";
const BUILD_DEPENDENCY = "npm rebuild blasnet --ignore-scripts=false --foreground-scripts";

/** The message thrown when the addon cannot be loaded: every attempt, the likely cause, the fix. */
export function explainLoadFailure(attempts: readonly LoadAttempt[], installFailure?: string): string {
  const kinds = attempts.map((a) => classifyLoadError(a.error, a.path));
  // The most specific cause wins: a file that exists and fails says more than a missing one.
  const order: LoadFailureKind[] = ["openblas-missing", "wrong-architecture", "abi-mismatch", "other", "not-built"];
  const kind = order.find((k) => kinds.includes(k)) ?? "not-built";
  const tried = attempts
    .map((a) => `  ${a.path}: ${a.error ? a.error.message.split("\n")[0] : "not found"}`)
    .join("\n");
  const build =
    `  then build the addon:\n` +
    `    in a blasnet checkout:                 ${BUILD_CHECKOUT}\n` +
    `    with blasnet installed as a dependency: ${BUILD_DEPENDENCY}\n` +
    `    (npm skips blasnet's install script under --ignore-scripts or when scripts are not allowed;\n` +
    `     this command runs it explicitly. With npm 11's allowScripts, \`npm install-scripts approve blasnet\`\n` +
    `     lets later installs build it.)`;
  let why: string;
  let fix: string;
  switch (kind) {
    case "not-built":
      why = installFailure
        ? `the native addon was not built: the build at install time failed (build/install-failure.log):\n${installFailure.replace(/^/gm, "  ")}`
        : "the native addon has not been built (no build/Release/blasnet.node).";
      fix = `  ${INSTALL}\n${build}`;
      break;
    case "openblas-missing":
      why = "the addon is built but the OpenBLAS shared library (libopenblas.so.0) is not installed.";
      fix = `  ${INSTALL}\n  (no rebuild needed once libopenblas is installed)`;
      break;
    case "wrong-architecture":
      why = `the addon was built for another CPU architecture or OS (this is ${process.platform}-${process.arch}).`;
      fix = `  ${INSTALL}\n  rebuild it on this machine:\n${build.split("\n").slice(1).join("\n")}`;
      break;
    case "abi-mismatch":
      why = `the addon was built for another Node.js or from other sources (this is Node ${process.version}).`;
      fix = `  rebuild it:\n${build.split("\n").slice(1).join("\n")}`;
      break;
    case "other":
      why = "the addon failed to load (the error is listed under Tried).";
      fix = `  ${INSTALL}\n${build}`;
      break;
  }
  return (
    `blasnet: cannot load the native addon: ${why}\n` +
    `Tried:\n${tried}\n` +
    `Fix:\n${fix}\n` +
    `Or set BLASNET_BACKEND=js to use the TypeScript kernels (slower).`
  );
}
