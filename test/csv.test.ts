import { describe, expect, it } from "vitest";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CsvError, columnStats, parseCsv, readCsv, standardization } from "../lib/data/csv.js";
import { Matrix } from "../lib/core/matrix.js";

const F = "data.csv";

async function csvError(text: string, options: Parameters<typeof parseCsv>[2]): Promise<CsvError> {
  try {
    await parseCsv(text, F, options);
  } catch (e) {
    expect(e).toBeInstanceOf(CsvError);
    return e as CsvError;
  }
  throw new Error("expected a CsvError");
}

describe("CSV", () => {
  it("reads features and a numeric target by name, in header order, skipping blank lines (CRLF)", async () => {
    const d = await parseCsv("x1,y,x2\r\n1,10,2\r\n\r\n3,20,4.5e1\r\n-5,30,.5\r\n", F, { target: "y" });
    expect(d.featureNames).toEqual(["x1", "x2"]);
    expect(d.targetNames).toEqual(["y"]);
    expect(d.x.shape).toEqual([3, 2]);
    expect(Array.from(d.x.data)).toEqual([1, 2, 3, 45, -5, 0.5]);
    expect(Array.from(d.y!.data)).toEqual([10, 20, 30]);
    expect(d.classNames).toBeNull();
    expect(Array.from(d.lines)).toEqual([2, 4, 5]);
  });

  it("chooses feature columns, several targets, ignored columns, quoted cells and a BOM", async () => {
    const text = '\ufeffid,a,b,c,t1,t2\n7,"1",2,3,4,5\n8,6,7,8,9,10\n';
    const d = await parseCsv(text, F, { target: ["t1", "t2"], features: ["c", "a"] });
    expect(d.featureNames).toEqual(["c", "a"]);
    expect(Array.from(d.x.data)).toEqual([3, 1, 8, 6]);
    expect(d.y!.shape).toEqual([2, 2]);
    expect(Array.from(d.y!.data)).toEqual([4, 5, 9, 10]);
    const e = await parseCsv(text, F, { target: "t1", ignore: ["id", "t2"] });
    expect(e.featureNames).toEqual(["a", "b", "c"]);
  });

  it("one-hot encodes a categorical target and keeps the class names", async () => {
    const d = await parseCsv("a,kind\n1,dog\n2,cat\n3,bird\n4,cat\n", F, { target: "kind" });
    expect(d.classNames).toEqual(["bird", "cat", "dog"]);
    expect(Array.from(d.labels!)).toEqual([2, 1, 0, 1]);
    expect(d.y!.shape).toEqual([4, 3]);
    expect(d.y!.toArray()).toEqual([[0, 0, 1], [0, 1, 0], [1, 0, 0], [0, 1, 0]]);
    // Given the model's class order, labels map to it; numeric labels can be forced categorical.
    const e = await parseCsv("a,kind\n1,dog\n2,cat\n", F, { target: "kind", classNames: ["dog", "cat", "bird"] });
    expect(Array.from(e.labels!)).toEqual([0, 1]);
    const n = await parseCsv("a,k\n1,10\n2,2\n3,2\n", F, { target: "k", categorical: true });
    expect(n.classNames).toEqual(["2", "10"]);
  });

  it("a numeric target with a stray non-numeric cell is an error at that cell, not a classification", async () => {
    const text = "a,y\n1,0.5\n2,1.5\n3,NaN\n4,2.5\n";
    await expect(parseCsv(text, F, { target: "y" })).rejects.toThrow(
      /data\.csv:4: non-numeric value "NaN" in a target column whose other cells are mostly numbers \(3 of 4\).*categorical: true.* \(column "y"\)/,
    );
    // Asked for explicitly, the same column is class labels.
    const c = await parseCsv(text, F, { target: "y", categorical: true });
    expect(c.classNames).toEqual(["0.5", "1.5", "2.5", "NaN"]);
    // Mostly text: class labels, even with a numeric-looking label among them.
    const d = await parseCsv("a,y\n1,cat\n2,dog\n3,7\n", F, { target: "y" });
    expect(d.classNames).toEqual(["7", "cat", "dog"]);
  });

  it("reads features only when the target is absent and not required (predict)", async () => {
    const d = await parseCsv("a,b\n1,2\n", F, { target: "y", features: ["a", "b"], requireTarget: false });
    expect(d.y).toBeNull();
    expect(d.targetNames).toEqual([]);
    expect(Array.from(d.x.data)).toEqual([1, 2]);
  });

  it("errors name the file, line and column", async () => {
    expect((await csvError("a,b,y\n1,2,3\n4,5\n", { target: "y" })).message).toBe(
      "data.csv:3: row has 2 fields but the header has 3",
    );
    const nn = await csvError("a,b,y\n1,2,3\n4,five,6\n", { target: "y" });
    expect(nn.message).toBe('data.csv:3: non-numeric value "five"; features must be numbers (column "b")');
    expect([nn.line, nn.column]).toEqual([3, "b"]);
    expect((await csvError("a,b,y\n1,,3\n", { target: "y" })).message).toMatch(/^data\.csv:2: empty cell.*column "b"/);
    expect((await csvError("a,b\n1,2\n", { target: "y" })).message).toBe('data.csv:1: target column "y" not found; the header has: a, b');
    expect((await csvError("a,y\n1,2\n", { target: "y", features: ["zz"] })).message).toMatch(/feature column "zz" not found/);
    expect((await csvError("", { target: "y" })).message).toMatch(/^data\.csv: the file is empty/);
    expect((await csvError("a,y\n", { target: "y" })).message).toBe("data.csv: the file has a header but no data rows");
    expect((await csvError("a,y,a\n1,2,3\n", { target: "y" })).message).toMatch(/names column "a" twice/);
    expect((await csvError("a,y1,y2\n1,2,x\n", { target: ["y1", "y2"] })).message).toMatch(/:2: non-numeric value "x".*column "y2"/);
    expect((await csvError("a,k\n1,dog\n2,cow\n", { target: "k", classNames: ["dog", "cat"] })).message).toMatch(
      /:3: unknown class "cow"; the model knows: dog, cat \(column "k"\)/,
    );
    expect((await csvError('a,y\n1,"2\n', { target: "y" })).message).toMatch(/^data\.csv:2: malformed CSV/);
    expect((await csvError("a,y\n1,Infinity\n", { target: "y", categorical: false })).message).toMatch(/non-numeric value "Infinity"/);
  });

  it("readCsv reads from disk and reports a missing or empty file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "blasnet-csv-"));
    try {
      const p = join(dir, "d.csv");
      await writeFile(p, "a,y\n1,2\n3,4\n");
      const d = await readCsv(p, { target: "y" });
      expect(d.file).toBe(p);
      expect(Array.from(d.y!.data)).toEqual([2, 4]);
      await expect(readCsv(join(dir, "none.csv"), { target: "y" })).rejects.toThrow(/none\.csv: file not found/);
      await writeFile(p, "");
      await expect(readCsv(p, { target: "y" })).rejects.toThrow(/d\.csv: the file is empty/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("standardization statistics: population mean/std per column, constant columns get std 1", () => {
    const x = Matrix.fromArray([[1, 5, 0], [3, 5, 0], [5, 5, 9]]);
    const s = columnStats(x);
    expect(Array.from(s.mean)).toEqual([3, 5, 3]);
    expect(s.std[0]).toBeCloseTo(Math.sqrt(8 / 3), 6);
    expect(s.std[1]).toBe(1);
    expect(s.std[2]).toBeCloseTo(Math.sqrt(18), 6);
    const st = standardization({ x, y: Matrix.column([2, 4, 6]) });
    expect(Array.from(st.targetMean!)).toEqual([4]);
    expect(standardization({ x, y: Matrix.column([1, 0, 1]), classNames: ["a", "b"] }).targetMean).toBeUndefined();
  });
});
