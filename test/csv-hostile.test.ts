/**
 * CSV readers (readCsv, parseCsv, csvBatches / streamStats, and so the CLI) on files that are not
 * CSV text: a file of NUL bytes (a sparse file, a binary file) or UTF-16 text is refused at its first
 * chunk, and a row longer than MAX_RECORD_CHARS (a file without line ends) is refused once that much
 * is read. Before, csv-parse grew one field from the whole file: a 1.9 GB sparse file ran for more
 * than 25 minutes, growing memory, before any error.
 */
import { open, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { csvBatches, streamStats } from "../lib/data/batches.js";
import { parseCsv, readCsv } from "../lib/data/csv.js";
import { MAX_RECORD_CHARS } from "../lib/data/csv-records.js";
import { tempDir } from "./helpers.js";

const dir = tempDir("blasnet-csv-hostile-");

/** A sparse file of `size` NUL bytes (no disk used). */
async function sparse(name: string, size: number): Promise<string> {
  const p = join(dir, name);
  const fh = await open(p, "w");
  await fh.truncate(size);
  await fh.close();
  return p;
}

describe("CSV readers refuse what is not CSV text", () => {
  it("a 512 MB file of NUL bytes: readCsv and streamStats fail at its first bytes, naming the file", async () => {
    const p = await sparse("zeros.csv", 512 * 1024 * 1024);
    const message = `${p}: holds a NUL byte (at byte 0): blasnet reads CSV as UTF-8 text, and this is a binary file or UTF-16 text (save it as UTF-8)`;
    const before = process.memoryUsage().rss;
    await expect(readCsv(p, { target: "y" })).rejects.toThrow(message);
    await expect(streamStats(csvBatches(p, { target: "y" }))).rejects.toThrow(message);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
  }, 20_000);

  it("UTF-16 text (NUL in every other byte) and a NUL in parsed text", async () => {
    const p = join(dir, "utf16.csv");
    await writeFile(p, Buffer.from("\ufeffa,y\n1,2\n", "utf16le"));
    await expect(readCsv(p)).rejects.toThrow(/utf16\.csv: holds a NUL byte \(at byte 3\): .* UTF-16 text \(save it as UTF-8\)$/);
    await expect(parseCsv("a,y\n1,\0\n", "text.csv")).rejects.toThrow(/^text\.csv: holds a NUL byte \(at character 6\)/);
  });

  it("a row longer than the limit: refused with the line and the limit, once that much is read", async () => {
    const p = join(dir, "endless.csv");
    await writeFile(p, Buffer.concat([Buffer.from("a,y\n"), Buffer.alloc(MAX_RECORD_CHARS + 1024, "7")]));
    await expect(readCsv(p, { target: "y" })).rejects.toThrow(
      /endless\.csv:2: a row is longer than 67,108,864 characters \(64 MiB\), blasnet's limit for one row; is this a CSV file \(one row per line\)\?$/,
    );
  }, 30_000);
});
