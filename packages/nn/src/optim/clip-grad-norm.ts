import * as tf from '@tensorflow/tfjs-core';
import { fusedOpsAvailable, globalNormFused } from '@ldm/backend';

/** √(Σ‖g‖²) over every gradient, as one scalar tensor (no host sync). */
export function globalNorm(grads: Iterable<tf.Tensor>): tf.Scalar {
  // One native kernel on the native backend (float64 accumulation) instead of three per gradient.
  if (fusedOpsAvailable()) return globalNormFused([...grads]);
  return tf.tidy(() => {
    let total: tf.Scalar = tf.scalar(0);
    for (const g of grads) total = tf.add(total, tf.sum(tf.square(g)));
    return tf.sqrt(total);
  });
}

/**
 * The factor PyTorch's `clip_grad_norm_` multiplies every gradient by: min(1, maxNorm / (norm + 1e-6)).
 * The 1e-6 keeps a zero norm from dividing by zero, and is why a clipped update lands a hair under maxNorm.
 */
export function clipCoefficient(norm: tf.Scalar, maxNorm: number): tf.Scalar {
  return tf.tidy(() => tf.minimum(tf.div(tf.scalar(maxNorm), tf.add(norm, 1e-6)), 1));
}
