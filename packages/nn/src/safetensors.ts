import { LdmError } from '@ldm/backend';
import { HeaderSyntaxError, METADATA_KEY, readSafetensorsHeader, type RawHeader, type RawHeaderEntry } from './safetensors-header';
import { f16BitsToFloat, floatToBf16Bits, floatToF16Bits } from './half-float';

/**
 * The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * header length N, N bytes of UTF-8 JSON, then the tensor bytes. Validation follows the reference
 * Rust library: the same limits and the same rules, checked before any tensor is allocated, so a
 * hostile file costs at most its own size in memory.
 */

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

export interface TensorRecord {
  shape: number[];
  data: Float32Array;
  /** The dtype the tensor had in the file; writing uses F32 unless given. */
  dtype?: SafetensorsDtype;
}

export interface SafetensorsFile {
  tensors: Map<string, TensorRecord>;
  metadata: Record<string, string>;
}

/** The reference library's limit: larger headers are refused before they are read. */
export const MAX_HEADER_BYTES = 100_000_000;

const SUPPORTED_DTYPE_BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };

/** Every dtype the format defines; these are recognised and refused by name rather than called garbage. */
const KNOWN_UNSUPPORTED_DTYPES = new Set([
  'BOOL',
  'U8',
  'I8',
  'F8_E5M2',
  'F8_E4M3',
  'F8_E8M0',
  'F4',
  'F6_E2M3',
  'F6_E3M2',
  'I16',
  'U16',
  'I32',
  'U32',
  'F64',
  'I64',
  'U64',
  'C64',
]);

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function corrupt(source: string, problem: string): LdmError {
  return new LdmError('CORRUPT_FILE', `${source}: not a valid safetensors file: ${problem}`);
}

function isSupportedDtype(d: string): d is SafetensorsDtype {
  return Object.hasOwn(SUPPORTED_DTYPE_BYTES, d);
}

/** Element count, or -1 once it exceeds `limit`, so overflowing shapes never reach a multiplication that loses precision. */
function elementCount(shape: readonly number[], limit: number): number {
  if (shape.includes(0)) return 0;
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (n > limit) return -1;
  }
  return n;
}

interface HeaderEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

function readHeaderLength(bytes: Uint8Array, source: string): number {
  if (bytes.length < 8) throw corrupt(source, `${bytes.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  if (hi !== 0 || lo > MAX_HEADER_BYTES) {
    throw corrupt(source, `header length ${hi * 2 ** 32 + lo} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  if (lo > bytes.length - 8) {
    throw corrupt(source, `header length ${lo} runs past the end of the file (${bytes.length - 8} bytes after the length field; truncated?)`);
  }
  return lo;
}

function parseEntry(raw: RawHeaderEntry, dataBytes: number, source: string): HeaderEntry {
  const { name, dtype, shape, dataOffsets: offsets } = raw;
  const where = `tensor '${name}'`;
  if (dtype === undefined) throw corrupt(source, `${where}: 'dtype' is missing`);
  if (!isSupportedDtype(dtype)) {
    if (KNOWN_UNSUPPORTED_DTYPES.has(dtype)) {
      throw corrupt(source, `${where}: dtype ${dtype} is not supported by this reader (supported: F32, F16, BF16)`);
    }
    throw corrupt(source, `${where}: unknown dtype ${JSON.stringify(dtype).slice(0, 40)}`);
  }
  if (shape === undefined) throw corrupt(source, `${where}: 'shape' is missing`);
  if (offsets === undefined || offsets.length !== 2) {
    throw corrupt(source, `${where}: 'data_offsets' must be two non-negative integers [begin, end]`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw corrupt(source, `${where}: data_offsets [${begin}, ${end}] has begin > end`);
  if (end > dataBytes) {
    throw corrupt(source, `${where}: data_offsets [${begin}, ${end}] run past the ${dataBytes}-byte data section (truncated?)`);
  }
  const size = SUPPORTED_DTYPE_BYTES[dtype];
  const numel = elementCount(shape, dataBytes);
  if (numel < 0 || numel * size !== end - begin) {
    throw corrupt(
      source,
      `${where}: shape [${shape.join(', ')}] of ${dtype} needs ${numel < 0 ? 'more than the file holds' : `${numel * size} bytes`}, but data_offsets span ${end - begin}`,
    );
  }
  return { name, dtype, shape, begin, end };
}

/** The tensors must tile the data section exactly: sorted by offset, each starts where the previous ended. */
function checkCoverage(entries: HeaderEntry[], dataBytes: number, source: string): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const e of sorted) {
    if (e.begin !== cursor) {
      throw corrupt(
        source,
        e.begin < cursor
          ? `tensor '${e.name}' at bytes [${e.begin}, ${e.end}] overlaps the tensor before it (which ends at ${cursor})`
          : `bytes [${cursor}, ${e.begin}) of the data section belong to no tensor`,
      );
    }
    cursor = e.end;
  }
  if (cursor !== dataBytes) {
    throw corrupt(source, `the tensors cover ${cursor} bytes but the data section holds ${dataBytes}`);
  }
}

let f16Lookup: Float32Array | undefined;

/** All 65536 binary16 values (256 KB, built on first use): decoding becomes one lookup per element. */
function f16Table(): Float32Array {
  if (!f16Lookup) {
    f16Lookup = new Float32Array(0x10000);
    for (let h = 0; h < 0x10000; h++) f16Lookup[h] = f16BitsToFloat(h);
  }
  return f16Lookup;
}

function decode(bytes: Uint8Array, dtype: SafetensorsDtype, numel: number): Float32Array {
  const out = new Float32Array(numel);
  if (dtype === 'F32') {
    if (LITTLE_ENDIAN_HOST) {
      // Copy through a fresh, aligned Uint8Array: the result never aliases the caller's buffer.
      new Uint8Array(out.buffer).set(bytes);
    } else {
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let i = 0; i < numel; i++) out[i] = view.getFloat32(4 * i, true);
    }
    return out;
  }
  if (dtype === 'BF16') {
    // bfloat16 is the top half of a float32: shift the bits into place, no arithmetic.
    const outBits = new Uint32Array(out.buffer);
    for (let i = 0; i < numel; i++) outBits[i] = (bytes[2 * i]! | (bytes[2 * i + 1]! << 8)) << 16;
    return out;
  }
  const table = f16Table();
  for (let i = 0; i < numel; i++) out[i] = table[bytes[2 * i]! | (bytes[2 * i + 1]! << 8)]!;
  return out;
}

/**
 * Parses a safetensors file held in memory. F16 and BF16 tensors are decoded to float32 (their file
 * dtype is kept in `dtype`). Anything malformed raises LdmError('CORRUPT_FILE') naming `source`.
 */
export function parseSafetensors(bytes: Uint8Array, source = '<buffer>'): SafetensorsFile {
  const n = readHeaderLength(bytes, source);
  if (n < 2 || bytes[8] !== 0x7b /* '{' */) throw corrupt(source, 'the header does not start with a JSON object');
  let header: RawHeader;
  try {
    header = readSafetensorsHeader(bytes, 8, 8 + n);
  } catch (e) {
    if (e instanceof HeaderSyntaxError) throw corrupt(source, `bad header: ${e.message}`);
    throw e;
  }
  const dataStart = 8 + n;
  const dataBytes = bytes.length - dataStart;
  const entries = header.entries.map((raw) => parseEntry(raw, dataBytes, source));
  const metadata = header.metadata;
  checkCoverage(entries, dataBytes, source);

  const tensors = new Map<string, TensorRecord>();
  for (const e of entries) {
    const numel = (e.end - e.begin) / SUPPORTED_DTYPE_BYTES[e.dtype];
    const data = decode(bytes.subarray(dataStart + e.begin, dataStart + e.end), e.dtype, numel);
    tensors.set(e.name, { shape: e.shape, data, dtype: e.dtype });
  }
  return { tensors, metadata };
}

const utf8 = new TextEncoder();

/** Byte-wise UTF-8 order, as Rust sorts `String`s (differs from JS string order beyond the BMP). */
function compareUtf8(a: string, b: string): number {
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

function encode(data: Float32Array, dtype: SafetensorsDtype, out: Uint8Array): void {
  if (dtype === 'F32') {
    if (LITTLE_ENDIAN_HOST) {
      out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    } else {
      const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
      for (let i = 0; i < data.length; i++) view.setFloat32(4 * i, data[i]!, true);
    }
    return;
  }
  const encodeOne = dtype === 'F16' ? floatToF16Bits : floatToBf16Bits;
  for (let i = 0; i < data.length; i++) {
    const h = encodeOne(data[i]!);
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = h >>> 8;
  }
}

/**
 * Serialises tensors the way the reference library writes them: tensors sorted by name (all dtypes
 * here share one alignment), compact JSON with `__metadata__` first, the header padded with spaces
 * to a multiple of 8 bytes so every tensor starts 8-byte aligned.
 */
export function serializeSafetensors(tensors: ReadonlyMap<string, TensorRecord>, metadata?: Record<string, string>): Uint8Array {
  const names = [...tensors.keys()].sort(compareUtf8);
  // Built by hand: a JS object would move integer-like keys ("0", "1") ahead of the others.
  const parts: string[] = [];
  if (metadata && Object.keys(metadata).length > 0) {
    const meta: string[] = [];
    for (const k of Object.keys(metadata).sort(compareUtf8)) {
      const v = metadata[k];
      if (typeof v !== 'string') {
        throw new LdmError('INVALID_ARGUMENT', `safetensors metadata '${k}' must be a string, got ${typeof v}`);
      }
      meta.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
    }
    parts.push(`${JSON.stringify(METADATA_KEY)}:{${meta.join(',')}}`);
  }
  let offset = 0;
  for (const name of names) {
    if (name === METADATA_KEY) throw new LdmError('INVALID_ARGUMENT', `'${METADATA_KEY}' is reserved and cannot name a tensor`);
    const t = tensors.get(name)!;
    const dtype = t.dtype ?? 'F32';
    if (!isSupportedDtype(dtype)) {
      throw new LdmError('INVALID_ARGUMENT', `tensor '${name}': dtype ${String(dtype)} cannot be written (supported: F32, F16, BF16)`);
    }
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new LdmError('INVALID_ARGUMENT', `tensor '${name}': shape [${t.shape.join(', ')}] must hold non-negative integers`);
    }
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length) {
      throw new LdmError('SHAPE_MISMATCH', `tensor '${name}': shape [${t.shape.join(', ')}] has ${numel} elements but the data holds ${t.data.length}`);
    }
    const end = offset + numel * SUPPORTED_DTYPE_BYTES[dtype];
    parts.push(`${JSON.stringify(name)}:${JSON.stringify({ dtype, shape: t.shape, data_offsets: [offset, end] })}`);
    offset = end;
  }
  const json = utf8.encode(`{${parts.join(',')}}`);
  const padded = json.length + ((8 - (json.length % 8)) % 8);
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  const dataStart = 8 + padded;
  let cursor = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    const dtype = t.dtype ?? 'F32';
    const size = t.data.length * SUPPORTED_DTYPE_BYTES[dtype];
    encode(t.data, dtype, out.subarray(dataStart + cursor, dataStart + cursor + size));
    cursor += size;
  }
  return out;
}
