/**
 * IDX reader (the MNIST family's file format), plain or gzip-compressed.
 *
 * Layout (all integers big-endian):
 *
 *   bytes 0-1   0x00 0x00
 *   byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
 *   byte  3     number of dimensions d (1..255)
 *   then        d uint32 sizes, outermost first
 *   then        the elements, row-major, big-endian
 *
 * A gzip file is recognised by its own magic (0x1F 0x8B), not by its name. Every size read from a
 * header is checked against the bytes actually present before anything is allocated, so a corrupt or
 * hostile header can only produce an error, never a huge allocation. Every error names the file.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, readSync, type Stats } from "node:fs";
import { open } from "node:fs/promises";
import { gunzip, gunzipSync, gzipSync } from "node:zlib";
import { promisify } from "node:util";
import { checkOptions } from "../core/options.js";

const gunzipAsync = promisify(gunzip);

/** Element types an IDX file can hold, by their names here. */
export type IdxDtype = "uint8" | "int8" | "int16" | "int32" | "float32" | "float64";

/** The typed array holding each element type. */
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/** One IDX file's contents: its element type, its dimensions and its elements (row-major). */
export interface IdxArray {
  dtype: IdxDtype;
  /** Sizes, outermost first: `[60000, 28, 28]` for MNIST training images. */
  shape: number[];
  /** All elements, row-major, in native byte order. Its length is the product of `shape`. */
  data: IdxData;
}

export interface IdxReadOptions {
  /**
   * The largest decompressed size accepted from a gzip file, in bytes (default 1 GiB). Guards
   * against a small compressed file that expands without bound.
   */
  maxBytes?: number;
}

const IDX_READ_OPTIONS = ["maxBytes"];

interface DtypeInfo {
  code: number;
  name: IdxDtype;
  size: number;
}

const DTYPES: readonly DtypeInfo[] = [
  { code: 0x08, name: "uint8", size: 1 },
  { code: 0x09, name: "int8", size: 1 },
  { code: 0x0b, name: "int16", size: 2 },
  { code: 0x0c, name: "int32", size: 4 },
  { code: 0x0d, name: "float32", size: 4 },
  { code: 0x0e, name: "float64", size: 8 },
];

const DEFAULT_MAX_BYTES = 1024 * 1024 * 1024;

/** An error reading an IDX file; `file` names it. */
export class IdxFormatError extends Error {
  readonly file: string;
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = "IdxFormatError";
    this.file = file;
  }
}

/** True if `bytes` starts with the gzip magic number. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Parse an IDX file already in memory (decompressed or gzip). `source` names it in errors.
 */
export function parseIdx(bytes: Uint8Array, source = "<buffer>", options: IdxReadOptions = {}): IdxArray {
  checkOptions(options, IDX_READ_OPTIONS, "parseIdx");
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`Expected a Uint8Array (or Buffer) for bytes but received ${typeof bytes}`);
  }
  const raw = isGzip(bytes) ? gunzipBytesSync(bytes, source, maxBytesOf(options)) : bytes;
  return decode(raw, source);
}

/** Read an IDX file (plain or gzip) synchronously. */
export function readIdxSync(path: string, options: IdxReadOptions = {}): IdxArray {
  checkOptions(options, IDX_READ_OPTIONS, "readIdxSync");
  return decode(readRawSync(path, options), path);
}

/** Read an IDX file (plain or gzip). Decompression runs off the main thread. */
export async function readIdx(path: string, options: IdxReadOptions = {}): Promise<IdxArray> {
  checkOptions(options, IDX_READ_OPTIONS, "readIdx");
  checkPath(path);
  const fh = await open(path, READ_FLAGS).catch((e: unknown) => {
    throw fileError(path, e);
  });
  let bytes: Buffer;
  try {
    const st = await fh.stat();
    checkRegular(path, st);
    const head = Buffer.alloc(Math.min(st.size, MAX_HEADER_BYTES));
    await fh.read(head, 0, head.length, 0);
    if (!isGzip(head)) parseHeader(head, path, st.size); // a bad header or size fails before the body is read
    bytes = await fh.readFile();
  } catch (e) {
    throw e instanceof IdxFormatError ? e : fileError(path, e);
  } finally {
    await fh.close();
  }
  if (!isGzip(bytes)) return decode(bytes, path);
  const maxBytes = maxBytesOf(options);
  const raw = await gunzipAsync(bytes, { maxOutputLength: maxBytes }).catch((e: unknown) => {
    throw gunzipError(path, e, maxBytes);
  });
  return decode(raw, path);
}

/**
 * Read only the header of an IDX file: its element type and shape, checked against the file's size.
 * For a gzip file this still decompresses the whole file (gzip has no reliable size field).
 */
export function readIdxHeaderSync(path: string, options: IdxReadOptions = {}): { dtype: IdxDtype; shape: number[] } {
  checkOptions(options, IDX_READ_OPTIONS, "readIdxHeaderSync");
  const h = parseHeader(readRawSync(path, options), path);
  return { dtype: h.dtype.name, shape: h.shape };
}

/**
 * Encode an array as IDX bytes (big-endian), gzip-compressed when `gzip` is true.
 * `data.length` must equal the product of `shape`.
 */
export function encodeIdx(
  array: { dtype: IdxDtype; shape: readonly number[]; data: ArrayLike<number> },
  options: { gzip?: boolean } = {},
): Uint8Array {
  checkOptions(options, ["gzip"], "encodeIdx");
  const info = DTYPES.find((d) => d.name === array.dtype);
  if (!info) {
    throw new RangeError(`Invalid dtype ${JSON.stringify(array.dtype)}; expected one of ${DTYPES.map((d) => d.name).join(", ")}`);
  }
  const { shape, data } = array;
  if (shape.length < 1 || shape.length > 255) {
    throw new RangeError(`Invalid shape [${shape.join(", ")}]: an IDX file has 1 to 255 dimensions`);
  }
  let count = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0 || d > 0xffffffff) {
      throw new RangeError(`Invalid dimension ${d} in shape [${shape.join(", ")}]; expected an integer in [0, 2^32)`);
    }
    count *= d;
  }
  if (data.length !== count) {
    throw new RangeError(`Shape [${shape.join(", ")}] needs ${count} values but data has ${data.length}`);
  }
  const headerBytes = 4 + 4 * shape.length;
  const out = new Uint8Array(headerBytes + count * info.size);
  const view = new DataView(out.buffer);
  out[2] = info.code;
  out[3] = shape.length;
  shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  const write = writerFor(info.name, view);
  for (let i = 0; i < count; i++) write(headerBytes + i * info.size, data[i]!);
  return options.gzip ? new Uint8Array(gzipSync(out)) : out;
}

// ---------------------------------------------------------------------------------------------

interface Header {
  dtype: DtypeInfo;
  shape: number[];
  headerBytes: number;
  count: number;
}

function maxBytesOf(options: IdxReadOptions): number {
  const m = options.maxBytes ?? DEFAULT_MAX_BYTES;
  if (!Number.isSafeInteger(m) || m <= 0) {
    throw new RangeError(`Invalid maxBytes: ${m}; expected a positive integer`);
  }
  return m;
}

function hex(b: number | undefined): string {
  return b === undefined ? "(missing)" : `0x${b.toString(16).padStart(2, "0").toUpperCase()}`;
}

/**
 * The header at the start of `bytes`, checked against `fileBytes`, the size of the whole file
 * (default: `bytes` is the whole file), so that a file can be refused from its first bytes.
 */
function parseHeader(bytes: Uint8Array, file: string, fileBytes = bytes.length): Header {
  if (bytes.length < 4) {
    throw new IdxFormatError(file, `truncated: ${fileBytes} bytes is too short for an IDX header (at least 4 bytes)`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new IdxFormatError(
      file,
      `not an IDX file: bad magic number, the first two bytes are ${hex(bytes[0])} ${hex(bytes[1])}, expected 0x00 0x00`,
    );
  }
  const dtype = DTYPES.find((d) => d.code === bytes[2]);
  if (!dtype) {
    throw new IdxFormatError(
      file,
      `unknown element type code ${hex(bytes[2])} in the magic number; expected one of ` +
        DTYPES.map((d) => `${hex(d.code)} (${d.name})`).join(", "),
    );
  }
  const ndims = bytes[3]!;
  if (ndims === 0) {
    throw new IdxFormatError(file, "the header declares 0 dimensions; expected at least 1");
  }
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw new IdxFormatError(
      file,
      `truncated header: ${ndims} dimensions need ${headerBytes} header bytes but the file has ${fileBytes}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  // The product of the dimensions, computed in doubles: exact while it is below 2^53, and once it
  // exceeds the bytes present the comparison below fails whatever the rounding.
  let count = 1;
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    shape.push(d);
    count *= d;
  }
  const dataBytes = fileBytes - headerBytes;
  const needed = count * dtype.size;
  if (needed !== dataBytes) {
    const dims = `[${shape.join(", ")}]`;
    const what = needed > dataBytes ? "truncated data" : "dimensions do not match the file size";
    throw new IdxFormatError(
      file,
      `${what}: the header declares ${dtype.name} ${dims} = ${count} elements (${needed} bytes) ` +
        `but ${dataBytes} data bytes follow the ${headerBytes}-byte header` +
        (needed < dataBytes ? ` (${dataBytes - needed} bytes too many)` : ""),
    );
  }
  return { dtype, shape, headerBytes, count };
}

function decode(bytes: Uint8Array, file: string): IdxArray {
  const h = parseHeader(bytes, file);
  const start = h.headerBytes;
  const end = start + h.count * h.dtype.size;
  let data: IdxData;
  switch (h.dtype.name) {
    case "uint8":
    case "int8": {
      // Always a copy (Buffer#slice would be a view, possibly into Node's shared pool).
      const copy = new Uint8Array(end - start);
      copy.set(bytes.subarray(start, end));
      data = h.dtype.name === "uint8" ? copy : new Int8Array(copy.buffer);
      break;
    }
    default: {
      const view = new DataView(bytes.buffer, bytes.byteOffset + start, end - start);
      data = readBigEndian(h.dtype, view, h.count);
    }
  }
  return { dtype: h.dtype.name, shape: h.shape, data };
}

function readBigEndian(dtype: DtypeInfo, view: DataView, count: number): IdxData {
  switch (dtype.name) {
    case "int16": {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(2 * i, false);
      return out;
    }
    case "int32": {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(4 * i, false);
      return out;
    }
    case "float32": {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, false);
      return out;
    }
    case "float64": {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, false);
      return out;
    }
    default:
      throw new Error(`internal: no big-endian reader for ${dtype.name}`);
  }
}

function writerFor(dtype: IdxDtype, view: DataView): (offset: number, v: number) => void {
  switch (dtype) {
    case "uint8":
      return (o, v) => view.setUint8(o, v);
    case "int8":
      return (o, v) => view.setInt8(o, v);
    case "int16":
      return (o, v) => view.setInt16(o, v, false);
    case "int32":
      return (o, v) => view.setInt32(o, v, false);
    case "float32":
      return (o, v) => view.setFloat32(o, v, false);
    case "float64":
      return (o, v) => view.setFloat64(o, v, false);
  }
}

function gunzipBytesSync(bytes: Uint8Array, file: string, maxBytes: number): Uint8Array {
  try {
    return gunzipSync(bytes, { maxOutputLength: maxBytes });
  } catch (e) {
    throw gunzipError(file, e, maxBytes);
  }
}

function gunzipError(file: string, e: unknown, maxBytes: number): IdxFormatError {
  const err = e as NodeJS.ErrnoException;
  if (err?.code === "ERR_BUFFER_TOO_LARGE") {
    return new IdxFormatError(
      file,
      `gzip data decompresses to more than maxBytes = ${maxBytes} bytes; pass a larger { maxBytes } if the file is genuine`,
    );
  }
  const msg = err instanceof Error ? err.message : String(e);
  return new IdxFormatError(file, `corrupt or truncated gzip data (${msg})`);
}

function checkPath(path: string): void {
  if (typeof path !== "string" || path === "") {
    throw new TypeError(`Expected a file path (non-empty string) for path but received ${JSON.stringify(path)}`);
  }
}

/** The longest IDX header: 4 bytes of magic number, then up to 255 dimensions of 4 bytes. */
const MAX_HEADER_BYTES = 4 + 4 * 255;

/**
 * Opening flags: non-blocking, so that opening a FIFO returns at once (to be refused as not a
 * regular file) instead of waiting for a writer. (Windows has no O_NONBLOCK and no FIFOs.)
 */
const READ_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

/** Refuse what is not a regular file: a FIFO, a device such as /dev/zero, a socket never ends. */
function checkRegular(path: string, st: Stats): void {
  if (st.isFile()) return;
  const kind = st.isDirectory()
    ? "a directory"
    : st.isFIFO()
      ? "a FIFO (named pipe)"
      : st.isCharacterDevice()
        ? "a character device"
        : st.isBlockDevice()
          ? "a block device"
          : st.isSocket()
            ? "a socket"
            : "not a regular file";
  throw new IdxFormatError(path, `is ${kind}; expected an IDX file (a regular file)`);
}

/**
 * The file's bytes, decompressed when they are gzip. Only a regular file is read, and a plain IDX
 * file's header is checked against the file's size before its body is read.
 */
function readRawSync(path: string, options: IdxReadOptions): Uint8Array {
  checkPath(path);
  let fd: number;
  try {
    fd = openSync(path, READ_FLAGS);
  } catch (e) {
    throw fileError(path, e);
  }
  let bytes: Buffer;
  try {
    const st = fstatSync(fd);
    checkRegular(path, st);
    const head = Buffer.alloc(Math.min(st.size, MAX_HEADER_BYTES));
    readSync(fd, head, 0, head.length, 0);
    if (!isGzip(head)) parseHeader(head, path, st.size);
    bytes = readFileSync(fd);
  } catch (e) {
    throw e instanceof IdxFormatError ? e : fileError(path, e);
  } finally {
    closeSync(fd);
  }
  return isGzip(bytes) ? gunzipBytesSync(bytes, path, maxBytesOf(options)) : bytes;
}

function fileError(path: string, e: unknown): Error {
  const err = e as NodeJS.ErrnoException;
  if (err?.code === "ENOENT") return new Error(`${path}: no such file`);
  if (err?.code === "EISDIR") return new Error(`${path}: is a directory, expected an IDX file`);
  return new Error(`${path}: cannot read (${err instanceof Error ? err.message : String(e)})`);
}
