/**
 * CSV cells and messages: numbers from cells (float32 range checked), missing-cell markers, and the
 * CsvError every problem with a CSV file becomes, naming the file, line and column, with long
 * values cut.
 */

/** The longest value (a cell, a column name) quoted whole in a message; longer ones are cut. */
const MAX_QUOTED = 80;
/** The longest message: a longer one (a parser message quoting a huge field) loses its middle. */
const MAX_MESSAGE = 2000;

/** `s`, cut to its first MAX_QUOTED characters (saying how long it was) when longer. */
export function cut(s: string, max = MAX_QUOTED): string {
  return s.length <= max ? s : `${s.slice(0, max)}... (${s.length} characters)`;
}

/** A value quoted for a message: JSON-quoted, cut when long. */
export function quoted(s: string): string {
  return s.length <= MAX_QUOTED ? JSON.stringify(s) : `${JSON.stringify(s.slice(0, MAX_QUOTED))}... (${s.length} characters)`;
}

/** Column names for a message: the first few, then how many there are. */
export function nameList(names: readonly string[], max = 12): string {
  const shown = names.slice(0, max).map((n) => cut(n, 40));
  return names.length > max ? `${shown.join(", ")}, ... (${names.length} columns)` : shown.join(", ");
}

/** A problem in a CSV file; the message names the file, and the line and column when there is one. */
export class CsvError extends Error {
  /** The file (or the name given to parseCsv). */
  readonly file: string;
  /** 1-based line in the file, when the problem is on one line. */
  readonly line: number | undefined;
  /** The column's name (or position without a header), when the problem is in one column. */
  readonly column: string | undefined;
  constructor(file: string, message: string, line?: number, column?: string) {
    const where = line !== undefined ? `:${line}` : "";
    const col = column !== undefined ? ` (column ${quoted(column)})` : "";
    if (message.length > MAX_MESSAGE) message = `${message.slice(0, MAX_MESSAGE / 2)} ... ${message.slice(-MAX_MESSAGE / 4)}`;
    super(`${file}${where}: ${message}${col}`);
    this.name = "CsvError";
    this.file = file;
    this.line = line;
    this.column = column;
  }
}

/** A Float32Array that grows by doubling. */
export class FloatBuilder {
  data = new Float32Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Float32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  finish(): Float32Array {
    return this.data.slice(0, this.length);
  }
}

/** A number from a cell: decimal or scientific notation, surrounding spaces allowed; finite only. */
export function parseNumber(cell: string): number {
  const s = cell.trim();
  if (s === "" || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return NaN;
  return Number(s);
}

const MISSING_TOKENS = new Set(["", "na", "n/a", "#n/a", "nan", "null", "none", "?"]);

/** True for a cell that marks a missing value: empty, "NA", "N/A", "NaN", "null", "None" or "?". */
export function isMissingCell(cell: string): boolean {
  return MISSING_TOKENS.has(cell.trim().toLowerCase());
}

/** The largest float32 value; a number beyond it would become Infinity in a Float32Array. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/** The CsvError for a number that float32 cannot hold (finite as a double, e.g. 1e39). */
export function outOfFloat32(cell: string, file: string, line: number, column: string | undefined): CsvError {
  return new CsvError(file, `value ${quoted(cell.trim())} is outside the float32 range (magnitude at most ${FLOAT32_MAX.toPrecision(5)}); rescale the column`, line, column);
}

/** The number in a feature or target cell, or a CsvError at that cell ending in `rule`. */
export function numericCell(cell: string, file: string, line: number, column: string | undefined, rule: string): number {
  const v = parseNumber(cell);
  if (!Number.isFinite(v)) {
    throw new CsvError(file, `${cell.trim() === "" ? "empty cell" : `non-numeric value ${quoted(cell)}`}; ${rule}`, line, column);
  }
  if (Math.abs(v) > FLOAT32_MAX) throw outOfFloat32(cell, file, line, column);
  return v;
}
