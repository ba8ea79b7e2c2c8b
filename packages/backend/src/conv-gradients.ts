import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig } from '@tensorflow/tfjs-core';
import { gradientOverridden, overrideGradient, restoreGradient, stockGradient } from './gradient-override';
import { kernelPath } from './onednn-kernels';
import { wasmFilterGradientCovers } from './wasm-simd-kernels';

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

function resolveGeometry(xShape: [number, number, number, number], filterShape: [number, number, number, number], attrs: Conv2DAttrs): ConvGeometry {
  const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
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
export function convGradientSupported(xShape: readonly number[], filterShape: readonly number[], attrs: Conv2DAttrs): boolean {
  if (xShape.length !== 4 || filterShape.length !== 4) return false;
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') return false;
  if (!isOne(attrs.dilations)) return false;
  const g = resolveGeometry(xShape as [number, number, number, number], filterShape as [number, number, number, number], attrs);
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

/**
 * How a strided conv's input gradient is computed: 'phases' (one conv writing all s² output phases,
 * see stridedInputGradient; the default, 1.3–1.5× faster on wasm) or 'dilate' (one conv over dy with
 * zeros inserted). Exposed for the benchmark and tests.
 */
let inputGradientMethod: 'phases' | 'dilate' = 'phases';
export function setInputGradientMethod(method: 'phases' | 'dilate'): void {
  inputGradientMethod = method;
}

/**
 * Rows `index` of the 2-D `m` (−1: a row of zeros), as a product with a one-hot selection matrix. On wasm this
 * is 10× faster than Reverse or Gather for a filter's taps (3×3×64×64: 0.12 ms against 1.3 ms), and exact for
 * finite values: each output is 1·x plus zeros (an infinite or NaN weight spreads NaN to the other taps, where a
 * gradient is lost anyway).
 */
function pickRows(m: tf.Tensor, index: readonly number[]): tf.Tensor2D {
  const rows = m.shape[0]!;
  const selection = new Float32Array(index.length * rows);
  index.forEach((r, i) => {
    if (r >= 0) selection[i * rows + r] = 1;
  });
  return tf.matMul(tf.tensor2d(selection, [index.length, rows]), m as tf.Tensor2D);
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
 * The input gradient as one stride-1 conv over dy with (stride − 1) zeros inserted after each row and
 * column, against the flipped filter; the trailing pad follows from the input size.
 */
function dilatedInputGradient(dy: tf.Tensor4D, filter: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D {
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
  const [kh, kw, cin, cout] = filter.shape;
  const taps = tf.reshape(filter, [kh * kw, cin * cout]);
  // The filter flipped in H and W (its taps in reverse order), in/out channels swapped.
  const reversed = tf.reshape(
    pickRows(
      taps,
      Array.from({ length: kh * kw }, (_, i) => kh * kw - 1 - i),
    ),
    filter.shape,
  ) as tf.Tensor4D;
  const flipped = tf.transpose(reversed, [0, 1, 3, 2]);
  return tf.conv2d(source, flipped, 1, [
    [0, 0],
    [padTop, padBottom],
    [padLeft, padRight],
    [0, 0],
  ]);
}

/**
 * dL/dx of `y = conv2d(x, filter)` (NHWC) as a forward conv. Stride 1: dy correlated with the filter
 * flipped in H and W and its in/out channels swapped, since dx[h] = Σ_p dy[h + top − p]·w[p] and with
 * p' = k−1−p that is a correlation with leading pad k−1−top. Stride s: see stridedInputGradient.
 */
export function conv2dInputGradient(dy: tf.Tensor4D, filter: tf.Tensor4D, xShape: [number, number, number, number], attrs: Conv2DAttrs): tf.Tensor4D {
  return tf.tidy(() => {
    const g = resolveGeometry(xShape, filter.shape, attrs);
    if ((g.strideHeight > 1 || g.strideWidth > 1) && inputGradientMethod === 'phases') {
      return stridedInputGradient(dy, filter, g);
    }
    return dilatedInputGradient(dy, filter, g);
  });
}

/**
 * How the input gradient of a strided conv reads dy along one axis. Output row h = s·m + r (phase r)
 * gets dx[s·m + r] = Σ_j dy[m + d − j]·w[c + s·j], with c = (r + pad) mod s and d = (r + pad − c)/s:
 * a stride-1 correlation over dy rows m + offset … m + offset + taps − 1 (kernel taps reversed). All
 * phases share one window of `window` dy rows starting at m + `start`, each using its own part of it.
 */
interface AxisPlan {
  /** ceil(size / s): rows of the phase-0 grid; rows past the input size are cropped at the end. */
  rows: number;
  start: number;
  window: number;
  /** For each phase r and window position t, the kernel tap it multiplies, or -1 for none. */
  tapAt: number[][];
}

function planAxis(size: number, stride: number, k: number, padBefore: number): AxisPlan {
  const phases = Array.from({ length: stride }, (_, r) => {
    const first = (r + padBefore) % stride;
    const taps = r < size ? Math.max(0, Math.ceil((k - first) / stride)) : 0;
    const d = (r + padBefore - first) / stride;
    return { first, taps, offset: d - (taps - 1) };
  });
  const used = phases.filter((p) => p.taps > 0);
  const start = Math.min(...used.map((p) => p.offset));
  const end = Math.max(...used.map((p) => p.offset + p.taps - 1));
  const window = end - start + 1;
  const tapAt = phases.map((p) => {
    const row = new Array<number>(window).fill(-1);
    for (let j = 0; j < p.taps; j++) row[p.offset - start + j] = p.first + stride * (p.taps - 1 - j);
    return row;
  });
  return { rows: Math.ceil(size / stride), start, window, tapAt };
}

/**
 * The input gradient of a strided conv as one stride-1 conv and a depth-to-space: every phase's
 * reversed sub-kernel sits in a shared window, stacked along the output channels, so the conv
 * writes all s² phases at once and a depth-to-space interleaves them. Dilating dy with zeros instead
 * would spend (s² − 1)/s² of its multiply-adds on zeros; stacking per-phase convs costs more in
 * the wasm backend's slow Concat than in the convs.
 */
function stridedInputGradient(dy: tf.Tensor4D, filter: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D {
  const sh = g.strideHeight;
  const sw = g.strideWidth;
  if (sh !== sw) return dilatedInputGradient(dy, filter, g);
  const s = sh;
  const ph = planAxis(g.inHeight, s, g.filterHeight, g.top);
  const pw = planAxis(g.inWidth, s, g.filterWidth, g.left);
  if (!Number.isFinite(ph.window) || !Number.isFinite(pw.window)) return dilatedInputGradient(dy, filter, g);

  // Combined filter [window_h, window_w, Cout, s²·Cin], picked from the taps (index −1: a zero tap).
  const k2 = g.filterHeight * g.filterWidth;
  const index: number[] = [];
  for (let th = 0; th < ph.window; th++) {
    for (let tw = 0; tw < pw.window; tw++) {
      for (let rh = 0; rh < s; rh++) {
        for (let rw = 0; rw < s; rw++) {
          const p = ph.tapAt[rh]![th]!;
          const q = pw.tapAt[rw]![tw]!;
          index.push(p < 0 || q < 0 ? -1 : p * g.filterWidth + q);
        }
      }
    }
  }
  const taps = tf.reshape(tf.transpose(filter, [0, 1, 3, 2]), [k2, g.outChannels * g.inChannels]);
  const gathered = pickRows(taps, index);
  const combined = tf.reshape(tf.transpose(tf.reshape(gathered, [ph.window, pw.window, s * s, g.outChannels, g.inChannels]), [0, 1, 3, 2, 4]), [
    ph.window,
    pw.window,
    g.outChannels,
    s * s * g.inChannels,
  ]) as tf.Tensor4D;

  // dy rows start … start + window − 1 feed output row 0; pad with zeros or crop to get `rows` outputs.
  const cropTop = Math.max(0, ph.start);
  const cropLeft = Math.max(0, pw.start);
  const padTop = Math.max(0, -ph.start);
  const padLeft = Math.max(0, -pw.start);
  let padBottom = ph.rows + ph.window - 1 - (g.outHeight - cropTop) - padTop;
  let padRight = pw.rows + pw.window - 1 - (g.outWidth - cropLeft) - padLeft;
  const cropBottom = Math.max(0, -padBottom);
  const cropRight = Math.max(0, -padRight);
  padBottom = Math.max(0, padBottom);
  padRight = Math.max(0, padRight);
  const source =
    cropTop + cropLeft + cropBottom + cropRight === 0
      ? dy
      : tf.slice(dy, [0, cropTop, cropLeft, 0], [-1, g.outHeight - cropTop - cropBottom, g.outWidth - cropLeft - cropRight, -1]);
  const phases = tf.conv2d(source, combined, 1, [
    [0, 0],
    [padTop, padBottom],
    [padLeft, padRight],
    [0, 0],
  ]);
  // Depth-to-space as reshape/transpose: the wasm DepthToSpace kernel is about 3× slower than Transpose.
  const [batch, rows, cols] = phases.shape;
  const interleaved = tf.reshape(tf.transpose(tf.reshape(phases, [batch, rows, cols, s, s, g.inChannels]), [0, 1, 3, 2, 4, 5]), [
    batch,
    rows * s,
    cols * s,
    g.inChannels,
  ]) as tf.Tensor4D;
  return interleaved.shape[1] === g.inHeight && interleaved.shape[2] === g.inWidth
    ? interleaved
    : tf.slice(interleaved, [0, 0, 0, 0], [-1, g.inHeight, g.inWidth, -1]);
}

/**
 * dL/dfilter of `y = conv2d(x, filter)` (NHWC) as one forward conv: the input transposed to
 * [Cin, H, W, B] is correlated with dy transposed to [Ho, Wo, B, Cout] used as the filter, dilated
 * by the stride: out[c, p, q, o] = Σ_{i,j,b} x[b, s·i+p−top, s·j+q−left, c]·dy[b, i, j, o].
 * The result is [Cin, ≥kh, ≥kw, Cout]; crop to the kernel and move Cin inside.
 */
export function conv2dFilterGradient(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: [number, number, number, number], attrs: Conv2DAttrs): tf.Tensor4D {
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
      full.shape[1] === g.filterHeight && full.shape[2] === g.filterWidth ? full : tf.slice(full, [0, 0, 0, 0], [-1, g.filterHeight, g.filterWidth, -1]);
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
    // The oneDNN path has real Conv2DBackpropInput/Filter kernels: the stock gradient calls them.
    if (kernelPath() === 'onednn' || !convGradientSupported(x.shape, filter.shape, convAttrs)) return stock(dy, saved, attrs);
    const dy4 = dy as tf.Tensor4D;
    return {
      x: () => conv2dInputGradient(dy4, filter, x.shape, convAttrs),
      // Our SIMD kernel where it covers the conv (stride 1), else the forward-conv rewrite.
      filter: () =>
        wasmFilterGradientCovers(x.shape, filter.shape, convAttrs)
          ? (tf
              .engine()
              .runKernel(tf.Conv2DBackpropFilter, { x, dy: dy4 }, { ...convAttrs, filterShape: filter.shape } as unknown as tf.NamedAttrMap) as tf.Tensor4D)
          : conv2dFilterGradient(x, dy4, filter.shape, convAttrs),
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
