/**
 * Errors and exit codes of the command line.
 *
 * Exit codes: 0 success; 1 a user mistake (a missing or malformed file, a bad flag value, an unknown
 * column, training that diverged), reported as one line on stderr without a stack trace; 2 an
 * internal error (a bug), reported with its stack. `--debug` prints stacks for everything.
 */
import { InvalidArgumentError } from "commander";
import { CsvError } from "../data/csv.js";
import { ModelFileError } from "../io/safetensors.js";

export const EXIT_OK = 0;
export const EXIT_USER = 1;
export const EXIT_INTERNAL = 2;

/** A mistake in what the user asked for: reported as one line, exit code 1. */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UserError";
  }
}

/**
 * Failures of a file or directory the user named (an output path under a file, no permission, a
 * full or read-only disk): Node's system error codes.
 */
const PATH_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: "no such file or directory",
  EEXIST: "a file with that name already exists (a directory is needed there)",
  ENOTDIR: "a part of the path is a file, not a directory",
  EISDIR: "it is a directory (a file is needed there)",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  EROFS: "read-only file system",
  ENAMETOOLONG: "file name too long",
  ELOOP: "too many levels of symbolic links (a loop of links)",
};

/** A system error about a path the user gave, or null. */
export function pathError(e: unknown): string | null {
  const err = e as NodeJS.ErrnoException | null;
  if (!(err instanceof Error) || typeof err.code !== "string" || !(err.code in PATH_ERRORS)) return null;
  const where = typeof err.path === "string" ? err.path : "";
  const what = err.syscall === "mkdir" ? "cannot create directory" : err.syscall === "open" ? "cannot open" : err.syscall ? `cannot ${err.syscall}` : "cannot access";
  return `${what} ${where ? JSON.stringify(where) : ""}: ${PATH_ERRORS[err.code]} (${err.code}); choose another path or fix its permissions`.replace("  ", " ");
}

/** True for errors that describe bad input rather than a bug. */
export function isUserError(e: unknown): e is Error {
  return e instanceof UserError || e instanceof CsvError || e instanceof ModelFileError || pathError(e) !== null;
}

/**
 * Run `fn`; a TypeError/RangeError it throws is the library rejecting a value the user chose
 * (a layer size, a learning rate...), so it becomes a UserError prefixed with `what`.
 */
export function userInput<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof TypeError || e instanceof RangeError) throw new UserError(`${what}: ${e.message}`);
    throw e;
  }
}

/** Same as userInput, for async work. */
export async function userInputAsync<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof TypeError || e instanceof RangeError) throw new UserError(`${what}: ${e.message}`);
    throw e;
  }
}

// --- Flag value parsers for commander (they throw InvalidArgumentError: commander prints one line) ---

export function parseInteger(min: number, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!/^[+-]?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer in [${min}, ${max === Number.MAX_SAFE_INTEGER ? "∞" : max}].`);
    }
    return n;
  };
}

export function parsePositiveNumber(v: string): number {
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("expected a number > 0 (e.g. 1e-3).");
  return n;
}

export function parseNonNegativeNumber(v: string): number {
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError("expected a number >= 0 (e.g. 0.9).");
  return n;
}

/** "0.9,0.999" -> [0.9, 0.999]. */
export function parsePair(v: string): [number, number] {
  const parts = v.split(",").map((p) => p.trim());
  const out = parts.map(Number);
  if (parts.length !== 2 || parts.some((p) => p === "") || out.some((n) => !Number.isFinite(n))) {
    throw new InvalidArgumentError('expected two comma-separated numbers such as "0.9,0.999".');
  }
  return [out[0]!, out[1]!];
}

/** One delimiter character; "\t" and "tab" for a tab. */
export function parseDelimiter(v: string): string {
  const d = v === "\\t" || v.toLowerCase() === "tab" ? "\t" : v;
  if ([...d].length !== 1 || d === '"') throw new InvalidArgumentError('expected one character such as ";" or "\\t" (a tab), not a quote.');
  return d;
}

export function parseFraction(v: string): number {
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n < 0 || n >= 1) {
    throw new InvalidArgumentError("expected a fraction in [0, 1) (e.g. 0.2 holds out the last 20% of rows).");
  }
  return n;
}

/** "64,32" -> [64, 32]; "" or "none" -> [] (no hidden layer: a linear model). */
export function parseSizes(v: string): number[] {
  const s = v.trim();
  if (s === "" || s === "none" || s === "0") return [];
  const parts = s.split(",").map((p) => p.trim());
  const out = parts.map((p) => Number(p));
  if (parts.some((p) => !/^\d+$/.test(p)) || out.some((n) => !Number.isSafeInteger(n) || n < 1)) {
    throw new InvalidArgumentError('expected comma-separated positive integers such as "64,64" (or "none").');
  }
  return out;
}

/** "a,b" -> ["a", "b"], rejecting empty names. */
export function parseList(v: string): string[] {
  const out = v.split(",").map((p) => p.trim());
  if (out.some((p) => p === "")) throw new InvalidArgumentError('expected comma-separated column names such as "x1,x2".');
  return out;
}

export function oneOf<T extends string>(values: readonly T[]): (v: string) => T {
  return (v: string) => {
    if (!(values as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected one of: ${values.join(", ")}.`);
    return v as T;
  };
}
