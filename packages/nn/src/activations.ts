import * as tf from '@tensorflow/tfjs-core';

/** SiLU (swish): x·σ(x). tfjs-core has no fused kernel for it; both ops have gradients on every backend. */
export function silu<T extends tf.Tensor>(x: T): T {
  return tf.mul(x, tf.sigmoid(x));
}
