/**
 * The IDX format (the MNIST family's files): element types, the header, decoding bytes into typed
 * arrays and encoding them back. Reading files (plain or gzip, streamed) is idx.ts.
 *
 * Layout (all integers big-endian):
 *
 *   bytes 0-1   0x00 0x00
 *   byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
 *   byte  3     number of dimensions d (1..255)
 *   then        d uint32 sizes, outermost first
 *   then        the elements, row-major, big-endian
 *
 * Every size read from a header is checked against the bytes actually present before anything is
 * allocated, so a corrupt or hostile header can only produce an error, never a huge allocation.
 */
import { gzipSync } from "node:zlib";
import { checkOptions } from "../core/options.js";

/** Element types an IDX file can hold, by their names here. */
export type IdxDtype = "uint8" | "int8" | "int16" | "int32" | "float32" | "float64";

/** The typed array holding each element type. */
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/** One IDX file's contents: its element type, its dimensions and its elements (row-major). */
export interface IdxArray {
  /** Element type as the header declares it (ubyte for MNIST images and labels), also the type of `data`. */
  dtype: IdxDtype;
  /** Sizes, outermost first: `[60000, 28, 28]` for MNIST training images. */
  shape: number[];
  /** All elements, row-major, in native byte order. Its length is the product of `shape`. */
  data: IdxData;
}


export interface DtypeInfo {
  code: number;
  name: IdxDtype;
  size: number;
}

export const DTYPES: readonly DtypeInfo[] = [
  { code: 0x08, name: "uint8", size: 1 },
  { code: 0x09, name: "int8", size: 1 },
  { code: 0x0b, name: "int16", size: 2 },
  { code: 0x0c, name: "int32", size: 4 },
  { code: 0x0d, name: "float32", size: 4 },
  { code: 0x0e, name: "float64", size: 8 },
];

/** An error reading an IDX file; `file` names it. */
export class IdxFormatError extends Error {
  /** The file (or the name given for an in-memory buffer) that was refused. */
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

export interface Header {
  dtype: DtypeInfo;
  shape: number[];
  headerBytes: number;
  count: number;
}

function hex(b: number | undefined): string {
  return b === undefined ? "(missing)" : `0x${b.toString(16).padStart(2, "0").toUpperCase()}`;
}

/**
 * The header at the start of `bytes`, checked against `fileBytes`, the size of the whole file
 * (default: `bytes` is the whole file), so that a file can be refused from its first bytes. With
 * `fileBytes` null (a stream whose end is not known yet) the data size is not checked: the caller
 * checks it (checkDataBytes) once the stream ends.
 */
export function parseHeader(bytes: Uint8Array, file: string, fileBytes: number | null = bytes.length): Header {
  const known = fileBytes ?? bytes.length;
  if (bytes.length < 4) {
    throw new IdxFormatError(file, `truncated: ${known} bytes is too short for an IDX header (at least 4 bytes)`);
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
      `truncated header: ${ndims} dimensions need ${headerBytes} header bytes but the file has ${known}`,
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
  const h = { dtype, shape, headerBytes, count };
  if (fileBytes !== null) checkDataBytes(h, file, fileBytes - headerBytes);
  return h;
}

/** The size of the header that starts with `head` (null until its first 4 bytes are there). */
export function headerBytesOf(head: Uint8Array): number | null {
  return head.length < 4 ? null : 4 + 4 * head[3]!;
}

/** The header declares `count` elements: `dataBytes` of data after it must be exactly their size. */
export function checkDataBytes(h: Header, file: string, dataBytes: number): void {
  const { dtype, shape, headerBytes, count } = h;
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
}

/**
 * The elements of `body`, which holds exactly the `h.count` elements after the header. The result
 * keeps `body` itself when the elements are bytes, so `body` must not be a view into shared memory.
 */
export function decodeBody(h: Header, body: Uint8Array): IdxArray {
  let data: IdxData;
  switch (h.dtype.name) {
    case "uint8":
      data = body;
      break;
    case "int8":
      data = new Int8Array(body.buffer, body.byteOffset, body.length);
      break;
    default:
      data = readBigEndian(h.dtype, new DataView(body.buffer, body.byteOffset, body.byteLength), h.count);
  }
  return { dtype: h.dtype.name, shape: h.shape, data };
}

export function decode(bytes: Uint8Array, file: string): IdxArray {
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

