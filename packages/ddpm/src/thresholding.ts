import * as tf from '@tensorflow/tfjs-core';

/**
 * Dynamic thresholding (Saharia et al. 2022, diffusers `_threshold_sample`): per sample, s = quantile(|x̂₀|, ratio)
 * clamped to [1, maxValue]; x̂₀ ← clip(x̂₀, −s, s) / s. The quantile interpolates linearly like torch.quantile.
 */
export function dynamicThreshold(x0: tf.Tensor, ratio: number, maxValue: number): tf.Tensor {
  return tf.tidy(() => {
    const batch = x0.shape[0] ?? 1;
    const flat = tf.reshape(tf.abs(x0), [batch, -1]);
    const n = flat.shape[1] as number;
    const pos = ratio * (n - 1);
    const lo = Math.floor(pos);
    const frac = pos - lo;
    // topk (descending) of the n − lo largest: its last column is the lo-th smallest, the one before it the (lo+1)-th.
    const top = tf.topk(flat, n - lo, true).values;
    const vLo = tf.slice(top, [0, n - lo - 1], [batch, 1]);
    const vHi = n - lo >= 2 ? tf.slice(top, [0, n - lo - 2], [batch, 1]) : vLo;
    const q = tf.add(vLo, tf.mul(tf.sub(vHi, vLo), frac));
    const s = tf.reshape(tf.clipByValue(q, 1, maxValue), [batch, ...new Array<number>(x0.rank - 1).fill(1)]);
    return tf.div(tf.minimum(tf.maximum(x0, tf.neg(s)), s), s);
  });
}
