import * as tf from '@tensorflow/tfjs-core';
import { LdmError } from '@ldm/backend';
import type { Module } from './module';
import type { TensorRecord } from './safetensors';

/*
 * PyTorch ↔ tfjs parameter layouts. Our parameters are HWIO conv kernels (rank 4) and [in, out]
 * dense kernels (rank 2); PyTorch stores OIHW and [out, in]. Rank decides, because every rank-4
 * parameter in these models is a conv kernel and every rank-2 one a Linear weight.
 */
const TO_TORCH: Record<number, number[]> = { 4: [3, 2, 0, 1], 2: [1, 0] };
const FROM_TORCH: Record<number, number[]> = { 4: [2, 3, 1, 0], 2: [1, 0] };

function permute(shape: number[], data: Float32Array, perm: number[] | undefined): TensorRecord {
  if (!perm) return { shape: [...shape], data: new Float32Array(data) };
  // The tensor leaves the tidy, not its data: tidy walks what it returns key by key, and a weight's
  // Float32Array has tens of thousands of keys (this took a third of every checkpoint's time).
  const t = tf.tidy(() => tf.transpose(tf.tensor(data, shape, 'float32'), perm));
  const record = { shape: t.shape, data: t.dataSync() as Float32Array };
  t.dispose();
  return record;
}

/** The module's parameters as torch-layout records under their dotted (diffusers) names. */
export function toTorchStateDict(module: Module): Map<string, TensorRecord> {
  const out = new Map<string, TensorRecord>();
  for (const [name, v] of module.parameters()) {
    out.set(name, permute(v.shape, v.dataSync() as Float32Array, TO_TORCH[v.rank]));
  }
  return out;
}

/** Index of the first NaN or ±Inf in `data`, or −1. */
export function firstNonFinite(data: Float32Array): number {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) return i;
  return -1;
}

/**
 * Loads torch-layout records into the module (transposing conv and linear weights). Keys whose
 * first component is in `ignorePrefixes` are skipped; anything else missing, unexpected or wrongly
 * shaped raises one error listing them all.
 */
export function loadTorchStateDict(
  module: Module,
  records: ReadonlyMap<string, TensorRecord>,
  options: { ignorePrefixes?: string[]; source?: string } = {},
): void {
  const ignore = options.ignorePrefixes ?? [];
  const tensors = new Map<string, tf.Tensor>();
  try {
    for (const [name, rec] of records) {
      if (ignore.some((p) => name.startsWith(p))) continue;
      const size = rec.shape.reduce((a, b) => a * b, 1);
      if (size !== rec.data.length) {
        throw new LdmError('CORRUPT_FILE', `${options.source ?? 'state dict'}: tensor '${name}' has ${rec.data.length} values for shape [${rec.shape}]`);
      }
      const bad = firstNonFinite(rec.data);
      if (bad >= 0) {
        // NaN or ±Inf weights give black images and NaN bits/dim far from the cause; refuse them here.
        throw new LdmError('CORRUPT_FILE', `${options.source ?? 'state dict'}: tensor '${name}' holds a non-finite value (${rec.data[bad]} at index ${bad})`);
      }
      const perm = FROM_TORCH[rec.shape.length];
      tensors.set(
        name,
        tf.tidy(() => {
          const t = tf.tensor(rec.data, rec.shape, 'float32');
          return perm ? tf.transpose(t, perm) : t;
        }),
      );
    }
    try {
      module.loadStateDict(tensors);
    } catch (e) {
      if (e instanceof LdmError && options.source) throw new LdmError(e.code, `${options.source}: ${e.message}`);
      throw e;
    }
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}
