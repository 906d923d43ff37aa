/**
 * The README's examples run as printed. Every ```ts block runs as its own module (through tsx, with
 * "blasnet" meaning this checkout's lib/), and every ```sh block runs in bash with `npx blasnet`
 * meaning this checkout's CLI, each in a scratch directory. An HTML comment on the line before a
 * block says how:
 *
 *   (none)                                 the block runs alone
 *   <!-- readme-test: with classifier -->  after a prelude defining `model` (a compiled 4-input,
 *                                          3-class classifier), `x`, `y`, `xTest`, `yTest`
 *   <!-- readme-test: with regressor -->   after a prelude defining `model` (a compiled 3-input
 *                                          regressor), with train.csv (target "price") and big.csv
 *                                          (target "y") in the directory
 *   <!-- readme-test: skip (reason) -->    not run, for the reason given
 *
 * A ```sh block's commands get a data.csv (features and a numeric "y") in their directory.
 */
import { execFile, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "./helpers.js";

const TSX = createRequire(import.meta.url).resolve("tsx/cli");
const LIB = resolve("lib/index.ts");
const MAIN = resolve("lib/cli/main.ts");

interface Block {
  lang: string;
  code: string;
  /** 1-based line of the opening fence. */
  line: number;
  marker: string | null;
}

/** The fenced code blocks of a Markdown text, each with the readme-test comment right before it. */
function blocks(markdown: string): Block[] {
  const lines = markdown.split("\n");
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    const marker = /^<!--\s*readme-test:\s*(.*?)\s*-->\s*$/.exec(lines[start - 1] ?? "");
    out.push({ lang: open[1]!, code: body.join("\n"), line: start + 1, marker: marker ? marker[1]! : null });
  }
  return out;
}

/** Seeded data for the classifier prelude, written into the block's module. */
const CLASSIFIER = `
import * as blasnet__ from ${JSON.stringify(LIB)};
const rng__ = new blasnet__.Rng(1);
function data__(n: number): [number[][], number[]] {
  const xs: number[][] = [];
  const ys: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = [rng__.normal(), rng__.normal(), rng__.normal(), rng__.normal()];
    xs.push(r);
    ys.push(r[0]! + r[1]! > 0 ? (r[2]! > 0 ? 2 : 1) : 0);
  }
  return [xs, ys];
}
const model = new blasnet__.Sequential([blasnet__.dense(16, { activation: "relu" }), blasnet__.dense(3)], { inputSize: 4, seed: 0 });
model.compile({ loss: "crossEntropy", optimizer: "adam" });
const [x, y] = data__(300);
const [xTest, yTest] = data__(100);
`;

const REGRESSOR = `
import * as blasnet__ from ${JSON.stringify(LIB)};
const model = new blasnet__.Sequential([blasnet__.dense(16, { activation: "relu" }), blasnet__.dense(1)], { inputSize: 3, seed: 0 });
model.compile({ loss: "mse", optimizer: "adam" });
`;

/** a,b,c and a target named `target`: a smooth function of them. */
function csv(target: string, rows: number): string {
  let text = `a,b,c,${target}\n`;
  for (let i = 0; i < rows; i++) {
    const a = Math.sin(i);
    const b = Math.cos(3 * i);
    const c = (i % 17) / 17;
    text += `${a.toFixed(4)},${b.toFixed(4)},${c.toFixed(4)},${(2 * a - b + c).toFixed(4)}\n`;
  }
  return text;
}

function runTs(block: Block): { status: number | null; output: string } {
  const dir = tempDir("blasnet-readme-");
  const prelude = block.marker === "with classifier" ? CLASSIFIER : block.marker === "with regressor" ? REGRESSOR : "";
  if (block.marker === "with regressor") {
    writeFileSync(join(dir, "train.csv"), csv("price", 200));
    writeFileSync(join(dir, "big.csv"), csv("y", 600));
  }
  // Imports first (the block's own, rewritten to this checkout), then the prelude, then the block.
  const code = block.code.replace(/from "blasnet"/g, `from ${JSON.stringify(LIB)}`);
  const imports = code.split("\n").filter((l) => /^import .* from /.test(l));
  const rest = code.split("\n").filter((l) => !/^import .* from /.test(l));
  const file = join(dir, `readme-line-${block.line}.mts`);
  writeFileSync(file, [...imports, prelude, ...rest, "export {};"].join("\n"));
  const r = spawnSync(process.execPath, [TSX, file], { cwd: dir, encoding: "utf8", timeout: 120_000, env: { ...process.env, NO_COLOR: "1" } });
  return { status: r.status, output: `${r.stdout}\n${r.stderr}` };
}

function runSh(block: Block): { status: number | null; output: string } {
  const dir = tempDir("blasnet-readme-");
  writeFileSync(join(dir, "data.csv"), csv("y", 300));
  const script = [
    "set -euo pipefail",
    // `npx blasnet` as in a clone: this checkout's CLI.
    `npx() { if [ "$1" = blasnet ]; then shift; node ${JSON.stringify(TSX)} ${JSON.stringify(MAIN)} "$@"; else command npx "$@"; fi; }`,
    block.code,
  ].join("\n");
  const r = spawnSync("bash", ["-c", script], { cwd: dir, encoding: "utf8", timeout: 300_000, env: { ...process.env, NO_COLOR: "1" } });
  return { status: r.status, output: `${r.stdout}\n${r.stderr}` };
}

const all = blocks(readFileSync("README.md", "utf8"));
const examples = all.filter((b) => ["ts", "typescript", "sh", "bash"].includes(b.lang));

describe("README examples", () => {
  it("every example block is runnable or marked, with a known marker", () => {
    expect(examples.length).toBeGreaterThan(5);
    for (const b of examples) {
      if (b.marker === null || b.marker === "with classifier" || b.marker === "with regressor") continue;
      expect(b.marker, `README.md:${b.line}: readme-test marker`).toMatch(/^skip \(.+\)$/);
    }
  });

  for (const b of examples) {
    if (b.marker?.startsWith("skip")) continue;
    const first = b.code.split("\n").find((l) => l.trim() !== "" && !l.startsWith("import") && !l.startsWith("#")) ?? "";
    it(`README.md:${b.line} (${b.lang}) runs: ${first.trim().slice(0, 60)}`, { timeout: 300_000 }, () => {
      const r = b.lang === "ts" || b.lang === "typescript" ? runTs(b) : runSh(b);
      expect(r.status, r.output.slice(-3000)).toBe(0);
    });
  }
});

describe("npx blasnet in a clone", () => {
  // After set-up, npx runs the checkout's own bin. The first time, npm installs the checkout into its
  // npx cache, which runs its prepare and install scripts (tsc, and cmake-js on an up-to-date build):
  // an interrupted first run leaves that cache without a package.json, and every later npx blasnet
  // then fails with ENOENT (so the timeout here is generous).
  // Run asynchronously: an install can take minutes, and a worker whose event loop is blocked that
  // long misses vitest's 60 s deadline for its progress reports (an unhandled "Timeout calling
  // onTaskUpdate" that fails the run although every test passed).
  it.skipIf(!existsSync("dist/lib/cli/main.js") && !process.env["CI"])("runs this checkout's CLI", { timeout: 300_000 }, async () => {
    const r = await new Promise<{ stdout: string; stderr: string }>((resolve) => {
      execFile("npx", ["--offline", "blasnet", "--version"], { encoding: "utf8", timeout: 280_000 }, (_error, stdout, stderr) => resolve({ stdout, stderr }));
    });
    expect(r.stdout.trim(), r.stderr).toBe(JSON.parse(readFileSync("package.json", "utf8")).version);
  });
});
