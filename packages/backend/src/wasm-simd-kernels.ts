import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { offsetOf } from './heap-tensors';
import { adamTable, emaTable, normTable } from './optimizer-tables';
import { type CopyRows, concatRows, sliceRows, splitRows } from './row-copies';
import { leadingSumPlan, rowAddPlan } from './row-plans';
import { wasmKernelsBase64 } from './wasm-kernels.generated';

/*
 * Our own 128-bit SIMD kernels for the wasm backend (wasm/kernels.c), for the ops its build runs as scalar
 * loops. The module imports the backend's WebAssembly.Memory, so it reads and writes the backend's tensors
 * in place, like the oneDNN addon on Node, but it runs wherever the wasm backend does.
 *
 * BatchMatMul: tfjs-backend-wasm runs a product with a batch > 1, or with a transpose flag, in a scalar loop
 * (2.2 GFLOP/s measured): attention (both products), GroupNorm's channel sums, every transposed gradient product.
 * Ours takes every float32 product, flags in place: 27–39 GFLOP/s, XNNPACK's single products 28–31.
 * LdmGroupNorm(Grad), LdmSilu(Grad): the fused kernels of fused-ops.ts, the native addon's math in one pass
 * each, where tfjs ops take 10–20 small kernels a GroupNorm.
 * Sum over leading axes (bias gradients) and Add of a row to every row (biases, time embeddings): the backend
 * transposes the whole tensor for the one and walks broadcast indices one by one for the other.
 * Conv2D (stride 1, undilated; with the rewrite, also every conv's input gradient): XNNPACK runs these at 27–30
 * GFLOP/s; ours, four pixels by eight channels with the taps inside the accumulation, at 30–40.
 * Conv2DBackpropFilter (stride 1): tfjs-backend-wasm has none; the forward-conv rewrite (conv-gradients.ts)
 * runs XNNPACK with an H×W "filter" at 12–18 GFLOP/s, half its usual speed.
 * LdmAdamSteps, LdmEmaUpdate, LdmGlobalNorm: a model's optimizer step, EMA and gradient norm in one call each,
 * bit for bit the tfjs ops they replace (10, 3 and 3 kernel dispatches a parameter).
 * Concat, Slice, SplitV: as strided row copies (row-copies.ts), where the backend copies element by element.
 */

interface KernelExports {
  conv2d(x: number, w: number, bias: number, y: number, scratch: number, ...geometry: number[]): void;
  sum_leading(x: number, y: number, scratch: number, g: number, r: number, c: number): void;
  add_rows(a: number, b: number, out: number, g: number, r: number, c: number, same: number): void;
  silu(x: number, y: number, n: number): void;
  silu_grad(dy: number, x: number, dx: number, n: number): void;
  group_norm(
    x: number,
    gamma: number,
    beta: number,
    y: number,
    mean: number,
    inv: number,
    scratch: number,
    b: number,
    hw: number,
    c: number,
    g: number,
    eps: number,
    act: number,
  ): void;
  group_norm_grad(
    dy: number,
    x: number,
    gamma: number,
    beta: number,
    mean: number,
    inv: number,
    dx: number,
    dGamma: number,
    dBeta: number,
    scratch: number,
    b: number,
    hw: number,
    c: number,
    g: number,
    act: number,
  ): void;
  conv2d_filter_grad(x: number, dy: number, dw: number, scratch: number, ...geometry: number[]): void;
  batch_matmul(
    a: number,
    b: number,
    out: number,
    scratch: number,
    batchA: number,
    batchB: number,
    m: number,
    k: number,
    n: number,
    transposeA: number,
    transposeB: number,
  ): void;
  adam_steps(
    table: number,
    count: number,
    clipped: number,
    clip: number,
    beta1: number,
    beta2: number,
    epsilon: number,
    weightDecay: number,
    decay: number,
    stepSize: number,
    biasCorrection2Sqrt: number,
  ): void;
  ema_update(table: number, count: number, oneMinusDecay: number): void;
  copy_rows(src: number, dst: number, rows: number, run: number, srcStride: number, dstStride: number): void;
  global_norm(table: number, count: number, out: number): void;
}

/** The part of tfjs-backend-wasm's BackendWasm used here (not in its typed API). */
interface WasmBackendLike {
  wasm: { asm?: { memory?: unknown } };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  disposeData(dataId: object): boolean;
}

type KernelArgs = Parameters<KernelFunc>[0];

/** The WebAssembly API this needs (the package's TypeScript lib has no DOM, so no WebAssembly value types). */
interface WebAssemblyApi {
  Memory: abstract new (...args: never[]) => { buffer: ArrayBufferLike };
  instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: { exports: unknown } }>;
}
const wasmApi = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

/** What our kernels take over, for initBackend's one-line report. */
export const wasmSimdKernelsSummary =
  'stride-1 convolutions and their filter gradients, batched matmul, GroupNorm, SiLU, bias sums and adds, concat and slices, the Adam step, EMA and gradient norm';

let kernels: KernelExports | null = null;
let heap: { buffer: ArrayBufferLike } | null = null;
let unavailable: string | null = null;
let enabled = true;
const calls = new Map<string, number>();
const originals = new Map<string, KernelConfig | undefined>();

function decodeBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * Instantiates the kernels on the running wasm backend's memory and registers them as its kernels, each
 * falling back to the backend's own where it does not apply (idempotent). Returns whether they run;
 * `wasmSimdKernelsUnavailableReason()` says why not (a threaded build's shared memory, no SIMD).
 */
export async function installWasmSimdKernels(): Promise<boolean> {
  if (kernels !== null || unavailable !== null) return kernels !== null;
  const backend = tf.findBackend('wasm') as unknown as WasmBackendLike | undefined;
  const memory = backend?.wasm.asm?.memory;
  if (!(memory instanceof wasmApi.Memory)) {
    unavailable = 'the wasm backend exposes no WebAssembly.Memory';
    return false;
  }
  if (typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer) {
    unavailable = "the wasm backend's memory is shared (its threaded build): our kernels are built for unshared memory";
    return false;
  }
  try {
    const { instance } = await wasmApi.instantiate(decodeBase64(wasmKernelsBase64), { env: { memory } });
    kernels = instance.exports as unknown as KernelExports;
    heap = memory;
  } catch (error) {
    unavailable = `our wasm kernels did not load: ${error instanceof Error ? error.message : String(error)}`;
    return false;
  }
  register('BatchMatMul', batchMatMul);
  register('Conv2DBackpropFilter', conv2dBackpropFilter);
  register('LdmGroupNorm', groupNorm);
  register('LdmGroupNormGrad', groupNormGrad);
  register('LdmSilu', silu);
  register('LdmSiluGrad', siluGrad);
  register('Sum', sumLeadingAxes);
  register('Add', addRows);
  register('Conv2D', conv2d);
  register('LdmAdamSteps', adamSteps);
  register('LdmEmaUpdate', emaUpdate);
  register('LdmGlobalNorm', globalNorm);
  register('Concat', (args, k) => concatRows(args, moduleCopy(k)));
  register('Slice', (args, k) => sliceRows(args, moduleCopy(k)));
  register('SplitV', (args, k) => splitRows(args, moduleCopy(k)));
  return true;
}

export function wasmSimdKernelsUnavailableReason(): string | null {
  return unavailable;
}

/** Whether our kernels run (tests switch them off to compare with the backend's own). */
export function setWasmSimdKernels(on: boolean): void {
  enabled = on;
}

/** Per kernel, how many calls ours ran (the rest went to the backend's own). */
export function wasmSimdKernelCalls(): ReadonlyMap<string, number> {
  return new Map(calls);
}

export function wasmSimdKernelsActive(): boolean {
  return kernels !== null && enabled;
}

function register(name: string, ours: (args: KernelArgs, k: KernelExports) => TensorInfo | TensorInfo[] | null): void {
  const original = tf.getKernel(name, 'wasm');
  originals.set(name, original);
  if (original) tf.unregisterKernel(name, 'wasm');
  const fallback = original?.kernelFunc;
  tf.registerKernel({
    kernelName: name,
    backendName: 'wasm',
    kernelFunc: (args) => {
      const out = enabled && kernels ? ours(args, kernels) : null;
      if (out !== null) {
        calls.set(name, (calls.get(name) ?? 0) + 1);
        return out;
      }
      if (!fallback) throw new Error(`kernel '${name}' is not available on the wasm backend for these arguments`);
      return fallback(args);
    },
    ...(original?.setupFunc ? { setupFunc: original.setupFunc } : {}),
    ...(original?.disposeFunc ? { disposeFunc: original.disposeFunc } : {}),
  });
}

/** tfjs' BatchMatMul, float32: batch dimensions equal, or those of one side all 1 (broadcast); else the backend's own. */
function batchMatMul({ inputs, backend, attrs }: KernelArgs, k: KernelExports): TensorInfo | null {
  const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return null;
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = tf.util.sizeFromShape(outerA);
  const batchB = tf.util.sizeFromShape(outerB);
  if (batchA === 0 || batchB === 0) return null;
  const sameBatch = outerA.length === outerB.length && outerA.every((d, i) => d === outerB[i]);
  if (!sameBatch && batchA !== 1 && batchB !== 1) return null;
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  const [ra, ca] = a.shape.slice(-2) as [number, number];
  const [rb, cb] = b.shape.slice(-2) as [number, number];
  const m = transposeA ? ca : ra;
  const inner = transposeA ? ra : ca;
  const n = transposeB ? rb : cb;
  if ((transposeB ? cb : rb) !== inner) return null; // the backend's own kernel says what is wrong
  const be = backend as unknown as WasmBackendLike;
  const out = be.makeOutput([...outer, m, n], 'float32');
  const scratch = transposeB ? be.makeOutput([inner * n], 'float32') : null;
  k.batch_matmul(
    offsetOf(be, a),
    offsetOf(be, b),
    offsetOf(be, out),
    scratch ? offsetOf(be, scratch) : 0,
    batchA,
    batchB,
    m,
    inner,
    n,
    transposeA ? 1 : 0,
    transposeB ? 1 : 0,
  );
  if (scratch) be.disposeData(scratch.dataId);
  return out;
}

/** Scratch for kernels.c's padded_input: the zero-padded input window a stride-1 conv reads, or null when x is its own window. */
function paddedInputScratch(be: WasmBackendLike, info: tf.backend_util.Conv2DInfo): TensorInfo | null {
  const hp = info.outHeight + info.filterHeight - 1;
  const wp = info.outWidth + info.filterWidth - 1;
  const { top, left } = info.padInfo;
  if (top === 0 && left === 0 && hp === info.inHeight && wp === info.inWidth) return null;
  return be.makeOutput([info.batchSize * hp * wp * info.inChannels], 'float32');
}

interface BackpropFilterAttrs {
  strides: number | [number, number];
  pad: 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

/** Whether our Conv2DBackpropFilter covers this conv: float32 NHWC, stride 1, no dilation. */
export function wasmFilterGradientCovers(xShape: readonly number[], filterShape: readonly number[], attrs: Omit<BackpropFilterAttrs, 'filterShape'>): boolean {
  if (!wasmSimdKernelsActive() || xShape.length !== 4 || filterShape.length !== 4) return false;
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') return false;
  const stride = attrs.strides;
  return typeof stride === 'number' ? stride === 1 : stride[0] === 1 && stride[1] === 1;
}

function conv2dBackpropFilter({ inputs, backend, attrs }: KernelArgs, k: KernelExports): TensorInfo | null {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a = attrs as unknown as BackpropFilterAttrs;
  if (x.dtype !== 'float32' || dy.dtype !== 'float32' || !wasmFilterGradientCovers(x.shape, a.filterShape, a)) return null;
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode);
  const [b, h, w, cin] = x.shape as [number, number, number, number];
  const { outHeight: ho, outWidth: wo, filterHeight: kh, filterWidth: kw, outChannels: cout } = info;
  if (dy.shape.join() !== [b, ho, wo, cout].join() || ho <= 0 || wo <= 0) return null;
  const be = backend as unknown as WasmBackendLike;
  const out = be.makeOutput([kh, kw, cin, cout], 'float32');
  const { top, left } = info.padInfo;
  const scratch = paddedInputScratch(be, info);
  const o = (t: TensorInfo) => offsetOf(be, t);
  k.conv2d_filter_grad(o(x), o(dy), o(out), scratch ? o(scratch) : 0, b, h, w, cin, ho, wo, cout, kh, kw, top, left);
  if (scratch) be.disposeData(scratch.dataId);
  return out;
}

function groupNorm({ inputs, backend, attrs }: KernelArgs, k: KernelExports): TensorInfo[] {
  const { x, gamma, beta } = inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
  const { groups, eps, silu } = attrs as unknown as { groups: number; eps: number; silu?: boolean };
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const be = backend as unknown as WasmBackendLike;
  const y = be.makeOutput([n, h, w, c], 'float32');
  const mean = be.makeOutput([n, groups], 'float32');
  const inv = be.makeOutput([n, groups], 'float32');
  const scratch = be.makeOutput([7 * c], 'float32');
  const o = (t: TensorInfo) => offsetOf(be, t);
  k.group_norm(o(x), o(gamma), o(beta), o(y), o(mean), o(inv), o(scratch), n, h * w, c, groups, eps, silu ? 1 : 0);
  be.disposeData(scratch.dataId);
  return [y, mean, inv];
}

function groupNormGrad({ inputs, backend, attrs }: KernelArgs, k: KernelExports): TensorInfo[] {
  const { dy, x, gamma, beta, mean, inv } = inputs as Record<'dy' | 'x' | 'gamma' | 'mean' | 'inv', TensorInfo> & { beta?: TensorInfo };
  const { groups, silu } = attrs as unknown as { groups: number; silu?: boolean };
  if (silu && !beta) throw new Error('LdmGroupNormGrad with silu needs beta (the forward pass is recomputed)');
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const be = backend as unknown as WasmBackendLike;
  const dx = be.makeOutput([n, h, w, c], 'float32');
  const dGamma = be.makeOutput([c], 'float32');
  const dBeta = be.makeOutput([c], 'float32');
  const scratch = be.makeOutput([13 * c + (silu ? h * w * c : 0)], 'float32');
  const o = (t: TensorInfo) => offsetOf(be, t);
  k.group_norm_grad(o(dy), o(x), o(gamma), silu ? o(beta!) : 0, o(mean), o(inv), o(dx), o(dGamma), o(dBeta), o(scratch), n, h * w, c, groups, silu ? 1 : 0);
  be.disposeData(scratch.dataId);
  return [dx, dGamma, dBeta];
}

function silu({ inputs, backend }: KernelArgs, k: KernelExports): TensorInfo {
  const { x } = inputs as { x: TensorInfo };
  const be = backend as unknown as WasmBackendLike;
  const y = be.makeOutput([...x.shape], 'float32');
  k.silu(offsetOf(be, x), offsetOf(be, y), tf.util.sizeFromShape(x.shape));
  return y;
}

function siluGrad({ inputs, backend }: KernelArgs, k: KernelExports): TensorInfo {
  const { dy, x } = inputs as { dy: TensorInfo; x: TensorInfo };
  const be = backend as unknown as WasmBackendLike;
  const dx = be.makeOutput([...x.shape], 'float32');
  k.silu_grad(offsetOf(be, dy), offsetOf(be, x), offsetOf(be, dx), tf.util.sizeFromShape(x.shape));
  return dx;
}

/** Sum over axes [first, rank − 2], keeping the last: [G, R, C] → [G, C]; other reductions stay the backend's. */
function sumLeadingAxes({ inputs, backend, attrs }: KernelArgs, k: KernelExports): TensorInfo | null {
  const { x } = inputs as { x: TensorInfo };
  const { axis, keepDims } = attrs as unknown as { axis: number | number[]; keepDims: boolean };
  const plan = x.dtype === 'float32' ? leadingSumPlan(x.shape, axis, keepDims) : null;
  if (!plan) return null;
  const be = backend as unknown as WasmBackendLike;
  const out = be.makeOutput(plan.outShape, 'float32');
  const scratch = be.makeOutput([3 * plan.cols], 'float32');
  k.sum_leading(offsetOf(be, x), offsetOf(be, out), offsetOf(be, scratch), plan.groups, plan.rows, plan.cols);
  be.disposeData(scratch.dataId);
  return out;
}

/** float32 a + b where one is a row per group of the other (rowAddPlan); same shapes and other broadcasts stay the backend's. */
function addRows({ inputs, backend }: KernelArgs, k: KernelExports): TensorInfo | null {
  const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
  const plan = a.dtype === 'float32' && b.dtype === 'float32' ? rowAddPlan(a.shape, b.shape) : null;
  if (!plan || plan.same) return null;
  const [full, other] = plan.full === 'a' ? [a, b] : [b, a];
  const be = backend as unknown as WasmBackendLike;
  const out = be.makeOutput([...full.shape], 'float32');
  k.add_rows(offsetOf(be, full), offsetOf(be, other), offsetOf(be, out), plan.groups, plan.rows, plan.cols, 0);
  return out;
}

interface ConvAttrs {
  strides: number | [number, number];
  pad: 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

const isOne = (v: number | [number, number] | undefined) => v === undefined || (typeof v === 'number' ? v === 1 : v[0] === 1 && v[1] === 1);

/** Stride-1, undilated, float32 NHWC convolutions; strided or dilated ones stay XNNPACK's. */
function conv2d({ inputs, backend, attrs }: KernelArgs, k: KernelExports): TensorInfo | null {
  const { x, filter } = inputs as { x: TensorInfo; filter: TensorInfo };
  const a = attrs as unknown as ConvAttrs;
  if (x.dtype !== 'float32' || filter.dtype !== 'float32' || x.shape.length !== 4 || filter.shape.length !== 4) return null;
  if ((a.dataFormat !== undefined && a.dataFormat !== 'NHWC') || !isOne(a.strides) || !isOne(a.dilations)) return null;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
  const [b, h, w, cin] = x.shape as [number, number, number, number];
  const { outHeight: ho, outWidth: wo, filterHeight: kh, filterWidth: kw, outChannels: cout } = info;
  if (b === 0 || ho <= 0 || wo <= 0 || cout === 0 || cin === 0) return null;
  const be = backend as unknown as WasmBackendLike;
  const out = be.makeOutput([b, ho, wo, cout], 'float32');
  const { top, left } = info.padInfo;
  const scratch = paddedInputScratch(be, info);
  const o = (t: TensorInfo) => offsetOf(be, t);
  k.conv2d(o(x), o(filter), 0, o(out), scratch ? o(scratch) : 0, b, h, w, cin, ho, wo, cout, kh, kw, top, left);
  if (scratch) be.disposeData(scratch.dataId);
  return out;
}

/** A table of int32 (element counts, byte addresses) written into the backend's memory for one call; dispose it after. */
function int32Table(be: WasmBackendLike, values: readonly number[]): TensorInfo {
  const table = be.makeOutput([values.length], 'int32');
  // After the allocation: it may grow the memory, which replaces its buffer.
  new Int32Array(heap!.buffer, offsetOf(be, table), values.length).set(values);
  return table;
}

/** One Adam step of every parameter (optimizer-tables.ts); returns [p′…, m′…, v′…]. */
function adamSteps(args: KernelArgs, k: KernelExports): TensorInfo[] {
  const be = args.backend as unknown as WasmBackendLike;
  const t = adamTable(args);
  const table = int32Table(be, t.rows);
  const a = t.attrs;
  k.adam_steps(
    offsetOf(be, table),
    t.count,
    t.clip >= 0 ? 1 : 0,
    Math.max(t.clip, 0),
    a.beta1,
    a.beta2,
    a.epsilon,
    a.coupledWeightDecay,
    a.decoupledDecay,
    a.stepSize,
    a.biasCorrection2Sqrt,
  );
  be.disposeData(table.dataId);
  return t.outs;
}

/** The EMA of every parameter; returns [s′₁…s′ₙ]. */
function emaUpdate(args: KernelArgs, k: KernelExports): TensorInfo[] {
  const be = args.backend as unknown as WasmBackendLike;
  const t = emaTable(args);
  const table = int32Table(be, t.rows);
  k.ema_update(offsetOf(be, table), t.count, t.oneMinusDecay);
  be.disposeData(table.dataId);
  return t.outs;
}

/** √(Σ g²) over every input, one float32 scalar. */
function globalNorm(args: KernelArgs, k: KernelExports): TensorInfo {
  const be = args.backend as unknown as WasmBackendLike;
  const t = normTable(args);
  const table = int32Table(be, t.rows);
  k.global_norm(offsetOf(be, table), t.count, offsetOf(be, t.out));
  be.disposeData(table.dataId);
  return t.out;
}

/** Our module's strided row copy (a wasm32 pointer is the byte offset itself). */
function moduleCopy(k: KernelExports): CopyRows {
  return (rows, run, srcStride, dstStride, src, dst) => k.copy_rows(src, dst, rows, run, srcStride, dstStride);
}
