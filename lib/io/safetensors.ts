/**
 * safetensors reader and writer (float32 only), the weight format of the PyTorch and Hugging Face
 * ecosystems.
 *
 * Layout:
 *
 *   bytes 0-7        N, the header length: unsigned 64-bit little-endian
 *   bytes 8..8+N     the header: UTF-8 JSON, an object mapping each tensor name to
 *                    { "dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end] }
 *                    plus an optional "__metadata__": { string: string }. It may be padded with
 *                    trailing spaces (we pad to a multiple of 8 so the data is 8-byte aligned).
 *   bytes 8+N..      the data buffer: each tensor's values, row-major, little-endian, at
 *                    [begin, end) relative to the start of the buffer.
 *
 * The reader treats the file as hostile: every number in the header is checked against the bytes
 * actually present before anything is allocated; offsets must lie inside the buffer, must not
 * overlap, and must cover it entirely with no gap (as the format requires); each tensor's byte size
 * must equal 4 x the product of its shape. Every error names the file and the problem.
 *
 * Tensors the caller does not want (`skip`: e.g. batch norm's int64 num_batches_tracked in a
 * PyTorch state_dict) may have any of safetensors' dtypes; their bytes are checked like the others'
 * but not read.
 */
import { openRegularFile, readExactly } from "../core/regular-file.js";

/** One float32 tensor: its shape and its values (row-major). */
export interface Tensor {
  /** Sizes, outermost first (a dense weight is [outFeatures, inFeatures], PyTorch's layout). */
  shape: number[];
  /** The values, row-major; its length is the product of `shape`. */
  data: Float32Array;
}

/** What a safetensors file holds: tensors by name, and the optional string metadata. */
export interface SafetensorsContent {
  /** The tensors by name, in the file's order. */
  tensors: Map<string, Tensor>;
  /** The header's `__metadata__` strings (empty when absent). */
  metadata: Record<string, string>;
}

/** An error in a model file (safetensors, model.json, checkpoint); `file` names it. */
export class ModelFileError extends Error {
  /** The file that was refused (the message starts with it). */
  readonly file: string;
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = "ModelFileError";
    this.file = file;
  }
}

/**
 * The largest header accepted (the format's own limit is 100 MB). A model with thousands of tensors
 * needs a few hundred kilobytes.
 */
export const MAX_HEADER_BYTES = 100_000_000;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Serialize tensors (in the order given) to safetensors bytes. Names must be non-empty and must not
 * be "__metadata__"; every shape must match its data length.
 */
export function encodeSafetensors(
  tensors: Iterable<[string, Tensor]> | Map<string, Tensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") throw new TypeError(`safetensors metadata "${k}" must be a string, received ${typeof v}`);
    }
    header["__metadata__"] = metadata;
  }
  const list: Tensor[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    if (typeof name !== "string" || name === "" || name === "__metadata__") {
      throw new TypeError(`Invalid tensor name ${JSON.stringify(name)}`);
    }
    if (name in header) throw new TypeError(`Duplicate tensor name "${name}"`);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0) || count !== t.data.length) {
      throw new RangeError(`Tensor "${name}" has shape [${t.shape.join(", ")}] but ${t.data.length} values`);
    }
    const bytes = t.data.length * 4;
    header[name] = { dtype: "F32", shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
    list.push(t);
  }
  let json = Buffer.from(JSON.stringify(header), "utf8");
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) json = Buffer.concat([json, Buffer.alloc(padded - json.length, 0x20)]);
  const out = new Uint8Array(8 + json.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let pos = 8 + json.length;
  for (const t of list) {
    if (LITTLE_ENDIAN) {
      out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    } else {
      for (let i = 0; i < t.data.length; i++) view.setFloat32(pos + 4 * i, t.data[i]!, true);
    }
    pos += t.data.length * 4;
  }
  return out;
}

/** Bytes per value of each safetensors dtype (for tensors that are skipped, not read). */
const DTYPE_BYTES: Readonly<Record<string, number>> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1 };

/** Options of decodeSafetensors and readSafetensors. */
export interface SafetensorsReadOptions {
  /** Names of tensors to leave out (checked, not read; any dtype). */
  skip?: (name: string) => boolean;
}

/** A tensor's entry in the header, checked against the data buffer. */
interface Entry {
  name: string;
  shape: number[];
  begin: number;
  end: number;
  skipped: boolean;
}

type Fail = (msg: string) => never;

/** N, the header length in the first 8 bytes of a `total`-byte file, checked against the file and the limit. */
function headerLength(first: Uint8Array, total: number, fail: Fail): number {
  if (total < 8) fail(`truncated safetensors file: ${total} bytes, but the header length alone takes 8 bytes`);
  const n64 = new DataView(first.buffer, first.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(total - 8)) {
    fail(`safetensors header length ${n64} goes beyond the end of the file (${total} bytes): the file is truncated or corrupt`);
  }
  const n = Number(n64);
  if (n > MAX_HEADER_BYTES) fail(`safetensors header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  if (n < 2) fail(`safetensors header is ${n} bytes; expected a JSON object`);
  return n;
}

/** The header's (N bytes) metadata and tensor entries, checked against a data buffer of `dataLen` bytes. */
function parseHeader(headerBytes: Uint8Array, dataLen: number, options: SafetensorsReadOptions, fail: Fail): { entries: Entry[]; metadata: Record<string, string> } {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(headerBytes);
  } catch {
    return fail("safetensors header is not valid UTF-8");
  }
  if (text[0] !== "{") fail("safetensors header is not JSON: it must start with '{'");
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`safetensors header is not JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    fail("safetensors header is not a JSON object");
  }

  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (raw === null || typeof raw !== "object" || Array.isArray(raw)) fail(`safetensors "__metadata__" is not an object`);
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== "string") fail(`safetensors "__metadata__.${k}" is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) fail(`tensor "${name}": entry is not an object`);
    const e = raw as Record<string, unknown>;
    const skipped = options.skip?.(name) === true;
    const dtype = e["dtype"];
    if (dtype !== "F32" && !(skipped && typeof dtype === "string" && Object.hasOwn(DTYPE_BYTES, dtype))) {
      fail(`tensor "${name}" has dtype ${JSON.stringify(dtype)}; only F32 (float32) is supported`);
    }
    const size = DTYPE_BYTES[dtype as string]!;
    const shape = e["shape"];
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`tensor "${name}": "shape" must be an array of non-negative integers`);
    }
    const offs = e["data_offsets"];
    if (
      !Array.isArray(offs) ||
      offs.length !== 2 ||
      !offs.every((d) => Number.isSafeInteger(d) && d >= 0)
    ) {
      fail(`tensor "${name}": "data_offsets" must be two non-negative integers [begin, end]`);
    }
    const [begin, end] = offs as [number, number];
    if (begin > end) fail(`tensor "${name}": data_offsets [${begin}, ${end}] has begin after end`);
    if (end > dataLen) {
      fail(`tensor "${name}": data_offsets [${begin}, ${end}] lie outside the ${dataLen}-byte data buffer (file truncated?)`);
    }
    // The element count, capped: once it exceeds what the buffer can hold it cannot match.
    let count = (shape as number[]).includes(0) ? 0 : 1;
    for (const d of shape as number[]) {
      if (count === 0 || count > dataLen) break;
      count *= d;
    }
    if (count * size !== end - begin) {
      fail(`tensor "${name}": shape [${(shape as number[]).join(", ")}] needs ${count * size} bytes but data_offsets span ${end - begin}`);
    }
    entries.push({ name, shape: shape as number[], begin, end, skipped });
  }

  // Offsets must tile the data buffer exactly: sorted by begin, each starts where the last ended.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const e of sorted) {
    if (e.begin < pos) fail(`tensor "${e.name}": data_offsets [${e.begin}, ${e.end}] overlap another tensor`);
    if (e.begin > pos) fail(`data bytes [${pos}, ${e.begin}) belong to no tensor: offsets do not cover the data buffer`);
    pos = e.end;
  }
  if (pos !== dataLen) {
    fail(`data bytes [${pos}, ${dataLen}) belong to no tensor: offsets do not cover the data buffer (trailing bytes)`);
  }
  return { entries, metadata };
}

/** The tensors of a checked header, copied out of the data buffer (`data`: the bytes after the header). */
function tensorsOf(entries: Entry[], data: Uint8Array): Map<string, Tensor> {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const tensors = new Map<string, Tensor>();
  for (const e of entries) {
    if (e.skipped) continue;
    const count = (e.end - e.begin) / 4;
    const values = new Float32Array(count);
    if (LITTLE_ENDIAN) {
      new Uint8Array(values.buffer).set(data.subarray(e.begin, e.end));
    } else {
      for (let i = 0; i < count; i++) values[i] = view.getFloat32(e.begin + 4 * i, true);
    }
    tensors.set(e.name, { shape: e.shape, data: values });
  }
  return tensors;
}

/**
 * Parse safetensors bytes. `file` names the source in errors. Throws `ModelFileError` for anything
 * malformed; never allocates more than the input's own size.
 */
export function decodeSafetensors(bytes: Uint8Array, file: string, options: SafetensorsReadOptions = {}): SafetensorsContent {
  const fail = (msg: string): never => {
    throw new ModelFileError(file, msg);
  };
  const n = headerLength(bytes, bytes.length, fail);
  const { entries, metadata } = parseHeader(bytes.subarray(8, 8 + n), bytes.length - 8 - n, options, fail);
  return { tensors: tensorsOf(entries, bytes.subarray(8 + n)), metadata };
}

/**
 * Read and parse a safetensors file. Only a regular file is read (a FIFO or a device is refused at
 * once), and its header is read and checked against the file's size before the data: a file whose
 * header is wrong costs its first bytes, not its whole size.
 */
export async function readSafetensors(path: string, options: SafetensorsReadOptions = {}): Promise<SafetensorsContent> {
  const fail = (msg: string): never => {
    throw new ModelFileError(path, msg);
  };
  const file = await openRegularFile(path, (problem) => new ModelFileError(path, `the safetensors file ${problem}`));
  try {
    const read = (position: number, length: number): Promise<Uint8Array> =>
      readExactly(file, position, length, (problem) => new ModelFileError(path, `the safetensors file ${problem}`));
    const n = headerLength(await read(0, Math.min(8, file.size)), file.size, fail);
    const dataLen = file.size - 8 - n;
    const { entries, metadata } = parseHeader(await read(8, n), dataLen, options, fail);
    return { tensors: tensorsOf(entries, await read(8 + n, dataLen)), metadata };
  } finally {
    await file.handle.close();
  }
}
