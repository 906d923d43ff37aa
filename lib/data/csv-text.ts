/**
 * The text of a CSV file from its bytes, as a stream: strict UTF-8, leading byte order marks
 * removed. Bytes that are not UTF-8 (a Latin-1 or Windows-1252 file, a binary file) are a CsvError
 * naming the file, line and character, not text with U+FFFD in place of each bad byte; a NUL byte
 * (binary or UTF-16) is refused as soon as its chunk arrives. Every U+FEFF at the start is removed,
 * not only the first: text that already began with one and was saved again with a BOM, or two
 * files joined, leaves two, and the second would otherwise stay in the first column's name.
 * Linear in the file: each chunk is decoded once, as it streams.
 */
import { Transform, type TransformCallback } from "node:stream";
import { CsvError } from "./csv-cells.js";

const BOM = "\ufeff";

/**
 * How many bytes at the end of `b` begin a UTF-8 sequence that `b` ends before completing (0-3): what
 * a streaming decoder holds back for the next chunk.
 */
function incompleteTail(b: Uint8Array): number {
  for (let k = 1; k <= Math.min(3, b.length); k++) {
    const byte = b[b.length - k]!;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte: the lead is further back
    const need = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return need > k ? k : 0;
  }
  return 0;
}

/** Whether `b` is UTF-8 that may end inside a sequence (streaming: completed by what follows). */
function validPrefix(b: Uint8Array): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(b, { stream: true });
    return true;
  } catch {
    return false;
  }
}

/**
 * Where the first invalid sequence of `b` starts, `b` not being UTF-8 (checked as a prefix when
 * `ended` is false). Only on the error path: a binary search of prefixes, each decoded again.
 */
function firstInvalid(b: Uint8Array, ended: boolean): number {
  if (ended && validPrefix(b)) return b.length - incompleteTail(b); // valid but cut short at the end
  let lo = 0; // b[0, lo) is a valid prefix
  let hi = b.length; // b[0, hi) is not
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (validPrefix(b.subarray(0, mid))) lo = mid;
    else hi = mid;
  }
  // b[0, lo) may end in an incomplete sequence that the byte at lo broke: it starts there.
  return lo - incompleteTail(b.subarray(0, lo));
}

/** Characters (code points) in s from `from` on. */
function charsFrom(s: string, from: number): number {
  let n = s.length - from;
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xdc00 && c <= 0xdfff) n--; // the second half of a surrogate pair
  }
  return n;
}

/**
 * A stream from the bytes (or strings, e.g. parseCsv's text) of CSV file `file` to its text: pipe
 * the file into it and it into the parser. Its errors are CsvErrors.
 */
export function csvText(file: string): Transform {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let atStart = true;
  let offset = 0; // bytes (or characters, for string input) before this chunk
  let carry: Uint8Array = new Uint8Array(0); // the incomplete sequence the decoder holds
  let lines = 0; // line ends decoded so far
  let column = 0; // characters decoded since the last line end

  const count = (s: string): void => {
    let nl = -1;
    for (let i = s.indexOf("\n"); i >= 0; i = s.indexOf("\n", i + 1)) {
      lines++;
      nl = i;
    }
    column = nl >= 0 ? charsFrom(s, nl + 1) : column + charsFrom(s, 0);
  };

  const notUtf8 = (bytes: Uint8Array, ended: boolean): CsvError => {
    const at = firstInvalid(bytes, ended);
    // (The file's first BOM is not counted, as the stream's decoder dropped it.)
    count(new TextDecoder("utf-8", { ignoreBOM: offset > carry.length }).decode(bytes.subarray(0, at)));
    const byte = `byte 0x${bytes[at]!.toString(16).padStart(2, "0")}${ended && at >= bytes.length - carry.length ? " starts a character the file ends inside" : ""}`;
    return new CsvError(
      file,
      `not UTF-8 text at character ${column + 1} of the line (${byte}, byte ${offset - carry.length + at} of the file): blasnet reads CSV as UTF-8; save the file as UTF-8 (it may be Latin-1 or Windows-1252 text)`,
      lines + 1,
    );
  };

  const emit = (stream: Transform, text: string): void => {
    if (atStart) {
      let i = 0;
      while (text.charAt(i) === BOM) i++;
      text = text.slice(i);
      if (text.length === 0) return;
      atStart = false;
    }
    stream.push(text);
  };

  return new Transform({
    decodeStrings: false,
    transform(chunk: Buffer | string, _encoding, done: TransformCallback) {
      // A NUL byte never occurs in CSV text: the file is binary (or UTF-16), refused at its first
      // chunk rather than parsed as one endless field.
      const nul = typeof chunk === "string" ? chunk.indexOf("\0") : chunk.indexOf(0);
      if (nul >= 0) {
        const where = typeof chunk === "string" ? "character" : "byte";
        done(new CsvError(file, `holds a NUL byte (at ${where} ${offset + nul}): blasnet reads CSV as UTF-8 text, and this is a binary file or UTF-16 text (save it as UTF-8)`));
        return;
      }
      if (typeof chunk === "string") {
        offset += chunk.length;
        emit(this, chunk);
        done();
        return;
      }
      let text: string;
      try {
        text = decoder.decode(chunk, { stream: true });
      } catch {
        const bytes = new Uint8Array(carry.length + chunk.length);
        bytes.set(carry);
        bytes.set(chunk, carry.length);
        done(notUtf8(bytes, false));
        return;
      }
      count(text);
      // A sequence the decoder holds lies within the chunk unless the chunk is shorter than one.
      const joined = chunk.length >= 3 ? chunk : concat(carry, chunk);
      carry = joined.slice(joined.length - incompleteTail(joined));
      offset += chunk.length;
      emit(this, text);
      done();
    },
    flush(done: TransformCallback) {
      try {
        emit(this, decoder.decode());
      } catch {
        done(notUtf8(carry, true));
        return;
      }
      done();
    },
  });
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
