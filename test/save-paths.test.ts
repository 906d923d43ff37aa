/**
 * save, checkpoint and exportTorch given a path that cannot be a directory (a file, /dev/null, a
 * loop of symbolic links): an error naming the path and saying what to give instead, not mkdir's
 * "EEXIST: file already exists, mkdir '/dev/null'" (which fit passed on when a checkpoint failed);
 * in the CLI a loop of links is bad input (exit 1, one line), not an internal error with a trace.
 */
import { spawn } from "node:child_process";
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
