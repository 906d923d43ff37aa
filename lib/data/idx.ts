/**
 * Reading IDX files (the MNIST family's format; see idx-format.ts), plain or gzip-compressed.
 *
 * A gzip file is recognised by its own magic (0x1F 0x8B), not by its name. readIdx streams a gzip
 * file through node:zlib into one array of the size its header declares (the compressed bytes are
 * never all in memory); readIdxSync and parseIdx decompress in one piece. Every size read from a
 * header is checked before anything is allocated, and every error names the file.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, readSync, type Stats } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import { createGunzip, gunzipSync } from "node:zlib";
import { checkOptions } from "../core/options.js";
import { checkDataBytes, decode, decodeBody, headerBytesOf, IdxFormatError, isGzip, parseHeader, type Header, type IdxArray, type IdxDtype } from "./idx-format.js";

export { encodeIdx, IdxFormatError, isGzip, type IdxArray, type IdxData, type IdxDtype } from "./idx-format.js";

/** Options of readIdx, readIdxSync and parseIdx. */
export interface IdxReadOptions {
  /**
   * The largest decompressed size accepted from a gzip file, in bytes (default 1 GiB). Guards
   * against a small compressed file that expands without bound.
   */
  maxBytes?: number;
  /**
   * Give a file of images (N, H, W) the shape (N, 1, H, W): one channel, the NCHW layout `conv2d`
   * takes. The elements are the same; only `shape` changes. The file must have 3 dimensions.
   * Default false.
   */
  channelAxis?: boolean;
}

const IDX_READ_OPTIONS = ["maxBytes", "channelAxis"];

const DEFAULT_MAX_BYTES = 1024 * 1024 * 1024;

/**
 * Deflate's largest compression ratio (about 1032:1): a gzip file of S bytes cannot decompress to
 * more than this many times S, so a header declaring more is refused before anything is allocated.
 */
const DEFLATE_MAX_RATIO = 1032;

/**
 * Parse an IDX file already in memory (decompressed or gzip). `source` names it in errors.
 */
export function parseIdx(bytes: Uint8Array, source = "<buffer>", options: IdxReadOptions = {}): IdxArray {
  checkOptions(options, IDX_READ_OPTIONS, "parseIdx");
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`Expected a Uint8Array (or Buffer) for bytes but received ${typeof bytes}`);
  }
  const channelAxis = channelAxisOf(options);
  const raw = isGzip(bytes) ? gunzipBytesSync(bytes, source, maxBytesOf(options)) : bytes;
  return withChannelAxis(decode(raw, source), source, channelAxis);
}

/** Read an IDX file (plain or gzip) synchronously. */
export function readIdxSync(path: string, options: IdxReadOptions = {}): IdxArray {
  checkOptions(options, IDX_READ_OPTIONS, "readIdxSync");
  const channelAxis = channelAxisOf(options);
  return withChannelAxis(decode(readRawSync(path, options), path), path, channelAxis);
}

/** Read an IDX file (plain or gzip). A gzip file is streamed; decompression runs off the main thread. */
export async function readIdx(path: string, options: IdxReadOptions = {}): Promise<IdxArray> {
  checkOptions(options, IDX_READ_OPTIONS, "readIdx");
  checkPath(path);
  const channelAxis = channelAxisOf(options);
  const maxBytes = maxBytesOf(options);
  const fh = await open(path, READ_FLAGS).catch((e: unknown) => {
    throw fileError(path, e);
  });
  let array: IdxArray;
  try {
    const st = await fh.stat();
    checkRegular(path, st);
    const head = Buffer.alloc(Math.min(st.size, MAX_HEADER_BYTES));
    await fh.read(head, 0, head.length, 0);
    if (isGzip(head)) {
      array = await readGzipStream(fh, path, Math.min(maxBytes, DEFLATE_MAX_RATIO * st.size), maxBytes);
    } else {
      parseHeader(head, path, st.size); // a bad header or size fails before the body is read
      array = decode(await fh.readFile(), path);
    }
  } catch (e) {
    throw e instanceof IdxFormatError ? e : fileError(path, e);
  } finally {
    await fh.close();
  }
  return withChannelAxis(array, path, channelAxis);
}

/**
 * Read only the header of an IDX file: its element type and shape, checked against the file's size.
 * For a gzip file this still decompresses the whole file (gzip has no reliable size field).
 */
export function readIdxHeaderSync(path: string, options: IdxReadOptions = {}): { dtype: IdxDtype; shape: number[] } {
  checkOptions(options, IDX_READ_OPTIONS, "readIdxHeaderSync");
  const channelAxis = channelAxisOf(options);
  const h = parseHeader(readRawSync(path, options), path);
  const shape = channelAxis ? channelShape(h.shape, path) : h.shape;
  return { dtype: h.dtype.name, shape };
}

// ---------------------------------------------------------------------------------------------

function maxBytesOf(options: IdxReadOptions): number {
  const m = options.maxBytes ?? DEFAULT_MAX_BYTES;
  if (!Number.isSafeInteger(m) || m <= 0) {
    throw new RangeError(`Invalid maxBytes: ${m}; expected a positive integer`);
  }
  return m;
}

function channelAxisOf(options: IdxReadOptions): boolean {
  const v = options.channelAxis ?? false;
  if (typeof v !== "boolean") {
    throw new TypeError(`Invalid channelAxis: expected true or false but received ${JSON.stringify(v) ?? typeof v}`);
  }
  return v;
}

/** (N, H, W) -> (N, 1, H, W), or an error naming the file's shape. */
function channelShape(shape: readonly number[], file: string): number[] {
  if (shape.length !== 3) {
    throw new IdxFormatError(
      file,
      `channelAxis: expected images of shape [count, rows, cols] (3 dimensions) to give the shape [count, 1, rows, cols], ` +
        `but the file holds shape [${shape.join(", ")}]; leave channelAxis unset for this file`,
    );
  }
  return [shape[0]!, 1, shape[1]!, shape[2]!];
}

function withChannelAxis(a: IdxArray, file: string, channelAxis: boolean): IdxArray {
  return channelAxis ? { ...a, shape: channelShape(a.shape, file) } : a;
}

/**
 * Decompress the gzip file `fh` as a stream, the header first, then the data straight into an array
 * of the size the header declares. `allocLimit` caps what a header may make us allocate (the larger
 * of maxBytes and what the file's compressed size can expand to); `maxBytes` caps the bytes
 * decompressed.
 */
async function readGzipStream(fh: FileHandle, path: string, allocLimit: number, maxBytes: number): Promise<IdxArray> {
  let head = new Uint8Array(0);
  let h: Header | null = null;
  let body = new Uint8Array(0);
  let dataBytes = 0; // data bytes decompressed (those past the declared size are counted, not kept)
  let total = 0;
  // What consume threw: pipeline rejects with an abort of the other streams instead.
  let failure: IdxFormatError | null = null;
  const consume = async (source: AsyncIterable<Buffer>): Promise<void> => {
    try {
      await take(source);
    } catch (e) {
      if (e instanceof IdxFormatError) failure = e;
      throw e;
    }
  };
  const take = async (source: AsyncIterable<Buffer>): Promise<void> => {
    for await (const chunk of source) {
      total += chunk.length;
      if (total > maxBytes) throw gunzipError(path, { code: "ERR_BUFFER_TOO_LARGE" }, maxBytes);
      let data: Uint8Array = chunk;
      if (!h) {
        const joined = new Uint8Array(head.length + chunk.length);
        joined.set(head);
        joined.set(chunk, head.length);
        head = joined;
        const headerBytes = headerBytesOf(head);
        if (headerBytes === null || head.length < headerBytes) continue;
        const header = parseHeader(head, path, null);
        const needed = header.count * header.dtype.size;
        if (header.headerBytes + needed > allocLimit) {
          const over = header.headerBytes + needed > maxBytes;
          throw new IdxFormatError(
            path,
            `the header declares ${header.dtype.name} [${header.shape.join(", ")}] = ${header.headerBytes + needed} bytes, ` +
              (over
                ? `more than maxBytes = ${maxBytes} bytes; pass a larger { maxBytes } if the file is genuine`
                : `more than the ${allocLimit} bytes a gzip file of its size can hold: truncated data or a corrupt header`),
          );
        }
        h = header;
        body = new Uint8Array(needed);
        data = head.subarray(header.headerBytes);
      }
      const room = body.length - dataBytes;
      if (room > 0) body.set(room >= data.length ? data : data.subarray(0, room), dataBytes);
      dataBytes += data.length;
    }
  };
  try {
    await pipeline(fh.createReadStream({ start: 0, autoClose: false }), createGunzip(), consume);
  } catch (e) {
    throw failure ?? (e instanceof IdxFormatError ? e : gunzipError(path, e, maxBytes));
  }
  if (!h) {
    parseHeader(head, path); // the stream ended inside the header: this throws, naming what is missing
    throw new IdxFormatError(path, "internal: an incomplete header was accepted");
  }
  checkDataBytes(h, path, dataBytes);
  return decodeBody(h, body);
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
