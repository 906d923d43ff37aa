/**
 * How a model directory is replaced on disk, so that a kill or a failure at any instant leaves the
 * old model or the new one loadable, never an error and never a mix:
 *
 * 1. The weights go to a new, uniquely named file `.model.<pid>.<random>.safetensors`, created
 *    exclusively (no existing file or link is ever written through), fsynced, and the directory
 *    fsynced. Nothing the current model uses is touched.
 * 2. model.json, which names that weights file and records its size and SHA-256, is written to a
 *    temporary file, fsynced, and renamed over model.json. That single rename is the switch: before
 *    it model.json names the old weights, after it the new ones.
 * 3. `model.safetensors` is replaced by a hard link to (or, where links are not supported, a copy
 *    of) the current weights, for tools that open that name. blasnet itself loads the file
 *    model.json names, so this step is a convenience and may lag behind after a kill.
 * 4. Stale files are removed (also before step 1): temporary files and weights files that model.json
 *    does not name, when the process whose pid is in the name is gone or is this process and no save
 *    of it is using the file. Saves running concurrently, in this process or others, therefore never
 *    remove each other's files, and the last rename of model.json wins whole.
 *
 * Loading reads model.json, then the weights file it names; if that file vanished because a
 * concurrent save replaced the model, it reads model.json again.
 */
import { readdir, rename, unlink, link } from "node:fs/promises";
import { join, resolve } from "node:path";
import { describe } from "../core/matrix.js";
import { isStale, liveSnapshot, makeDirectory, markLive, syncDir, tempName, uniqueName, writeNewFile, type WriteFaults } from "./atomic-write.js";
import { openRegularFile, readExactly } from "../core/regular-file.js";
import { ModelFileError } from "./safetensors.js";

export const MANIFEST_FILE = "model.json";
/** The weights under their well-known name (a link to the current weights file since format 2). */
export const WEIGHTS_FILE = "model.safetensors";

/** The largest model.json accepted, and written. */
export const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

const VERSIONED_WEIGHTS = /^\.model\.\d+\.[0-9a-f]{12}\.safetensors$/;
const TEMP_FILE = /^\..+\.\d+\.[0-9a-f]{8,}\.tmp$/;

/** The error for a weights file whose size differs from the manifest's record. */
export function sizeMismatch(weightsPath: string, actual: number, jsonPath: string, expected: number): ModelFileError {
  return new ModelFileError(
    weightsPath,
    `is ${actual} bytes but ${jsonPath} expects ${expected}: the two files are from different saves (an interrupted save, or a file replaced by hand)`,
  );
}

/** model.json's text as a JSON value, or a ModelFileError naming it. */
export function parseManifestText(text: string, jsonPath: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ModelFileError(jsonPath, `not valid JSON (${(e as Error).message})`);
  }
}

/** The weights file a parsed manifest names (WEIGHTS_FILE when it names none), checked to be a plain file name. */
export function weightsFileOf(manifest: unknown, jsonPath: string): string {
  const w = manifest !== null && typeof manifest === "object" ? (manifest as Record<string, unknown>)["weights"] : undefined;
  const file = w !== null && typeof w === "object" ? (w as Record<string, unknown>)["file"] : undefined;
  if (file === undefined) return WEIGHTS_FILE;
  if (typeof file !== "string" || file === "" || file === "." || file === ".." || /[/\\\0]/.test(file) || file.length > 255) {
    throw new ModelFileError(jsonPath, `"weights.file" must be the name of a file in the model's directory, received ${describe(file)}`);
  }
  return file;
}

/**
 * The bytes of the regular file `path`, opened once and checked by its own status (no window in
 * which a FIFO or a device could take its place after a check), and its size checked against
 * `expected` (the manifest's record) or `max` before anything is read; a ModelFileError naming it
 * otherwise.
 */
async function readChecked(path: string, what: string, expected?: number, jsonPath?: string, max = Infinity): Promise<Uint8Array> {
  const file = await openRegularFile(path, (problem) =>
    new ModelFileError(
      path,
      problem === "was not found"
        ? `${what} not found (is this a saved blasnet model directory?)`
        : problem.startsWith("is ")
          ? `${what} is not a regular file`
          : `cannot read ${what} (${problem.replace(/^cannot be opened \((.*)\)$/, "$1")})`,
    ),
  );
  try {
    if (expected !== undefined && file.size !== expected) throw sizeMismatch(path, file.size, jsonPath!, expected);
    if (file.size > max) throw new ModelFileError(path, `${what} is ${file.size} bytes, more than the ${max}-byte limit`);
    return await readExactly(file, 0, file.size, (problem) => new ModelFileError(path, `cannot read ${what}: it ${problem}`));
  } finally {
    await file.handle.close();
  }
}

async function readManifest(jsonPath: string): Promise<{ text: string; value: unknown }> {
  const bytes = await readChecked(jsonPath, MANIFEST_FILE, undefined, undefined, MAX_MANIFEST_BYTES);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ModelFileError(jsonPath, "not valid UTF-8 text");
  }
  return { text, value: parseManifestText(text, jsonPath) };
}

/**
 * Read a model directory: model.json's text and the bytes of the weights file it names. With
 * `checkSize`, the weights file's size is compared with the manifest's record before it is read.
 */
export async function readModelDir(
  dir: string,
  checkSize: boolean,
): Promise<{ jsonPath: string; jsonText: string; weightsPath: string; weightBytes: Uint8Array }> {
  const jsonPath = join(dir, MANIFEST_FILE);
  for (let attempt = 0; ; attempt++) {
    const { text, value } = await readManifest(jsonPath);
    const weightsPath = join(dir, weightsFileOf(value, jsonPath));
    const w = (value as { weights?: { bytes?: unknown } } | null)?.weights;
    const bytes = checkSize && w !== null && typeof w === "object" && typeof w.bytes === "number" ? w.bytes : undefined;
    try {
      return { jsonPath, jsonText: text, weightsPath, weightBytes: await readChecked(weightsPath, "the weights file", bytes, jsonPath) };
    } catch (e) {
      // A concurrent save may have switched model.json and removed the weights we were about to read.
      if (attempt >= 10 || !(e instanceof ModelFileError)) throw e;
      const again = await readManifest(jsonPath).catch(() => null);
      if (again === null || again.text === text) throw e;
    }
  }
}

/** The weights file model.json names now; undefined when it cannot be read (then no weights file is removed). */
async function currentWeightsFile(dir: string): Promise<string | undefined> {
  try {
    const jsonPath = join(dir, MANIFEST_FILE);
    return weightsFileOf((await readManifest(jsonPath)).value, jsonPath);
  } catch (e) {
    return e instanceof ModelFileError && /not found/.test(e.message) ? "" : undefined;
  }
}

/**
 * Remove stale temporary files and unused versioned weights from `dir` (see the file comment);
 * best effort. The order matters: list, then take the snapshot of live files, then read model.json,
 * so a file that is committed meanwhile is either live in the snapshot or named by model.json.
 */
export async function removeStaleFiles(dir: string): Promise<number> {
  dir = resolve(dir);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  const candidates = names.filter((n) => TEMP_FILE.test(n) || VERSIONED_WEIGHTS.test(n));
  if (candidates.length === 0) return 0;
  const liveNow = liveSnapshot();
  const current = await currentWeightsFile(dir);
  let removed = 0;
  for (const n of candidates) {
    if (VERSIONED_WEIGHTS.test(n) && (current === undefined || n === current)) continue;
    const p = join(dir, n);
    if (!isStale(p, liveNow)) continue;
    await unlink(p).then(
      () => void removed++,
      () => undefined,
    );
  }
  return removed;
}

/**
 * Replace the model in `dir` (created if needed) by `weights` and the manifest `manifestFor(name)`
 * returns for the weights file's name, following the steps in the file comment. `faults.at` is
 * called before every step (tests).
 */
export async function writeModelDir(dir: string, weights: Uint8Array, manifestFor: (weightsFile: string) => string, faults?: WriteFaults): Promise<void> {
  dir = resolve(dir);
  await makeDirectory(dir);
  faults?.at?.("cleanup", dir);
  await removeStaleFiles(dir);

  const name = uniqueName(".model") + ".safetensors";
  const weightsPath = join(dir, name);
  const jsonPath = join(dir, MANIFEST_FILE);
  const jsonTemp = tempName(jsonPath);
  const doneWeights = markLive(weightsPath);
  const doneJson = markLive(jsonTemp);
  let committed = false;
  try {
    await writeNewFile(weightsPath, weights, weightsPath, faults);
    faults?.at?.("sync-dir", dir);
    await syncDir(dir);
    await writeNewFile(jsonTemp, Buffer.from(manifestFor(name), "utf8"), jsonPath, faults);
    faults?.at?.("rename", jsonPath);
    await rename(jsonTemp, jsonPath); // the switch
    committed = true;
    faults?.at?.("sync-dir", dir);
    await syncDir(dir);
    await linkWellKnown(dir, weightsPath, weights, faults);
  } catch (e) {
    if (!committed) {
      await unlink(jsonTemp).catch(() => undefined);
      await unlink(weightsPath).catch(() => undefined);
    }
    throw e;
  } finally {
    doneWeights();
    doneJson();
  }
  faults?.at?.("cleanup", dir);
  await removeStaleFiles(dir);
}

/** Point `model.safetensors` at the current weights: a hard link where supported, else a copy. */
async function linkWellKnown(dir: string, weightsPath: string, weights: Uint8Array, faults?: WriteFaults): Promise<void> {
  const target = join(dir, WEIGHTS_FILE);
  const tmp = tempName(target);
  const done = markLive(tmp);
  try {
    faults?.at?.("link", target);
    try {
      await link(weightsPath, tmp);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EXDEV" && code !== "EMLINK" && code !== "ENOSYS") throw e;
      await writeNewFile(tmp, weights, target, faults);
    }
    faults?.at?.("rename", target);
    await rename(tmp, target);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  } finally {
    done();
  }
}
