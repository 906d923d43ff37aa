/**
 * CSV input errors: every parser error names the file, line and column and is a user error (exit
 * 1) in the CLI; numbers beyond the float32 range are errors naming line and column in readCsv,
 * csvBatches and streamStats; messages quote long values cut, not whole; a header of 200,000
 * columns is read in linear time.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Matrix } from "../lib/core/matrix.js";
import { csvBatches, streamStats } from "../lib/data/batches.js";
import { CsvError, parseCsv, readCsv } from "../lib/data/csv.js";
import { main } from "../lib/cli/program.js";
import { tempDir } from "./helpers.js";

const dir = tempDir("blasnet-csv-errors-");

async function file(name: string, text: string): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, text);
  return p;
}

async function caught(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("did not throw");
}

async function drain(it: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of it);
}

/** Run the CLI in this process; its exit code and what it wrote to stderr. */
async function cli(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = "";
  const spy = vi.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => ((stderr += String(s)), true));
  try {
    return { code: await main(["node", "blasnet", "--backend", "js", ...args]), stderr };
  } finally {
    spy.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

const MALFORMED: [string, string, RegExp][] = [
  ["a quote inside an unquoted field", 'a,y\n1,2\n3,ab"c\n', /:3: malformed CSV: Invalid Opening Quote.*\(column "y"\)/],
  ["an unclosed quote", 'a,y\n1,2\n"3,4\n', /:3: malformed CSV: Quote Not Closed.*\(column "a"\)/],
  ["text after a closing quote", 'a,y\n1,"2"x\n', /:2: malformed CSV: Invalid Closing Quote.*\(column "y"\)/],
];

describe("CSV parser errors name the file, line and column", () => {
  for (const [what, text, pattern] of MALFORMED) {
    it(`${what}: readCsv, csvBatches and parseCsv`, async () => {
      const p = await file(`bad-${what.replace(/\W+/g, "-")}.csv`, text);
      for (const e of [await caught(readCsv(p, { target: "y" })), await caught(drain(csvBatches(p, { target: "y" })))]) {
        expect(e).toBeInstanceOf(CsvError);
        expect(e.message.startsWith(`${p}:`)).toBe(true);
        expect(e.message).toMatch(pattern);
      }
      expect((await caught(parseCsv(text, "text.csv", { target: "y" }))).message).toMatch(pattern);
    });
  }

  it("the CLI reports them as bad input: exit 1 and one line naming the file", async () => {
    const p = await file("quote.csv", 'a,y\n1,2\n3,ab"c\n');
    const r = await cli(["train", p, "--target", "y", "--epochs", "1", "--out", join(dir, "never"), "--verbose", "0", "--no-plot"]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^blasnet: error: .*quote\.csv:3: malformed CSV: Invalid Opening Quote.*\(column "y"\)\n$/);
  });
});

describe("numbers beyond the float32 range", () => {
  it("1e39 in a feature or a target is an error naming line and column in readCsv and csvBatches", async () => {
    const feature = await file("big-x.csv", "a,b,y\n1,2,3\n4,-1e39,6\n");
    const target = await file("big-y.csv", "a,b,y\n1,2,3\n4,5,1e39\n");
    for (const [p, col] of [[feature, "b"], [target, "y"]] as const) {
      for (const e of [await caught(readCsv(p, { target: "y" })), await caught(drain(csvBatches(p, { target: "y", batchSize: 1 })))]) {
        expect(e).toBeInstanceOf(CsvError);
        expect(e.message).toMatch(new RegExp(`:3: value "-?1e39" is outside the float32 range.*\\(column "${col}"\\)`));
      }
    }
    // A value that float32 holds is fine.
    expect((await parseCsv("a,y\n3.4e38,1\n", "ok.csv", { target: "y" })).x.data[0]).toBeCloseTo(3.4e38, -33);
  });

  it("streamStats: the CSV's error, and a batch holding Infinity names batch, row and column", async () => {
    const p = await file("big-stats.csv", "a,y\n1,2\n2,1e39\n");
    const e = await caught(streamStats(() => csvBatches(p, { target: "y", batchSize: 1 }), { targets: true }));
    expect(e.message).toMatch(/big-stats\.csv:3: value "1e39" is outside the float32 range.*\(column "y"\)/);
    const x = new Matrix(new Float32Array([1, 2, 3, Infinity]), 2, 2);
    const e2 = await caught(streamStats([{ x, y: x }]));
    expect(e2.message).toMatch(/streamStats: batch 1 x, row 2, column 2 is Infinity/);
  });

  it("the CLI: exit 1 naming line and column, not an internal error about normalization", async () => {
    const p = await file("big-cli.csv", "a,y\n1,2\n2,3\n3,1e39\n");
    const r = await cli(["train", p, "--target", "y", "--epochs", "1", "--out", join(dir, "never2"), "--verbose", "0", "--no-plot"]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/big-cli\.csv:4: value "1e39" is outside the float32 range.*\(column "y"\)/);
  });
});

describe("messages quote long values cut", () => {
  it("a 30 MB cell gives a short message that says how long the value was", async () => {
    const huge = "x".repeat(30_000_000);
    const e = await caught(parseCsv(`a,y\n${huge},1\n`, "huge.csv", { target: "y" }));
    expect(e.message.length).toBeLessThan(500);
    expect(e.message).toMatch(/huge\.csv:2: non-numeric value "x{80}"\.\.\. \(30000000 characters\)/);
    const q = await caught(parseCsv(`a,y\n1,2\n3,ab"${huge}\n`, "quote.csv", { target: "y" }));
    expect(q.message.length).toBeLessThan(2500);
  });

  it("a 100,000-character target name and a wide header are cut in the message", async () => {
    const names = Array.from({ length: 5000 }, (_, i) => `c${i}`);
    const p = await file("wide.csv", `${names.join(",")}\n${names.map(() => "1").join(",")}\n`);
    const e = await caught(readCsv(p, { target: "t".repeat(100_000) }));
    expect(e.message.length).toBeLessThan(500);
    expect(e.message).toMatch(/target column "t{80}"\.\.\. \(100000 characters\) not found; the header has: c0, c1, .*c11, \.\.\. \(5000 columns\)/);
  });

  it("the CLI cuts long class labels in its messages", async () => {
    const label = "L".repeat(100_000);
    const p = await file("long-labels.csv", `a,kind\n1,${label}\n2,short\n3,other\n`);
    const r = await cli(["train", p, "--target", "kind", "--loss", "binaryCrossEntropy", "--epochs", "1", "--out", join(dir, "never3"), "--verbose", "0", "--no-plot"]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr.length).toBeLessThan(600);
    expect(r.stderr).toMatch(/"kind" has 3 \(L{40}\.\.\. \(100000 characters\), other, short\)/);
  });

  it("parseCsv(12345) says it expects text, not that the file is empty", async () => {
    await expect(parseCsv(12345 as unknown as string, "n.csv")).rejects.toThrow(/parseCsv expects the CSV text as a string but received the number 12345/);
  });
});

describe("wide CSV files", () => {
  it("a header of 200,000 columns is read in linear time (quadratic took minutes)", async () => {
    const n = 200_000;
    const header = Array.from({ length: n }, (_, i) => `f${i}`);
    const p = await file("very-wide.csv", `${header.join(",")},y\n${header.map(() => "1").join(",")},2\n`);
    const d = await readCsv(p, { target: "y" });
    expect(d.featureNames).toHaveLength(n);
    expect(d.x.cols).toBe(n);
    let batches = 0;
    for await (const b of csvBatches(p, { target: "y" })) batches += b.x.cols === n ? 1 : 0;
    expect(batches).toBe(1);
  }, 60_000);
});
