import * as tf from '@tensorflow/tfjs-core';
import { gradientOverridden, overrideGradient, restoreGradient } from './gradient-override';

/*
 * The gradient of nearest-neighbour resizing (a UNet's ×2 upsampling).
 *
 * Why: tfjs-backend-cpu's ResizeNearestNeighborGrad is wrong for batch > 1 (every image after the
 * first gets another image's sums: error 6.2 on values of size ~3, measured against the transposed
 * forward map), and both the cpu and the wasm kernel ignore halfPixelCenters. Forward nearest
 * resizing copies each input pixel to the output pixels that map to it, so its gradient sums dy
 * over those pixels: for an integer factor that is a reshape and a sum; otherwise two one-hot
 * matrices built from the backend's own forward map.
 */

interface ResizeAttrs {
  alignCorners: boolean;
  halfPixelCenters: boolean;
  size: [number, number];
}

/** dx for an integer upscale (out = f·in) without alignCorners: each input pixel feeds an f×f block. */
function blockSumGradient(dy: tf.Tensor4D, inHeight: number, inWidth: number): tf.Tensor4D {
  const [b, outHeight, outWidth, c] = dy.shape;
  const fh = outHeight / inHeight;
  const fw = outWidth / inWidth;
  return tf.sum(tf.reshape(dy, [b, inHeight, fh, inWidth, fw, c]), [2, 4]);
}

/** For each output row (or column), the input row it copies, read off the backend's forward op. */
function sourceIndices(inSize: number, outSize: number, alongHeight: boolean, attrs: ResizeAttrs): tf.Tensor1D {
  const ramp = tf.range(0, inSize, 1, 'float32');
  const image = tf.reshape(ramp, alongHeight ? [1, inSize, 1, 1] : [1, 1, inSize, 1]);
  const resized = tf.image.resizeNearestNeighbor(image as tf.Tensor4D, alongHeight ? [outSize, 1] : [1, outSize], attrs.alignCorners, attrs.halfPixelCenters);
  return tf.cast(tf.reshape(resized, [outSize]), 'int32');
}

/** dx = Aₕᵀ·dy·A_w per image and channel, with A the one-hot [out, in] copy maps. */
function copyMapGradient(dy: tf.Tensor4D, inHeight: number, inWidth: number, attrs: ResizeAttrs): tf.Tensor4D {
  const [b, outHeight, outWidth, c] = dy.shape;
  const rows = tf.oneHot(sourceIndices(inHeight, outHeight, true, attrs), inHeight); // [oh, ih]
  const cols = tf.oneHot(sourceIndices(inWidth, outWidth, false, attrs), inWidth); // [ow, iw]
  const byWidth = tf.matMul(tf.reshape(tf.transpose(dy, [0, 1, 3, 2]), [b * outHeight * c, outWidth]), cols);
  const heightLast = tf.transpose(tf.reshape(byWidth, [b, outHeight, c, inWidth]), [0, 2, 3, 1]);
  const byHeight = tf.matMul(tf.reshape(heightLast, [b * c * inWidth, outHeight]), rows);
  return tf.transpose(tf.reshape(byHeight, [b, c, inWidth, inHeight]), [0, 3, 2, 1]);
}

/** The gradient of `tf.image.resizeNearestNeighbor(images, size, alignCorners, halfPixelCenters)` w.r.t. NHWC `images`. */
export function resizeNearestNeighborGradient(dy: tf.Tensor4D, imagesShape: [number, number, number, number], attrs: ResizeAttrs): tf.Tensor4D {
  return tf.tidy(() => {
    const [, inHeight, inWidth] = imagesShape;
    const [, outHeight, outWidth] = dy.shape;
    const integerUpscale = outHeight % inHeight === 0 && outWidth % inWidth === 0;
    // With halfPixelCenters an integer factor still maps output i to floor(i / f); alignCorners does not.
    if (integerUpscale && !attrs.alignCorners) return blockSumGradient(dy, inHeight, inWidth);
    return copyMapGradient(dy, inHeight, inWidth, attrs);
  });
}

export function installResizeGradient(): void {
  overrideGradient(tf.ResizeNearestNeighbor, (stock) => (dy, saved, attrs) => {
    const [images] = saved as [tf.Tensor];
    if (images.rank !== 4) return stock(dy, saved, attrs);
    const shape = images.shape as [number, number, number, number];
    return { images: () => resizeNearestNeighborGradient(dy as tf.Tensor4D, shape, attrs as unknown as ResizeAttrs) };
  });
}

export function resizeGradientInstalled(): boolean {
  return gradientOverridden(tf.ResizeNearestNeighbor);
}

export function uninstallResizeGradient(): void {
  restoreGradient(tf.ResizeNearestNeighbor);
}
