import * as tf from '@tensorflow/tfjs-core';
import { fusedNormOpsAvailable, siluFused } from '@ldm/backend';

/**
 * SiLU (swish): x·σ(x). tfjs-core has no kernel for it: the native backend runs one fused kernel
 * each way, elsewhere two ops (both with gradients on every backend).
 */
export function silu<T extends tf.Tensor>(x: T): T {
  if (fusedNormOpsAvailable() && x.dtype === 'float32') return siluFused(x);
  return tf.mul(x, tf.sigmoid(x));
}
