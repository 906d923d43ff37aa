/**
 * save, checkpoint and exportTorch given a path that cannot be a directory (a file, /dev/null, a
 * loop of symbolic links): an error naming the path and saying what to give instead, not mkdir's
 * "EEXIST: file already exists, mkdir '/dev/null'" (which fit passed on when a checkpoint failed);
 * in the CLI a loop of links is bad input (exit 1, one line), not an internal error with a trace. A
 * path under /proc or /sys is refused at once: Node's recursive mkdir hung there.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { checkpoint } from "../lib/io/checkpoint.js";
import { saveModel } from "../lib/io/model-file.js";
import { exportTorch } from "../lib/io/torch-export.js";
import { dense } from "../lib/nn/layers.js";
import { Sequential } from "../lib/nn/sequential.js";
import { finished, tempDir } from "./helpers.js";

const dir = tempDir("blasnet-save-paths-");

function model(): Sequential {
  const m = new Sequential([dense(2)], { inputSize: 2, seed: 1, backend: "js" });
  m.compile({ loss: "mse", optimizer: "sgd" });
  return m;
}

describe.runIf(process.platform !== "win32")("writing a model where no directory can be", () => {
  it("a file, a path through a file, /dev/null and a symlink loop: named, with what to give", async () => {
    const file = join(dir, "a-file");
    await writeFile(file, "precious");
    await mkdir(join(dir, "loop"), { recursive: true });
    await symlink(join(dir, "loop", "b"), join(dir, "loop", "a"));
    await symlink(join(dir, "loop", "a"), join(dir, "loop", "b"));
    const cases: Array<[string, RegExp]> = [
      [file, /a-file: is a file \(or a path through a file\), not a directory: give the path of a directory to write into/],
      [join(file, "model"), /a-file\/model: is a file \(or a path through a file\), not a directory/],
      ["/dev/null", /^\/dev\/null: is a file \(or a path through a file\), not a directory/],
      [join(dir, "loop", "a"), /loop\/a: is a loop of symbolic links: give the path of a directory/],
    ];
    for (const [path, pattern] of cases) {
      await expect(saveModel(model(), path), path).rejects.toThrow(pattern);
      await expect(exportTorch(model(), path), path).rejects.toThrow(pattern);
    }
  });

  it("a checkpoint into a file: fit rejects with the same message", async () => {
    const file = join(dir, "ckpt-file");
    await writeFile(file, "precious");
    const m = model();
    await expect(m.fit([[1, 2]], [[1, 2]], { epochs: 1, verbose: 0, callbacks: [checkpoint({ dir: file, every: 1 })] })).rejects.toThrow(
      /ckpt-file: is a file \(or a path through a file\), not a directory/,
    );
  });
});

describe.runIf(process.platform !== "win32")("the CLI writing through a loop of symbolic links", () => {
  it("export-onnx: exit 1 and one line naming the path (exit 2 and a stack trace before)", async () => {
    const m = model();
    await saveModel(m, join(dir, "cli-model"));
    await mkdir(join(dir, "cli-loop"), { recursive: true });
    await symlink(join(dir, "cli-loop", "b"), join(dir, "cli-loop", "a"));
    await symlink(join(dir, "cli-loop", "a"), join(dir, "cli-loop", "b"));
    const tsx = createRequire(import.meta.url).resolve("tsx/cli");
    const run = await finished(
      spawn(process.execPath, [tsx, resolve("lib/cli/main.ts"), "export-onnx", join(dir, "cli-model"), join(dir, "cli-loop", "a", "m.onnx")], {
        env: { ...process.env, BLASNET_BACKEND: "js", NO_COLOR: "1" },
        stdio: ["ignore", "pipe", "pipe"],
      }),
    );
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(/^blasnet: error: cannot create directory ".*cli-loop\/a": too many levels of symbolic links \(a loop of links\) \(ELOOP\); choose another path/);
  }, 60_000);
});

/** `p`, or a rejection once `ms` have passed: a call that hangs fails the test instead of stalling it. */
function settlesWithin<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`${what} did not settle within ${ms} ms (hung)`)), ms)));
  return Promise.race([p, hung]).finally(() => clearTimeout(timer));
}

// On procfs, mkdir of a new name under a directory that exists fails with ENOENT; Node's recursive
// mkdir took that for a missing parent, created the parent (which exists) and retried, forever.
describe.runIf(process.platform === "linux" && existsSync("/proc/self"))("writing a model under /proc or /sys", () => {
  it("save, exportTorch and a checkpoint reject at once, naming the path (they hung before)", async () => {
    const cases: Array<[string, RegExp]> = [
      ["/proc/self/x", /^\/proc\/self\/x: cannot be created here \(ENOENT: its file system, such as \/proc or \/sys, does not take new directories\): give the path of a directory/],
      ["/proc/self/x/y/z", /^\/proc\/self\/x\/y\/z: cannot be created here \(ENOENT/],
      ["/proc/no-such-process/x", /^\/proc\/no-such-process\/x: cannot be created here \(ENOENT/],
      ["/sys/kernel/x", /^\/sys\/kernel\/x: cannot be created here \((EPERM|EACCES|EROFS): not writable\)/],
    ];
    for (const [path, pattern] of cases) {
      await expect(settlesWithin(saveModel(model(), path), 10_000, `saveModel(${path})`), path).rejects.toThrow(pattern);
      await expect(settlesWithin(exportTorch(model(), path), 10_000, `exportTorch(${path})`), path).rejects.toThrow(pattern);
    }
    const fitting = model().fit([[1, 2]], [[1, 2]], { epochs: 1, verbose: 0, callbacks: [checkpoint({ dir: "/proc/self/ckpt", every: 1 })] });
    await expect(settlesWithin(fitting, 10_000, "fit with a checkpoint under /proc")).rejects.toThrow(/^\/proc\/self\/ckpt: cannot be created here \(ENOENT/);
  }, 60_000);

  it("the CLI: train --out /proc/self/x is exit 1 and one line naming it (it hung before)", async () => {
    await writeFile(join(dir, "tiny.csv"), "a,b,y\n1,2,3\n4,5,6\n7,8,9\n");
    const tsx = createRequire(import.meta.url).resolve("tsx/cli");
    const run = await finished(
      spawn(process.execPath, [tsx, resolve("lib/cli/main.ts"), "train", join(dir, "tiny.csv"), "--target", "y", "--epochs", "1", "--out", "/proc/self/x", "--no-plot", "--verbose", "0"], {
        env: { ...process.env, BLASNET_BACKEND: "js", NO_COLOR: "1" },
        stdio: ["ignore", "pipe", "pipe"],
        timeout: 30_000,
      }),
    );
    expect(run.code, `killed after 30 s (hung)? ${run.stderr}`).toBe(1);
    expect(run.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(/^blasnet: error: cannot create directory "\/proc\/self\/x": no such file or directory \(ENOENT\)/);
  }, 60_000);
});
