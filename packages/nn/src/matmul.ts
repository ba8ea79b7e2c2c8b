import * as tf from '@tensorflow/tfjs-core';
import { transposedMatMulFast } from '@ldm/backend';

/**
 * a·b (or a·bᵀ) for rank-2 or rank-3 (batched) tensors, with a gradient that materialises every
 * transpose before multiplying on wasm. tfjs' stock MatMul gradient passes transpose flags instead, which on
 * the wasm backend's own kernels leaves XNNPACK's fast path: a transposeA/transposeB product ran 2–5× slower
 * than an explicit transpose plus a plain product (measured on [8192,128]×[128,64] shapes). The native kernels
 * and our wasm ones take the flags (transposedMatMulFast()), so there the gradient passes them.
 */
export function matMulFastGrad<T extends tf.Tensor2D | tf.Tensor3D>(a: T, b: T, transposeB = false): T {
  const perm = a.rank === 3 ? [0, 2, 1] : [1, 0];
  // Inputs go through `save`: a closure over x and y would see them disposed by the caller's tidy before backprop.
  const f = tf.customGrad((x, y, save) => {
    (save as tf.GradSaveFunc)([x as tf.Tensor, y as tf.Tensor]);
    return {
      value: tf.matMul(x as tf.Tensor3D, y as tf.Tensor3D, false, transposeB),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xa, yb] = saved as [tf.Tensor, tf.Tensor];
        const d = dy as tf.Tensor3D;
        if (transposedMatMulFast()) {
          // Transpose flags at full speed: no transpose kernels to dispatch.
          const [x3, y3] = [xa as tf.Tensor3D, yb as tf.Tensor3D];
          return transposeB ? [tf.matMul(d, y3), tf.matMul(d, x3, true, false)] : [tf.matMul(d, y3, false, true), tf.matMul(x3, d, true, false)];
        }
        if (transposeB) {
          // out = x·yᵀ: dx = dy·y, dy_y = dyᵀ·x
          return [tf.matMul(d, yb as tf.Tensor3D), tf.matMul(tf.transpose(d, perm) as tf.Tensor3D, xa as tf.Tensor3D)];
        }
        // out = x·y: dx = dy·yᵀ, dy_y = xᵀ·dy
        return [tf.matMul(d, tf.transpose(yb, perm) as tf.Tensor3D), tf.matMul(tf.transpose(xa, perm) as tf.Tensor3D, d)];
      },
    };
  });
  return f(a, b) as T;
}
