import { readFile } from 'node:fs/promises';
import { LdmError, writeFileAtomic } from '@ldm/backend';

/** A float32 array with its shape, as stored in a .npy file. */
export interface NpyArray {
  data: Float32Array;
  shape: number[];
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ALIGN = 64;
// numpy reserves room for the first axis to grow to 21 digits, so files can be appended in place.
const GROWTH_AXIS_MAX_DIGITS = 21;

function pythonTuple(shape: number[]): string {
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

/** The exact header numpy ≥ 1.23 writes with `np.save` for a C-order '<f4' array (format 1.0). */
export function npyHeader(shape: number[]): Uint8Array {
  let dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${pythonTuple(shape)}, }`;
  if (shape.length > 0) dict += ' '.repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length));
  const unpadded = MAGIC.length + 2 + 2 + dict.length + 1;
  // As numpy: an already aligned header still gets a full block of padding.
  const padding = ALIGN - (unpadded % ALIGN);
  const text = `${dict}${' '.repeat(padding)}\n`;
  if (text.length > 0xffff) throw new LdmError('INVALID_ARGUMENT', `npy: shape ${pythonTuple(shape)} makes a header too long for format 1.0`);
  const out = new Uint8Array(MAGIC.length + 4 + text.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  out[8] = text.length & 0xff;
  out[9] = text.length >> 8;
  for (let i = 0; i < text.length; i++) out[10 + i] = text.charCodeAt(i);
  return out;
}

/** Bytes of a .npy file (format 1.0, little-endian float32, C order). */
export function encodeNpy(data: Float32Array, shape: number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (!shape.every((d) => Number.isInteger(d) && d >= 0) || count !== data.length) {
    throw new LdmError('SHAPE_MISMATCH', `npy: shape ${pythonTuple(shape)} holds ${count} values, got ${data.length}`);
  }
  const header = npyHeader(shape);
  const out = new Uint8Array(header.length + data.length * 4);
  out.set(header, 0);
  const view = new DataView(out.buffer, header.length);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i]!, true);
  return out;
}

/** Writes a float32 array as .npy (numpy.load reads it), atomically. */
export async function writeNpy(path: string, data: Float32Array, shape: number[]): Promise<void> {
  await writeFileAtomic(path, encodeNpy(data, shape), { mkdir: true });
}

/** Parses .npy bytes holding a little-endian float32 C-order array (format 1.0, 2.0 or 3.0). */
export function decodeNpy(bytes: Uint8Array, source: string): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new LdmError('CORRUPT_FILE', `${source}: not a .npy file (missing the \\x93NUMPY magic)`);
  }
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerStart: number;
  let headerLength: number;
  if (major === 1) {
    headerStart = 10;
    headerLength = view.getUint16(8, true);
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new LdmError('CORRUPT_FILE', `${source}: truncated .npy header`);
    headerStart = 12;
    headerLength = view.getUint32(8, true);
  } else {
    throw new LdmError('CORRUPT_FILE', `${source}: unsupported .npy format version ${major}.${bytes[7]}`);
  }
  if (headerStart + headerLength > bytes.length) throw new LdmError('CORRUPT_FILE', `${source}: truncated .npy header`);
  const header = new TextDecoder().decode(bytes.subarray(headerStart, headerStart + headerLength));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new LdmError('CORRUPT_FILE', `${source}: .npy header is not a dict with descr, fortran_order and shape: ${header.trim()}`);
  }
  if (descr !== '<f4') throw new LdmError('BAD_DATA', `${source}: .npy dtype is '${descr}', expected '<f4' (float32)`);
  if (fortran !== 'False') throw new LdmError('BAD_DATA', `${source}: .npy array is in Fortran order, expected C order`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) throw new LdmError('CORRUPT_FILE', `${source}: bad .npy shape (${shapeText})`);
  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = headerStart + headerLength;
  if (bytes.length - dataStart !== count * 4) {
    throw new LdmError(
      'CORRUPT_FILE',
      `${source}: .npy shape (${shape.join(', ')}) needs ${count * 4} bytes of data, the file holds ${bytes.length - dataStart}`,
    );
  }
  const data = new Float32Array(count);
  const dataView = new DataView(bytes.buffer, bytes.byteOffset + dataStart, count * 4);
  for (let i = 0; i < count; i++) data[i] = dataView.getFloat32(i * 4, true);
  return { data, shape };
}

export async function readNpy(path: string): Promise<NpyArray> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new LdmError(code === 'ENOENT' ? 'FILE_NOT_FOUND' : 'BAD_DATA', `${path}: cannot read .npy file (${(error as Error).message})`, { cause: error });
  }
  return decodeNpy(bytes, path);
}
