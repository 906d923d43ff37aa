/**
 * The records of a CSV file, streamed through csv-parse, each with its file line; a missing, empty
 * or malformed file is a CsvError naming it.
 */
import type { Readable } from "node:stream";
import { CsvError as ParserError, parse } from "csv-parse";
import { openRegularFile } from "../core/regular-file.js";
import { CsvError } from "./csv-cells.js";
import { csvText } from "./csv-text.js";

/**
 * Open `path` as a stream of a non-empty regular file; a CsvError naming it otherwise. The file is
 * opened without blocking and checked by its own status (fstat), so a FIFO or a device is refused
 * at once, even one put in the file's place after an earlier check.
 */
export async function openCsvFile(path: string): Promise<Readable> {
  const file = await openRegularFile(path, (problem) =>
    new CsvError(
      path,
      problem === "was not found"
        ? "file not found"
        : problem.startsWith("is ")
          ? `not a regular file: it ${problem.replace(/, not a regular file$/, "")}`
          : problem.replace(/^cannot be opened/, "cannot read the file"),
    ),
  );
  if (file.size === 0) {
    await file.handle.close();
    throw new CsvError(path, "the file is empty; expected a header row and at least one data row");
  }
  return file.handle.createReadStream();
}

/**
 * The longest row read, in characters: 1,000,000 columns of 20-character numbers and their
 * delimiters fit, while a file without line ends (a binary file, a run of NUL bytes) fails once
 * this much is read instead of growing one field until memory or the string limit runs out.
 */
export const MAX_RECORD_CHARS = 64 * 1024 * 1024;

/**
 * The records of CSV text from `source`, decoded by csvText (strict UTF-8, leading BOMs removed) and
 * parsed by csv-parse (quoting, CRLF; blank lines skipped; rows of any length, checked by the
 * caller), each with its 1-based line. A malformed file is a CsvError naming the file and line. The source is closed when the caller stops reading.
 */
export async function* csvRecords(source: Readable, file: string, delimiter = ",", skipLines = 0): AsyncGenerator<{ record: string[]; line: number }> {
  // The first record (the header) names the column of a parser error; it is kept as the parser
  // reads it, since a failing parser drops the records it had not handed out yet.
  let first: string[] | null = null;
  // (With info: true on_record receives { record, info }, which csv-parse's types do not say.)
  const keepFirst = (r: { record: string[] }): { record: string[] } => ((first ??= r.record), r);
  const parser = parse({ delimiter, info: true, relax_column_count: true, skip_empty_lines: true, from_line: skipLines + 1, max_record_size: MAX_RECORD_CHARS, on_record: keepFirst as never });
  const text = csvText(file);
  source.on("error", (e) => parser.destroy(e));
  text.on("error", (e) => {
    source.unpipe(text);
    parser.destroy(e);
  });
  source.pipe(text).pipe(parser);
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      yield { record, line: info.lines };
    }
  } catch (e) {
    const err = e as Error & { code?: string; lines?: number; index?: number };
    if (err.code === "ENOENT") throw new CsvError(file, "file not found");
    // Every csv-parse error (an unclosed or misplaced quote, a bad delimiter...): file, line, column.
    if (err instanceof ParserError && err.code === "CSV_MAX_RECORD_SIZE") {
      throw new CsvError(
        file,
        `a row is longer than ${MAX_RECORD_CHARS.toLocaleString("en-US")} characters (64 MiB), blasnet's limit for one row; is this a CSV file (one row per line)?`,
        typeof err.lines === "number" ? err.lines : undefined,
      );
    }
    if (err instanceof ParserError) {
      const i = typeof err.index === "number" ? err.index : undefined;
      const names = first as string[] | null;
      const column = i === undefined ? undefined : names && i < names.length ? names[i]!.trim() : `#${i + 1}`;
      throw new CsvError(file, `malformed CSV: ${err.message}`, typeof err.lines === "number" ? err.lines : undefined, column);
    }
    throw e;
  } finally {
    source.destroy();
    text.destroy();
  }
}
