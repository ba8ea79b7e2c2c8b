import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';

/** Test-only reader for the F32 safetensors files in shared/vectors (format: see its README). */
export function readSafetensors(path: string): Map<string, { shape: number[]; data: Float32Array }> {
  const buf = readFileSync(path);
  const headerLength = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (info.dtype !== 'F32') throw new Error(`${path}: ${name} is ${info.dtype}, expected F32`);
    const [begin, end] = info.data_offsets;
    const bytes = buf.subarray(8 + headerLength + begin, 8 + headerLength + end);
    const copy = new Uint8Array(bytes); // aligned copy
    out.set(name, { shape: info.shape, data: new Float32Array(copy.buffer, 0, (end - begin) / 4) });
  }
  return out;
}

// shared/ sits beside the repository (as in CI's clone); LDM_VECTORS overrides.
export const VECTORS = process.env.LDM_VECTORS ?? fileURLToPath(new URL('../../../../shared/vectors', import.meta.url));
