/**
 * examples/fashion-mnist-cnn.ts run for real on a small subset of Fashion-MNIST (the Debian package
 * dataset-fashion-mnist, installed by set-up and in CI): the CNN learns, the MLP is trained beside
 * it, and the report prints both with their parameter counts.
 */
import { describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { runFashionMnistCnn } from "../examples/fashion-mnist-cnn.js";
import { FASHION_MNIST_DEBIAN_DIR } from "../lib/data/fashion-mnist.js";
import { nativeOrSkip } from "./helpers.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const run = promisify(execFile);
const haveFashion = existsSync(join(FASHION_MNIST_DEBIAN_DIR, "train-images-idx3-ubyte.gz")) || !!process.env["CI"];
const native = nativeOrSkip();

/** conv 1→32 3x3, conv 32→64 3x3, dense 3136→128, dense 128→10, with biases. */
const CNN_PARAMS = 32 * 9 + 32 + 64 * 32 * 9 + 64 + 3136 * 128 + 128 + 128 * 10 + 10;
const MLP_PARAMS = 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10;

describe("examples/fashion-mnist-cnn.ts", () => {
  it.skipIf(native === undefined || !haveFashion)("native: the CNN learns 2,000 images in 1 epoch; the MLP is trained and printed beside it", async () => {
    const lines: string[] = [];
    const r = await runFashionMnistCnn({ quick: true, backend: "native", log: (l) => lines.push(l) });
    const text = lines.join("\n");
    expect(r.backend).toBe("native");
    expect(r.trainCount).toBe(2000);
    expect(r.testCount).toBe(1000);
    expect(r.params).toBe(CNN_PARAMS);
    expect(r.epochs).toHaveLength(1);
    expect(r.finalAccuracy).toBeGreaterThan(0.5); // chance is 0.1
    expect(r.epochs[0]!.testLoss).toBeLessThan(Math.log(10)); // below the loss of a uniform guess
    expect(r.passed).toBe(true);
    expect(r.mlp?.params).toBe(MLP_PARAMS);
    expect(r.mlp?.epochs).toHaveLength(1);
    // The summary shows every output shape; the comparison both models with their parameter counts.
    expect(r.summary).toMatch(/\(batch, 32, 28, 28\)[^]*\(batch, 32, 14, 14\)[^]*\(batch, 64, 14, 14\)[^]*\(batch, 64, 7, 7\)[^]*\(batch, 3136\)/);
    expect(text).toMatch(/epoch {2}1\/1 .* test accuracy \d+\.\d\d%/);
    expect(text).toMatch(new RegExp(`^MLP 784 → 256 → 128 → 10 +${MLP_PARAMS.toLocaleString("en-US")} +1 +\\d+\\.\\d\\d% +\\d+\\.\\d s`, "m"));
    expect(text).toMatch(new RegExp(`^CNN conv32 → conv64 → 128 → 10 +${CNN_PARAMS.toLocaleString("en-US")} +1 +\\d+\\.\\d\\d% +\\d+\\.\\d s`, "m"));
    expect(text).toMatch(/CNN test accuracy \d+\.\d\d%: passes the 50\.0% bar/);
  });

  it.skipIf(!haveFashion)("TypeScript backend: the same network trains on 256 images, loss below a uniform guess", async () => {
    const r = await runFashionMnistCnn({ quick: true, backend: "js", trainLimit: 256, testLimit: 200, mlpEpochs: 0, minAccuracy: 0.2, log: null });
    expect(r.backend).toBe("js");
    expect(r.params).toBe(CNN_PARAMS);
    expect(r.mlp).toBeNull();
    expect(r.epochs[0]!.testLoss).toBeLessThan(Math.log(10));
    expect(r.finalAccuracy).toBeGreaterThan(0.2);
  });

  it.skipIf(!haveFashion)("run directly: prints the comparison, and exits 1 below its bar or on an unknown argument", async () => {
    const tsx = join(root, "node_modules", ".bin", "tsx");
    const script = join(root, "examples", "fashion-mnist-cnn.ts");
    const args = [script, "--quick", "--train-limit", "300", "--test-limit", "200", "--mlp-epochs", "0"];
    const ok = await run(tsx, [...args, "--min-accuracy", "0.15"], { cwd: root });
    expect(ok.stdout).toMatch(/^CNN conv32 → conv64 → 128 → 10 +421,642 +1 /m);
    expect(ok.stdout).toMatch(/passes the 15\.0% bar/);
    const fail = await run(tsx, [...args, "--min-accuracy", "0.999"], { cwd: root }).then(
      () => null,
      (e: { code?: number; stdout?: string }) => e,
    );
    expect(fail?.code).toBe(1);
    expect(fail?.stdout).toMatch(/FAILS the 99\.9% bar/);
    const bad = await run(tsx, [script, "--epoch", "1"], { cwd: root }).then(
      () => null,
      (e: { code?: number; stderr?: string }) => e,
    );
    expect(bad?.code).toBe(1);
    expect(bad?.stderr).toMatch(/Unknown argument "--epoch"/);
  });
});
