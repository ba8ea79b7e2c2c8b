import * as tf from '@tensorflow/tfjs-core';
import { gradientOverridden, overrideGradient, restoreGradient } from './gradient-override';

/*
 * The gradient of `tf.gather` (embedding lookups, class-conditional tables).
 *
 * Why: tfjs computes it with UnsortedSegmentSum, which the wasm backend does not register, so any
 * model with an embedding table fails to train there. The same sum is a matMul with the one-hot
 * matrix of the indices, which every backend runs.
 */

/** One-hot matrices above this many elements are summed in JS instead (memory, not speed). */
const maxOneHotElements = 1 << 22;

/**
 * Σ over i with indices[i] = r of values[i, …], for r < numRows: `values` [N, …rest] → [numRows, …rest].
 * Indices outside [0, numRows) contribute nothing, as in UnsortedSegmentSum.
 */
export function segmentSum(values: tf.Tensor, indices: tf.Tensor1D, numRows: number): tf.Tensor {
  return tf.tidy(() => {
    const n = indices.size;
    const rest = values.shape.slice(1);
    const restSize = rest.reduce((a, b) => a * b, 1);
    if (n * numRows <= maxOneHotElements) {
      const selector = tf.transpose(tf.oneHot(tf.cast(indices, 'int32'), numRows)); // [numRows, N]
      return tf.reshape(tf.matMul(selector, tf.reshape(values, [n, restSize])), [numRows, ...rest]);
    }
    const source = values.dataSync();
    const rows = indices.dataSync();
    const out = new Float32Array(numRows * restSize);
    for (let i = 0; i < n; i++) {
      const r = rows[i]!;
      if (r < 0 || r >= numRows) continue;
      for (let k = 0; k < restSize; k++) out[r * restSize + k]! += source[i * restSize + k]!;
    }
    return tf.tensor(out, [numRows, ...rest], 'float32');
  });
}

/** dL/dx of `tf.gather(x, indices, axis)` with batchDims 0. */
export function gatherGradient(dy: tf.Tensor, xShape: number[], indices: tf.Tensor, axis: number): tf.Tensor {
  return tf.tidy(() => {
    const outer = xShape.slice(0, axis);
    const inner = xShape.slice(axis + 1);
    const values = tf.reshape(dy, [...outer, indices.size, ...inner]);
    // Move the gathered axis first, sum rows into x's axis, and move it back.
    const toFront = [outer.length, ...outer.map((_, i) => i), ...inner.map((_, i) => outer.length + 1 + i)];
    const summed = segmentSum(tf.transpose(values, toFront), tf.reshape(indices, [indices.size]) as tf.Tensor1D, xShape[axis]!);
    const back = toFront.map((_, i) => toFront.indexOf(i));
    return tf.transpose(summed, back);
  });
}

export function installGatherGradient(): void {
  overrideGradient(tf.GatherV2, (stock) => (dy, saved, attrs) => {
    const [x, indices] = saved as [tf.Tensor, tf.Tensor];
    const { axis, batchDims } = attrs as unknown as { axis: number; batchDims?: number };
    if ((batchDims ?? 0) !== 0) return stock(dy, saved, attrs);
    const parsedAxis = tf.util.parseAxisParam(axis, x.shape)[0]!;
    return {
      x: () => gatherGradient(dy as tf.Tensor, x.shape, indices, parsedAxis),
      indices: () => tf.zerosLike(indices),
    };
  });
}

export function gatherGradientInstalled(): boolean {
  return gradientOverridden(tf.GatherV2);
}

export function uninstallGatherGradient(): void {
  restoreGradient(tf.GatherV2);
}
