import * as tf from '@tensorflow/tfjs-core';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { type HeapBackend, offsetOf } from './heap-tensors';

/*
 * LdmAdamSteps, LdmEmaUpdate and LdmGlobalNorm (fused-ops.ts) take a whole model's tensors in one call: each host
 * (the native addon, our wasm module) gets the outputs allocated here and a table of per-tensor rows (an element
 * count, then byte offsets in the backend's memory), and packs the table as its kernel wants it.
 */

type KernelArgs = Parameters<KernelFunc>[0];

export interface AdamTable {
  /** [p′₁…p′ₙ, m′₁…m′ₙ, v′₁…v′ₙ]. */
  outs: TensorInfo[];
  /** Per parameter [size, p, g, m, v, p′, m′, v′]. */
  rows: number[];
  count: number;
  /** The clipping factor's offset, or −1 (unclipped). */
  clip: number;
  attrs: Record<'beta1' | 'beta2' | 'epsilon' | 'coupledWeightDecay' | 'decoupledDecay' | 'stepSize' | 'biasCorrection2Sqrt', number>;
}

/** inputs: [p₁…pₙ, g₁…gₙ, m₁…mₙ, v₁…vₙ, clip?]. */
export function adamTable({ inputs, backend, attrs }: KernelArgs): AdamTable {
  const xs = inputs as unknown as TensorInfo[];
  const a = attrs as unknown as AdamTable['attrs'] & { count: number; clipped: boolean };
  const n = a.count;
  const be = backend as unknown as HeapBackend;
  const outs = Array.from({ length: 3 * n }, (_, k) => be.makeOutput([...xs[k % n]!.shape], 'float32'));
  const o = (t: TensorInfo) => offsetOf(be, t);
  const rows: number[] = [];
  for (let i = 0; i < n; i++)
    rows.push(
      tf.util.sizeFromShape(xs[i]!.shape),
      o(xs[i]!),
      o(xs[n + i]!),
      o(xs[2 * n + i]!),
      o(xs[3 * n + i]!),
      o(outs[i]!),
      o(outs[n + i]!),
      o(outs[2 * n + i]!),
    );
  return { outs, rows, count: n, clip: a.clipped ? o(xs[4 * n]!) : -1, attrs: a };
}

/** inputs: [s₁…sₙ, p₁…pₙ]; outs [s′₁…s′ₙ]; rows per parameter [size, s, p, s′]. */
export function emaTable({ inputs, backend, attrs }: KernelArgs): { outs: TensorInfo[]; rows: number[]; count: number; oneMinusDecay: number } {
  const xs = inputs as unknown as TensorInfo[];
  const { oneMinusDecay } = attrs as unknown as { oneMinusDecay: number };
  const n = xs.length / 2;
  const be = backend as unknown as HeapBackend;
  const outs = xs.slice(0, n).map((s) => be.makeOutput([...s.shape], 'float32'));
  const rows = outs.flatMap((out, i) => [tf.util.sizeFromShape(out.shape), offsetOf(be, xs[i]!), offsetOf(be, xs[n + i]!), offsetOf(be, out)]);
  return { outs, rows, count: n, oneMinusDecay };
}

/** out: a float32 scalar; rows per gradient [size, g]. */
export function normTable({ inputs, backend }: KernelArgs): { out: TensorInfo; rows: number[]; count: number } {
  const xs = inputs as unknown as TensorInfo[];
  const be = backend as unknown as HeapBackend;
  const out = be.makeOutput([], 'float32');
  return { out, rows: xs.flatMap((g) => [tf.util.sizeFromShape(g.shape), offsetOf(be, g)]), count: xs.length };
}
