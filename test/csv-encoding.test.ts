/**
 * CSV text encoding: every byte order mark at the start of a file is removed (a second one stayed in
 * the first cell: text saved twice with a BOM, or two files joined; before a quote it made the file
 * malformed CSV), and bytes that are not
 * UTF-8 are refused, naming the file, line and character, by every reader and the CLI (they became
 * U+FFFD silently, so "café" in a Latin-1 file was read as "caf\ufffd"). UTF-8 split across the
 * stream's chunks is read as it is.
 */
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { csvBatches, streamStats } from "../lib/data/batches.js";
import { parseCsv, readCsv } from "../lib/data/csv.js";
import { finished, tempDir } from "./helpers.js";

const dir = tempDir("blasnet-csv-encoding-");

async function file(name: string, bytes: Buffer): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, bytes);
  return p;
}

/** `rows` lines "i,i+1" after a header, as bytes: enough of them to span several chunks of a read stream. */
function rowsText(rows: number): string {
  let s = "a,y\n";
  for (let i = 0; i < rows; i++) s += `${i},${i + 1}\n`;
  return s;
}

describe("byte order marks", () => {
  it("one, two or three at the start: none stays in the first column's name", async () => {
    for (const boms of ["\ufeff", "\ufeff\ufeff", "\ufeff\ufeff\ufeff"]) {
      const p = await file(`bom${boms.length}.csv`, Buffer.from(`${boms}a,y\n1,2\n3,4\n`, "utf8"));
      const d = await readCsv(p, { target: "y" });
      expect(d.featureNames, `${boms.length} BOMs`).toEqual(["a"]);
      expect(Array.from(d.x.data)).toEqual([1, 3]);
      // A quoted first cell: a BOM left before its quote made it malformed CSV ("Invalid Opening Quote").
      const q = await parseCsv(`${boms}"a",y\n1,2\n`, "text.csv", { target: "y" });
      expect(q.featureNames, `${boms.length} BOMs, quoted`).toEqual(["a"]);
      const qp = await file(`bom${boms.length}-quoted.csv`, Buffer.from(`${boms}"1",2\n3,4\n`, "utf8"));
      expect(Array.from((await readCsv(qp, { target: 1, header: false })).x.data)).toEqual([1, 3]);
    }
  });
});

describe("bytes that are not UTF-8", () => {
  it("a Latin-1 byte: file, line and character, from readCsv and from the streaming reader", async () => {
    const p = await file("latin1.csv", Buffer.concat([Buffer.from("a,y\n1,2\n3,caf"), Buffer.from([0xe9]), Buffer.from("\n")]));
    const message = `${p}:3: not UTF-8 text at character 6 of the line (byte 0xe9, byte 13 of the file): blasnet reads CSV as UTF-8; save the file as UTF-8 (it may be Latin-1 or Windows-1252 text)`;
    await expect(readCsv(p, { target: "y" })).rejects.toThrow(message);
    await expect(streamStats(csvBatches(p, { target: "y" }))).rejects.toThrow(message);
  });

  it("far into a large file, after UTF-8 split across the stream's chunks: the right line and character", async () => {
    // "é" (two bytes) straddles the first 64 KiB chunk's end; the bad byte is on the last line.
    let text = "a,note,y\n";
    for (let i = 0; text.length < 65_000; i++) text += `${i},x,${i + 1}\n`;
    const lines = text.split("\n").length - 1;
    const pad = 65_535 - text.length - 2; // "1," then the pad, then "é" at byte 65,535
    const bytes = Buffer.concat([Buffer.from(`${text}1,${"x".repeat(pad)}é,2\n5,x,6\n7,x,8`), Buffer.from([0xff, 0x0a])]);
    expect(bytes.indexOf(Buffer.from("é"))).toBe(65_535);
    const p = await file("big.csv", bytes);
    await expect(readCsv(p, { target: "y", ignore: ["note"] })).rejects.toThrow(
      `${p}:${lines + 3}: not UTF-8 text at character 6 of the line (byte 0xff, byte ${bytes.length - 2} of the file)`,
    );
    // The same file with the bad byte removed reads, "é" and all.
    const good = await file("big-good.csv", bytes.subarray(0, bytes.length - 2));
    expect((await readCsv(good, { target: "y", ignore: ["note"] })).x.rows).toBe(lines + 2);
  });

  it("a character cut short: mid-line and at the end of the file", async () => {
    const mid = await file("cut.csv", Buffer.concat([Buffer.from("a,y\n1,"), Buffer.from([0xe2, 0x82]), Buffer.from("2\n")]));
    await expect(readCsv(mid, { target: "y" })).rejects.toThrow(`${mid}:2: not UTF-8 text at character 3 of the line (byte 0xe2, byte 6 of the file)`);
    const end = await file("cut-end.csv", Buffer.concat([Buffer.from("a,y\n1,2\n3,4"), Buffer.from([0xe2, 0x82])]));
    await expect(readCsv(end, { target: "y" })).rejects.toThrow(`${end}:3: not UTF-8 text at character 4 of the line (byte 0xe2 starts a character the file ends inside, byte 11 of the file)`);
  });

  it("valid UTF-8 (accents, CJK, emoji) is read as it is", async () => {
    const p = await file("utf8.csv", Buffer.from("café,日本,😀,y\n1,2,3,4\n", "utf8"));
    const d = await readCsv(p, { target: "y" });
    expect(d.featureNames).toEqual(["café", "日本", "😀"]);
  });

  it("the CLI: exit 1 and one line", async () => {
    const p = await file("cli-latin1.csv", Buffer.concat([Buffer.from("a,y\n1,2\n3,caf"), Buffer.from([0xe9]), Buffer.from("\n")]));
    const tsx = createRequire(import.meta.url).resolve("tsx/cli");
    const run = await finished(
      spawn(process.execPath, [tsx, resolve("lib/cli/main.ts"), "train", p, "--target", "y", "--epochs", "1", "--out", join(dir, "out"), "--no-plot", "--verbose", "0"], {
        env: { ...process.env, BLASNET_BACKEND: "js", NO_COLOR: "1" },
        stdio: ["ignore", "pipe", "pipe"],
      }),
    );
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(/cli-latin1\.csv:3: not UTF-8 text at character 6 of the line \(byte 0xe9/);
  }, 60_000);
});
