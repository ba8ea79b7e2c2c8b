import * as tf from '@tensorflow/tfjs-core';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { type HeapBackend, offsetOf } from './heap-tensors';

/*
 * Concat, Slice and SplitV of float32 tensors as strided row copies: the shapes the UNets and the VAE make (a skip
 * connection's channels concatenated, its gradient split back, the attention's q, k, v sliced apart) are a few long
 * contiguous runs a row. The wasm backend's own kernels walk such a copy element by element (a pixel-UNet training
 * step: SplitV 21 ms, Concat 10). Each host supplies the copy: the native addon's (both cores) and our wasm module's.
 */

/** dst[r·dstStride + k] = src[r·srcStride + k] for r < rows, k < run (float32 elements; src, dst byte offsets in the backend's memory). */
export type CopyRows = (rows: number, run: number, srcStride: number, dstStride: number, src: number, dst: number) => void;

type KernelArgs = Parameters<KernelFunc>[0];

/** tfjs' Concat of float32 tensors: per input, its rows copied into its columns of the output's rows. */
export function concatRows({ inputs, backend, attrs }: KernelArgs, copy: CopyRows): TensorInfo | null {
  const xs = inputs as unknown as TensorInfo[];
  const { axis } = attrs as unknown as { axis: number };
  if (xs.length === 0 || xs.some((t) => t.dtype !== 'float32')) return null;
  const rank = xs[0]!.shape.length;
  const ax = tf.util.parseAxisParam(axis, xs[0]!.shape)[0]!;
  const nonEmpty = xs.filter((t) => tf.util.sizeFromShape(t.shape) > 0);
  if (nonEmpty.length === 0 || rank === 0) return null;
  const outShape = tf.backend_util.computeOutShape(
    xs.map((t) => t.shape),
    ax,
  );
  const rows = tf.util.sizeFromShape(outShape.slice(0, ax));
  const outRow = tf.util.sizeFromShape(outShape.slice(ax));
  const be = backend as unknown as HeapBackend;
  const out = be.makeOutput(outShape, 'float32');
  const dst = offsetOf(be, out);
  let col = 0;
  for (const x of nonEmpty) {
    const run = tf.util.sizeFromShape(x.shape.slice(ax));
    copy(rows, run, run, outRow, offsetOf(be, x), dst + 4 * col);
    col += run;
  }
  return out;
}

/** A float32 slice whose kept region is one box: copied as rows of the innermost sliced extent. */
function sliceInto(be: HeapBackend, copy: CopyRows, x: TensorInfo, begin: number[], size: number[]): TensorInfo | null {
  const shape = x.shape;
  const rank = shape.length;
  if (x.dtype !== 'float32' || rank === 0 || size.some((d) => d === 0)) return null;
  // Axes after the last one that is cut are copied whole: they form the contiguous run.
  let last = rank - 1;
  while (last >= 0 && begin[last] === 0 && size[last] === shape[last]) last--;
  const out = be.makeOutput([...size], 'float32');
  if (last < 0) {
    copy(1, tf.util.sizeFromShape(shape), 0, 0, offsetOf(be, x), offsetOf(be, out));
    return out;
  }
  const inner = tf.util.sizeFromShape(shape.slice(last + 1));
  const run = size[last]! * inner;
  const srcStride = shape[last]! * inner;
  if (shape.slice(0, last).every((d, i) => begin[i] === 0 && size[i] === d)) {
    // Only `last` is cut (a split of NHWC channels): every leading index is one row, one call.
    copy(tf.util.sizeFromShape(shape.slice(0, last)), run, srcStride, run, offsetOf(be, x) + 4 * begin[last]! * inner, offsetOf(be, out));
    return out;
  }
  // Axes before `last`: iterate their kept index box; the axis just before `last` becomes the rows.
  const strides = tf.util.computeStrides(shape as number[]);
  const outer = size.slice(0, last);
  const rows = last > 0 ? outer[last - 1]! : 1;
  const rowStride = last > 0 ? strides[last - 1]! : 0;
  const boxes = last > 1 ? tf.util.sizeFromShape(outer.slice(0, last - 1)) : 1;
  const src0 = offsetOf(be, x);
  let dst = offsetOf(be, out);
  const idx = new Array<number>(Math.max(0, last - 1)).fill(0);
  for (let box = 0; box < boxes; box++) {
    let src = begin[last]! * inner;
    for (let a = 0; a < last - 1; a++) src += (begin[a]! + idx[a]!) * strides[a]!;
    if (last > 0) src += begin[last - 1]! * rowStride;
    copy(rows, run, rowStride || srcStride, run, src0 + 4 * src, dst);
    dst += 4 * rows * run;
    for (let a = last - 2; a >= 0; a--) {
      if (++idx[a]! < outer[a]!) break;
      idx[a] = 0;
    }
  }
  return out;
}

/** tfjs' Slice of a float32 tensor. */
export function sliceRows({ inputs, backend, attrs }: KernelArgs, copy: CopyRows): TensorInfo | null {
  const { x } = inputs as { x: TensorInfo };
  const { begin, size } = attrs as unknown as { begin: number | number[]; size: number | number[] };
  const [begin_, size_] = tf.slice_util.parseSliceParams(x as never, begin, size) as [number[], number[]];
  return sliceInto(backend as unknown as HeapBackend, copy, x, begin_, size_);
}

/** tfjs' SplitV of a float32 tensor: one slice per part. */
export function splitRows({ inputs, backend, attrs }: KernelArgs, copy: CopyRows): TensorInfo[] | null {
  const { x } = inputs as { x: TensorInfo };
  const { numOrSizeSplits, axis } = attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
  if (x.dtype !== 'float32') return null;
  const ax = tf.util.parseAxisParam(axis, x.shape)[0]!;
  const sizes = tf.backend_util.prepareSplitSize(x as never, numOrSizeSplits, ax) as number[];
  const be = backend as unknown as HeapBackend;
  const outs: TensorInfo[] = [];
  let start = 0;
  for (const s of sizes) {
    const begin = x.shape.map((_, i) => (i === ax ? start : 0));
    const size = x.shape.map((d, i) => (i === ax ? s : d));
    const out = sliceInto(be, copy, x, begin, size);
    if (!out) {
      for (const o of outs) be.disposeData?.(o.dataId);
      return null;
    }
    outs.push(out);
    start += s;
  }
  return outs;
}
