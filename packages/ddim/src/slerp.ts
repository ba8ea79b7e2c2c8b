import * as tf from '@tensorflow/tfjs-core';
import { LdmError } from '@ldm/backend';

/**
 * Spherical interpolation between two noises (treated as one flat vector each), as in the DDIM paper's §5.3 and
 * diffusers' community pipelines: linear interpolation would shrink the norm of Gaussian noise mid-way, off the
 * shell where x_T lives. Falls back to linear interpolation when the two are nearly parallel.
 */
export function slerp(z0: tf.Tensor, z1: tf.Tensor, alpha: number, dotThreshold = 0.9995): tf.Tensor {
  if (z0.shape.length !== z1.shape.length || z0.shape.some((d, i) => d !== z1.shape[i])) {
    throw new LdmError('SHAPE_MISMATCH', `slerp: z0 has shape [${z0.shape.join(', ')}] but z1 has shape [${z1.shape.join(', ')}]`);
  }
  if (!(alpha >= 0 && alpha <= 1)) throw new LdmError('INVALID_ARGUMENT', `slerp: alpha must be in [0, 1], got ${alpha}`);
  return tf.tidy(() => {
    const cos = tf.div(tf.sum(tf.mul(z0, z1)), tf.mul(tf.norm(z0), tf.norm(z1)));
    const theta = tf.acos(tf.clipByValue(cos, -1, 1));
    const sinTheta = tf.sin(theta);
    const w0 = tf.div(tf.sin(tf.mul(theta, 1 - alpha)), sinTheta);
    const w1 = tf.div(tf.sin(tf.mul(theta, alpha)), sinTheta);
    const spherical = tf.add(tf.mul(z0, w0), tf.mul(z1, w1));
    const linear = tf.add(tf.mul(z0, 1 - alpha), tf.mul(z1, alpha));
    return tf.where(tf.greater(tf.abs(cos), dotThreshold), linear, spherical);
  });
}
