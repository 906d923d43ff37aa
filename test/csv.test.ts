import { describe, expect, it } from "vitest";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CsvError, columnStats, parseCsv, readCsv, standardization } from "../lib/data/csv.js";

const fixture = (name: string): string => join("test", "fixtures", name);
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
    const text = "a,y\n1,0.5\n2,1.5\n3,oops\n4,2.5\n";
    await expect(parseCsv(text, F, { target: "y" })).rejects.toThrow(
      /data\.csv:4: non-numeric value "oops" in a target column whose other cells are mostly numbers \(3 of 4\).*categorical: true.* \(column "y"\)/,
    );
    // Asked for explicitly, the same column is class labels.
    const c = await parseCsv(text, F, { target: "y", categorical: true });
    expect(c.classNames).toEqual(["0.5", "1.5", "2.5", "oops"]);
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
    expect((await csvError("a,b,y\n1,,3\n", { target: "y" })).message).toMatch(/^data\.csv:2: missing value \(empty cell\) in a feature.*--missing drop.*column "b"/);
    expect((await csvError("a,b\n1,2\n", { target: "y" })).message).toBe(
      'data.csv:1: target column "y" not found; the header has: a, b (or a position from 0 to 1, or -1 for the last)',
    );
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

  it("a first row of numbers is data (the file has no header), said in the result; --no-header names columns 0..n-1", async () => {
    const d = await readCsv(fixture("no-header.csv"), { target: -1 });
    expect(d.header).toBe(false);
    expect(d.featureNames).toEqual(["0", "1"]);
    expect(d.targetNames).toEqual(["2"]);
    expect(d.x.rows).toBe(4); // the first row is not lost
    expect(Array.from(d.y!.data)).toEqual([2, 1.5, 4.5, 2.5]);
    expect(Array.from(d.lines)).toEqual([1, 2, 3, 4]);
    // header: false with names in the first row: the names are data, and not numbers.
    await expect(parseCsv("a,y\n1,2\n", F, { target: 1, header: false })).rejects.toThrow(/data\.csv:1: non-numeric value "a"/);
    // header: true takes a row of numbers as names (a file whose columns are years).
    const years = await parseCsv("2019,2020\n1,2\n", F, { target: "2020", header: true });
    expect([years.header, years.featureNames, years.x.rows]).toEqual([true, ["2019"], 1]);
  });

  it("a first row that mixes numbers and names is an error that says what to pass; skipLines skips a line of counts", async () => {
    const e = await readCsv(fixture("counts-first.csv"), { target: "4" }).catch((err: Error) => err);
    expect(e).toBeInstanceOf(CsvError);
    expect((e as Error).message).toMatch(/counts-first\.csv:1: the first row mixes numbers and names \(12, 4, small, medium, large\).*--no-header.*--skip-lines 1/);
    // As scikit-learn writes iris.csv: a line of counts and class names, then rows without a header.
    const d = await readCsv(fixture("counts-first.csv"), { skipLines: 1, target: -1 });
    expect(d.header).toBe(false);
    expect([d.x.rows, d.featureNames, d.targetNames]).toEqual([12, ["0", "1", "2", "3"], ["4"]]);
    expect(d.lines[0]).toBe(2); // line numbers still count the skipped line
    expect(Array.from(d.y!.data.slice(0, 5))).toEqual([0, 0, 0, 0, 1]);
  });

  it("targets by position: -1 is the last column, a number that is not a name is a position", async () => {
    const d = await parseCsv("a,b,c\n1,2,3\n", F, { target: "-1" });
    expect([d.targetNames, d.featureNames]).toEqual([["c"], ["a", "b"]]);
    const e = await parseCsv("a,b,c\n1,2,3\n", F, { target: [0], ignore: [-2] });
    expect([e.targetNames, e.featureNames]).toEqual([["a"], ["c"]]);
    expect((await csvError("a,b\n1,2\n", { target: 5 })).message).toMatch(/target column 5 not found; the header has: a, b \(or a position from 0 to 1, or -1 for the last\)/);
  });

  it("delimiter: another one is read as asked, and a file that looks like it uses one says which flag to pass", async () => {
    const d = await readCsv(fixture("semicolons.csv"), { target: "y", delimiter: ";" });
    expect([Array.from(d.x.data), Array.from(d.y!.data)]).toEqual([[1, 2.5, 4, 5], [3, 6]]);
    const e = await readCsv(fixture("semicolons.csv"), { target: "y" }).catch((err: Error) => err);
    expect((e as Error).message).toMatch(/semicolons\.csv:1: the first row is a single column, and it contains ";".*--delimiter ";"/);
    await expect(parseCsv("a\n", F, { delimiter: ";;" })).rejects.toThrow(/Invalid delimiter: ";;"/);
  });

  it("missing cells: an error naming line and column by default; drop leaves the rows out; mean fills features", async () => {
    const file = fixture("with-missing.csv");
    const e = await readCsv(file, { target: "y" }).catch((err: Error) => err);
    expect(e).toBeInstanceOf(CsvError);
    expect((e as CsvError).message).toMatch(/with-missing\.csv:3: missing value \("NA"\) in a feature; .*--missing drop.*--missing mean.*\(column "a"\)/);
    expect([(e as CsvError).line, (e as CsvError).column]).toEqual([3, "a"]);
    const dropped = await readCsv(file, { target: "y", missing: "drop" });
    expect(Array.from(dropped.lines)).toEqual([2, 6]);
    expect(Array.from(dropped.y!.data)).toEqual([10, 50]);
    expect([dropped.droppedRows, dropped.filledCells]).toEqual([3, 0]);
    const filled = await readCsv(file, { target: "y", missing: "mean" });
    // Row 5 (missing target) is left out; a = mean(1, 5, 9), b = mean(2, 4, 10) over the rows kept.
    expect(Array.from(filled.lines)).toEqual([2, 3, 4, 6]);
    expect(Array.from(filled.x.data)).toEqual([1, 2, 5, 4, 5, 16 / 3, 9, 10].map(Math.fround));
    expect([filled.droppedRows, filled.filledCells]).toEqual([1, 2]);
    // A class-label column with a missing label drops that row under "drop".
    const c = await parseCsv("a,k\n1,dog\n2,\n3,cat\n", F, { target: "k", missing: "drop" });
    expect([c.classNames, Array.from(c.labels!)]).toEqual([["cat", "dog"], [1, 0]]);
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
