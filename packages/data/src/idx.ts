import { readFileSync } from 'node:fs';
import { constants, gunzipSync } from 'node:zlib';
import { LdmError } from '@ldm/backend';
import { byteToSigned, DEFAULT_IMAGE_SIZE } from './dataset';
import type { ImageDataset } from './dataset';

/** An IDX array of unsigned bytes: the MNIST family's file format. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

export interface IdxOptions {
  /** Pad images smaller than 32×32 to 32×32 with background (-1). Default true; images larger than 32 are left alone unless asked explicitly. */
  padTo32?: boolean;
}

const UNSIGNED_BYTE = 0x08;

function readMaybeGzipped(path: string): Uint8Array {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new LdmError('FILE_NOT_FOUND', `${path}: IDX file not found`, { cause: error });
    throw new LdmError('BAD_DATA', `${path}: cannot read IDX file (${(error as Error).message})`, { cause: error });
  }
  // Detected by gzip's magic bytes rather than the name: both `x.gz` and a renamed file work.
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) return gunzipCapped(raw, path);
  return raw;
}

/** The most an IDX file may hold: its images become float32, four bytes each, in memory. */
export const MAX_IDX_BYTES = 1 << 30;

/**
 * Decompresses a gzipped IDX file no further than its header says it holds. The header comes from
 * the first few kilobytes; the rest is inflated with zlib's output cap, so a gzip bomb posing as an
 * IDX file stops at the declared size instead of filling memory with gigabytes first.
 */
function gunzipCapped(raw: Buffer, path: string): Uint8Array {
  let head: Buffer;
  try {
    // A cut stream with a sync flush gives what it holds so far instead of an error.
    head = gunzipSync(raw.subarray(0, Math.min(raw.length, 4096)), { finishFlush: constants.Z_SYNC_FLUSH });
  } catch (error) {
    throw new LdmError('CORRUPT_FILE', `${path}: gzip data is corrupt (${(error as Error).message})`, { cause: error });
  }
  if (head.length < 8) {
    // Too little came out to hold a header: let zlib say what is wrong with the stream (bounded output).
    try {
      gunzipSync(raw, { maxOutputLength: 1 << 16 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') {
        throw new LdmError('CORRUPT_FILE', `${path}: gzip data is corrupt (${(error as Error).message})`, { cause: error });
      }
    }
  }
  const declared = declaredIdxBytes(head, path);
  try {
    return gunzipSync(raw, { maxOutputLength: declared + 1 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new LdmError('CORRUPT_FILE', `${path}: decompresses to more than the ${declared} bytes its IDX header declares`, { cause: error });
    }
    throw new LdmError('CORRUPT_FILE', `${path}: gzip data is corrupt (${(error as Error).message})`, { cause: error });
  }
}

/** Header plus data size an IDX header declares, refused beyond MAX_IDX_BYTES. */
function declaredIdxBytes(head: Uint8Array, source: string): number {
  if (head.length < 4 || head[0] !== 0 || head[1] !== 0) throw new LdmError('CORRUPT_FILE', `${source}: not an IDX file (bad magic number)`);
  const ndims = head[3]!;
  const headerLength = 4 + 4 * ndims;
  if (head.length < headerLength) throw new LdmError('CORRUPT_FILE', `${source}: too short for an IDX header of ${ndims} dimensions`);
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  let count = 1;
  for (let d = 0; d < ndims; d++) count *= view.getUint32(4 + 4 * d, false);
  if (headerLength + count > MAX_IDX_BYTES) {
    throw new LdmError('BAD_DATA', `${source}: the IDX header declares ${count} bytes of data, more than the ${MAX_IDX_BYTES} this tool loads`);
  }
  return headerLength + count;
}

/**
 * Parses IDX bytes: magic 0x00 0x00 <type> <ndims>, ndims big-endian uint32 sizes, then the data.
 * `source` names the file in errors. Only unsigned-byte data (type 0x08), which is what MNIST-family files hold.
 */
export function parseIdx(bytes: Uint8Array, source: string, expectedDims?: number): IdxArray {
  if (bytes.length < 4) throw new LdmError('CORRUPT_FILE', `${source}: ${bytes.length} bytes, too short for an IDX header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  const type = bytes[2]!;
  const ndims = bytes[3]!;
  if (bytes[0] !== 0 || bytes[1] !== 0 || type !== UNSIGNED_BYTE || ndims === 0 || (expectedDims !== undefined && ndims !== expectedDims)) {
    const want = expectedDims === undefined ? '0x000008NN' : `0x0000080${expectedDims}`;
    throw new LdmError(
      'CORRUPT_FILE',
      `${source}: IDX magic number is 0x${magic.toString(16).padStart(8, '0')}, expected ${want} (unsigned bytes, ${expectedDims ?? 'N'} dimensions)`,
    );
  }
  const headerLength = 4 + 4 * ndims;
  if (bytes.length < headerLength) {
    throw new LdmError('CORRUPT_FILE', `${source}: ${bytes.length} bytes, too short for an IDX header of ${ndims} dimensions`);
  }
  const dims: number[] = [];
  for (let d = 0; d < ndims; d++) dims.push(view.getUint32(4 + 4 * d, false));
  const count = dims.reduce((a, b) => a * b, 1);
  if (bytes.length !== headerLength + count) {
    throw new LdmError(
      'CORRUPT_FILE',
      `${source}: header says ${dims.join('×')} = ${count} bytes of data after a ${headerLength}-byte header, but the file holds ${bytes.length - headerLength}`,
    );
  }
  return { dims, data: bytes.subarray(headerLength) };
}

/** Encodes unsigned bytes as an IDX file (big-endian header), e.g. to export a dataset in MNIST's format. */
export function encodeIdx(data: Uint8Array, dims: number[]): Uint8Array {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new LdmError('SHAPE_MISMATCH', `encodeIdx: dims ${dims.join('×')} need ${count} bytes, got ${data.length}`);
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = UNSIGNED_BYTE;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** Reads an IDX image file (magic 0x00000803, n×h×w bytes) and optionally its label file (0x00000801), gzipped or plain. */
export function loadIdx(imagesPath: string, labelsPath?: string, options: IdxOptions = {}): ImageDataset {
  const images = parseIdx(readMaybeGzipped(imagesPath), imagesPath, 3);
  const [n, h, w] = images.dims as [number, number, number];
  const asked = options.padTo32;
  if (asked === true && (h > DEFAULT_IMAGE_SIZE || w > DEFAULT_IMAGE_SIZE)) {
    throw new LdmError('INVALID_ARGUMENT', `${imagesPath}: padTo32 asked for, but its images are ${h}×${w}, larger than 32×32`);
  }
  const pad = (asked ?? true) && h <= DEFAULT_IMAGE_SIZE && w <= DEFAULT_IMAGE_SIZE;
  // Converted straight into the padded layout: one pass, no intermediate 28×28 copy.
  const [outH, outW] = pad ? [DEFAULT_IMAGE_SIZE, DEFAULT_IMAGE_SIZE] : [h, w];
  const top = Math.floor((outH - h) / 2);
  const left = Math.floor((outW - w) / 2);
  const table = Float32Array.from({ length: 256 }, (_, b) => byteToSigned(b));
  const pixels = new Float32Array(n * outH * outW).fill(-1);
  const src = images.data;
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < h; y++) {
      const from = (i * h + y) * w;
      const to = (i * outH + y + top) * outW + left;
      for (let x = 0; x < w; x++) pixels[to + x] = table[src[from + x]!]!;
    }
  }
  const ds: ImageDataset = { images: pixels, shape: [n, outH, outW, 1], name: `idx:${imagesPath}` };
  if (labelsPath !== undefined) {
    const labels = parseIdx(readMaybeGzipped(labelsPath), labelsPath, 1);
    if (labels.dims[0] !== n) {
      throw new LdmError('SHAPE_MISMATCH', `${labelsPath}: ${labels.dims[0]} labels for the ${n} images of ${imagesPath}`);
    }
    ds.labels = Int32Array.from(labels.data);
    ds.numClasses = labels.data.reduce((m, v) => Math.max(m, v), -1) + 1;
  }
  return ds;
}
