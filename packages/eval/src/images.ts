import * as tf from '@tensorflow/tfjs-core';
import { LdmError } from '@ldm/backend';

/** Images as a tensor or as the plain arrays @ldm/data returns: NHWC floats in [-1, 1]. */
export type ImageBatch = tf.Tensor4D | { images: Float32Array; shape: readonly number[] };

/** Number of images and per-image shape of a batch, validated. */
export function describeBatch(batch: ImageBatch, what: string): { n: number; hwc: [number, number, number] } {
  const shape = batch instanceof tf.Tensor ? batch.shape : batch.shape;
  if (shape.length !== 4) throw new LdmError('SHAPE_MISMATCH', `${what}: expected NHWC images [n, h, w, c], got shape [${shape}]`);
  const [n, h, w, c] = shape as [number, number, number, number];
  if (!(batch instanceof tf.Tensor) && batch.images.length !== n * h * w * c) {
    throw new LdmError('SHAPE_MISMATCH', `${what}: shape [${shape}] needs ${n * h * w * c} values, got ${batch.images.length}`);
  }
  return { n, hwc: [h, w, c] };
}

/** Images [start, end) of a batch as a new tensor (the caller disposes it). */
export function sliceBatch(batch: ImageBatch, start: number, end: number): tf.Tensor4D {
  if (batch instanceof tf.Tensor) return tf.slice(batch, [start, 0, 0, 0], [end - start, -1, -1, -1]);
  const [, h, w, c] = batch.shape as [number, number, number, number];
  const per = h * w * c;
  return tf.tensor4d(batch.images.subarray(start * per, end * per), [end - start, h, w, c]);
}

/** Selected images of a batch as plain arrays. */
export function pickImages(batch: ImageBatch, indices: ArrayLike<number>): { images: Float32Array; shape: [number, number, number, number] } {
  const { hwc } = describeBatch(batch, 'pickImages');
  const per = hwc[0] * hwc[1] * hwc[2];
  const src = batch instanceof tf.Tensor ? (batch.dataSync() as Float32Array) : batch.images;
  const out = new Float32Array(indices.length * per);
  for (let i = 0; i < indices.length; i++) out.set(src.subarray(indices[i]! * per, (indices[i]! + 1) * per), i * per);
  return { images: out, shape: [indices.length, ...hwc] };
}
