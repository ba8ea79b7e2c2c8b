import * as tf from '@tensorflow/tfjs-core';
import { LdmError } from '@ldm/backend';

/** A timestep for every batch element: one number (all elements), an array, or an int tensor of shape [B]. */
export type Timesteps = number | ArrayLike<number> | tf.Tensor;

/**
 * Per-batch-element schedule values `table[t_b]` shaped [B, 1, …, 1] to broadcast against a tensor of `rank`.
 * Host arrays are indexed on the host (checked); tensors are gathered on the device (no sync, so unchecked).
 */
export function coefficientAt(table: Float64Array, t: Timesteps, batch: number, rank: number, what: string): tf.Tensor {
  return tf.tidy(() => {
    const ones = new Array<number>(Math.max(rank - 1, 0)).fill(1);
    if (t instanceof tf.Tensor) {
      if (t.rank > 1 || (t.rank === 1 && t.shape[0] !== batch && t.shape[0] !== 1)) {
        throw new LdmError('SHAPE_MISMATCH', `${what}: timestep tensor has shape [${t.shape.join(', ')}], expected a scalar or [${batch}]`);
      }
      const idx = t.dtype === 'int32' ? t : tf.cast(tf.round(t), 'int32');
      const values = tf.gather(tf.tensor1d(Float32Array.from(table)), tf.reshape(idx, [-1]));
      return tf.reshape(values, [-1, ...ones]);
    }
    const ts = typeof t === 'number' ? [t] : Array.from(t);
    if (ts.length !== 1 && ts.length !== batch) {
      throw new LdmError('SHAPE_MISMATCH', `${what}: ${ts.length} timesteps for a batch of ${batch}; give one per element or a single number`);
    }
    const values = new Float32Array(ts.length);
    ts.forEach((ti, i) => {
      if (!Number.isInteger(ti) || ti < 0 || ti >= table.length) {
        throw new LdmError('INVALID_ARGUMENT', `${what}: timestep ${ti} is not an integer in [0, ${table.length - 1}]`);
      }
      values[i] = table[ti] as number;
    });
    return tf.tensor(values, [ts.length, ...ones]);
  });
}

export function assertSameShape(a: tf.Tensor, b: tf.Tensor, what: string, aName: string, bName: string): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new LdmError('SHAPE_MISMATCH', `${what}: ${aName} has shape [${a.shape.join(', ')}] but ${bName} has shape [${b.shape.join(', ')}]`);
  }
}
