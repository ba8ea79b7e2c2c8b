import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig } from '@tensorflow/tfjs-core';
import { gradientOverridden, overrideGradient, restoreGradient, stockGradient } from './gradient-override';

/*
 * The Conv2D gradient rewritten as forward convolutions.
 *
 * Why: on the wasm backend `Conv2DBackpropFilter` is not registered (so `tf.grad` of a conv throws)
 * and `Conv2DBackpropInput` is a naive loop about 10× slower than the forward conv, while the
 * forward `Conv2D` runs on XNNPACK. Both gradients are correlations themselves, so they can be
 * expressed as forward convs on rearranged tensors and run at forward speed on every backend.
 */

type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;

/** The attributes tfjs records on a Conv2D kernel call. */
export interface Conv2DAttrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat: 'NHWC' | 'NCHW';
  dilations: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** Geometry of one conv, resolved once: padding amounts, output size. */
interface ConvGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  outChannels: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  top: number;
  bottom: number;
  left: number;
  right: number;
}

function resolveGeometry(
  xShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  attrs: Conv2DAttrs,
): ConvGeometry {
  const info = tf.backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    outChannels: info.outChannels,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    top: info.padInfo.top,
    bottom: info.padInfo.bottom,
    left: info.padInfo.left,
    right: info.padInfo.right,
  };
}

function isOne(v: number | [number, number] | undefined): boolean {
  return v === undefined || (typeof v === 'number' ? v === 1 : v[0] === 1 && v[1] === 1);
}

/**
 * Whether the forward-conv rewrite covers this conv. Outside it (NCHW, dilated convs, padding wider
 * than the kernel) the stock gradient runs, so correctness never depends on the rewrite.
 */
export function convGradientSupported(
  xShape: readonly number[],
  filterShape: readonly number[],
  attrs: Conv2DAttrs,
): boolean {
  if (xShape.length !== 4 || filterShape.length !== 4) return false;
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') return false;
  if (!isOne(attrs.dilations)) return false;
  const g = resolveGeometry(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs,
  );
  // A pad as wide as the kernel makes output rows that see only padding; the flipped-filter
  // identity below needs a non-negative pad of (k - 1 - pad), so leave that to the stock kernel.
  return (
    g.top <= g.filterHeight - 1 &&
    g.bottom <= g.filterHeight - 1 &&
    g.left <= g.filterWidth - 1 &&
    g.right <= g.filterWidth - 1 &&
    g.outHeight > 0 &&
    g.outWidth > 0
  );
}

/** Inserts (stride − 1) zeros after every row and column of `dy`: [B,Ho,Wo,C] → [B,Ho·sh,Wo·sw,C]. */
function dilateWithTrailingZeros(dy: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  if (sh === 1 && sw === 1) return dy;
  const [b, ho, wo, c] = dy.shape;
  const spread = tf.reshape(dy, [b, ho, 1, wo, 1, c]);
  const padded = tf.pad(spread, [
    [0, 0],
    [0, 0],
    [0, sh - 1],
    [0, 0],
    [0, sw - 1],
    [0, 0],
  ]);
  return tf.reshape(padded, [b, ho * sh, wo * sw, c]);
}

/**
 * dL/dx of `y = conv2d(x, filter)` (NHWC) as one stride-1 forward conv: `dy` dilated by the stride,
 * correlated with the filter flipped in H and W and with its in/out channels swapped.
 * dx[h] = Σ_p dyDilated[h + top − p]·w[p]; with p' = k−1−p that is a correlation whose leading pad
 * is k−1−top, and the trailing pad follows from the input height.
 */
export function conv2dInputGradient(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  xShape: [number, number, number, number],
  attrs: Conv2DAttrs,
): tf.Tensor4D {
  return tf.tidy(() => {
    const g = resolveGeometry(xShape, filter.shape, attrs);
    const spread = dilateWithTrailingZeros(dy, g.strideHeight, g.strideWidth);
    // Rows after the trailing zeros; negative when the last input rows were never read by the conv.
    const padTop = g.filterHeight - 1 - g.top;
    const padLeft = g.filterWidth - 1 - g.left;
    let padBottom = g.inHeight + g.top - g.outHeight * g.strideHeight;
    let padRight = g.inWidth + g.left - g.outWidth * g.strideWidth;
    let source = spread;
    if (padBottom < 0 || padRight < 0) {
      const keepH = spread.shape[1] + Math.min(padBottom, 0);
      const keepW = spread.shape[2] + Math.min(padRight, 0);
      source = tf.slice(spread, [0, 0, 0, 0], [-1, keepH, keepW, -1]);
      padBottom = Math.max(padBottom, 0);
      padRight = Math.max(padRight, 0);
    }
    const flipped = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]);
    return tf.conv2d(source, flipped, 1, [
      [0, 0],
      [padTop, padBottom],
      [padLeft, padRight],
      [0, 0],
    ]);
  });
}

/**
 * dL/dfilter of `y = conv2d(x, filter)` (NHWC) as one forward conv: the input transposed to
 * [Cin, H, W, B] is correlated with dy transposed to [Ho, Wo, B, Cout] used as the filter, dilated
 * by the stride: out[c, p, q, o] = Σ_{i,j,b} x[b, s·i+p−top, s·j+q−left, c]·dy[b, i, j, o].
 * The result is [Cin, ≥kh, ≥kw, Cout]; crop to the kernel and move Cin inside.
 */
export function conv2dFilterGradient(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  attrs: Conv2DAttrs,
): tf.Tensor4D {
  return tf.tidy(() => {
    const g = resolveGeometry(x.shape, filterShape, attrs);
    const xT = tf.transpose(x, [3, 1, 2, 0]);
    const dyT = tf.transpose(dy, [1, 2, 0, 3]);
    // Only as much trailing pad as the last kernel tap reads (never more than the forward pad).
    const padBottom = Math.max(0, (g.outHeight - 1) * g.strideHeight + g.filterHeight - g.inHeight - g.top);
    const padRight = Math.max(0, (g.outWidth - 1) * g.strideWidth + g.filterWidth - g.inWidth - g.left);
    const full = tf.conv2d(
      xT,
      dyT,
      1,
      [
        [0, 0],
        [g.top, padBottom],
        [g.left, padRight],
        [0, 0],
      ],
      'NHWC',
      [g.strideHeight, g.strideWidth],
    );
    const cropped =
      full.shape[1] === g.filterHeight && full.shape[2] === g.filterWidth
        ? full
        : tf.slice(full, [0, 0, 0, 0], [-1, g.filterHeight, g.filterWidth, -1]);
    return tf.transpose(cropped, [1, 2, 0, 3]);
  });
}

/**
 * The gradient tfjs registered for Conv2D (the backend's Conv2DBackpropInput / Conv2DBackpropFilter
 * kernels), whether or not the rewrite is installed: the fallback, and the reference in tests.
 */
export function stockConv2dGradientConfig(): GradConfig {
  return stockGradient(tf.Conv2D);
}

/**
 * Replaces the Conv2D gradient in tfjs' (global, not per-backend) gradient registry with the
 * forward-conv rewrite, falling back to the stock gradient where the rewrite does not apply.
 * Idempotent.
 */
export function installConvGradients(): void {
  overrideGradient(tf.Conv2D, (stock) => (dy, saved, attrs) => {
    const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
    const convAttrs = attrs as unknown as Conv2DAttrs;
    if (!convGradientSupported(x.shape, filter.shape, convAttrs)) return stock(dy, saved, attrs);
    const dy4 = dy as tf.Tensor4D;
    return {
      x: () => conv2dInputGradient(dy4, filter, x.shape, convAttrs),
      filter: () => conv2dFilterGradient(x, dy4, filter.shape, convAttrs),
    };
  });
}

/** Whether `installConvGradients` has replaced the stock Conv2D gradient. */
export function convGradientsInstalled(): boolean {
  return gradientOverridden(tf.Conv2D);
}

/** Puts the stock Conv2D gradient back (for benchmarks that compare the two, and native backends). */
export function uninstallConvGradients(): void {
  restoreGradient(tf.Conv2D);
}
