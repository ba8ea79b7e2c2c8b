import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { OneDnnBinding } from '@ldm/onednn';
import { offsetOf } from './heap-tensors';
import { adamTable, emaTable, normTable } from './optimizer-tables';
import { leadingSumPlan, rowAddPlan } from './row-plans';
import { type CopyRows, concatRows, sliceRows, splitRows } from './row-copies';

/*
 * oneDNN kernels for the wasm backend, from the optional Node-API addon `@ldm/onednn`.
 *
 * Why: WebAssembly SIMD is 128 bits wide, so XNNPACK inside the wasm backend runs a 3×3 conv at
 * 22–32 GFLOP/s a core, while oneDNN (the library PyTorch uses on CPUs) runs the same conv and both
 * its gradients at ~180 GFLOP/s on one AVX-512 core. The wasm backend keeps every tensor in one
 * WebAssembly.Memory whose buffer is a plain ArrayBuffer, so the addon reads and writes the tensors
 * in place: no copies, no second tensor store, every other kernel (and tf.tidy, dispose, memory
 * accounting) stays the wasm backend's own.
 *
 * How: the heavy kernels of the 'wasm' backend are re-registered as dispatchers that call oneDNN
 * while the oneDNN path is on and the op is one it covers (float32, NHWC), and the original wasm
 * kernel otherwise. Switching paths is a flag, so tests run both in one process.
 */

/** The subset of tfjs-backend-wasm's BackendWasm the kernels use (it is not part of its typed API). */
interface WasmBackendLike {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  incRef(dataId: object): void;
  disposeData?(dataId: object): boolean;
}

type KernelArgs = Parameters<KernelFunc>[0];

export type KernelPath = 'onednn' | 'wasm';

/** The kernels oneDNN takes over. Conv2DBackpropFilter has no wasm kernel at all. */
export const oneDnnKernelNames = [
  'Conv2D',
  'FusedConv2D',
  'Conv2DBackpropInput',
  'Conv2DBackpropFilter',
  'BatchMatMul',
  'Sum',
  'Add',
  'Concat',
  'Slice',
  'SplitV',
  'Transpose',
  'PadV2',
  'ResizeNearestNeighbor',
  'AvgPool',
] as const;

/**
 * Fused kernels of our own (see fused-ops.ts), registered for 'wasm' but run only on the oneDNN
 * path: each replaces a chain of small wasm kernels in the ops a training step spends most on once
 * convolutions are fast.
 */
export const fusedKernelNames = ['LdmGroupNorm', 'LdmGroupNormGrad', 'LdmSilu', 'LdmSiluGrad', 'LdmAdamSteps', 'LdmEmaUpdate', 'LdmGlobalNorm'] as const;

let binding: OneDnnBinding | null | undefined;
let loadError: string | null = null;
let path: KernelPath = 'wasm';
const originals = new Map<string, KernelConfig | undefined>();

/**
 * Loads the addon once. Returns whether it loaded; `oneDnnUnavailableReason()` says why not (not
 * installed, not built, or failed to load). The addon's types stay internal: it is an optional
 * dependency, so this package's .d.ts must not need it.
 */
export async function loadOneDnn(): Promise<boolean> {
  if (binding !== undefined) return binding !== null;
  // libgomp reads these once, when the addon loads it. With more than one thread, a helper that sleeps
  // between kernels wakes too late for the next one: the latent UNet's step at B64 ran 80–85 ms on one
  // thread, 69–78 on two that sleep (OMP_WAIT_POLICY=PASSIVE), 51–62 on two that spin 300,000 times first
  // (GOMP_SPINCOUNT; 30,000 measured the same). One thread (the default) has no helper, so this costs
  // nothing there; a second thread only pays on an idle machine (beside a busy process: 84 ms on one
  // thread, 119 sleeping, 230 spinning). Either variable set by the user wins.
  if (typeof process !== 'undefined' && process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined) {
    process.env.GOMP_SPINCOUNT = '300000';
  }
  try {
    // A variable specifier keeps bundlers from resolving the optional package at build time.
    const specifier = '@ldm/onednn';
    const mod = (await import(/* @vite-ignore */ specifier)) as {
      binding?: OneDnnBinding | null;
      error?: string | null;
      default?: { binding: OneDnnBinding | null; error: string | null };
    };
    const m = mod.default ?? mod;
    binding = m.binding ?? null;
    loadError = binding === null ? (m.error ?? 'the @ldm/onednn addon did not load') : null;
  } catch (error) {
    binding = null;
    loadError = `@ldm/onednn is not installed (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`;
  }
  return binding !== null;
}

/** Why the oneDNN kernels cannot run here (after `loadOneDnn` returned null). */
export function oneDnnUnavailableReason(): string | null {
  return loadError;
}

/** Which kernels the wasm backend's heavy ops run on now. */
export function kernelPath(): KernelPath {
  return path;
}

/**
 * Routes the wasm backend's heavy kernels to oneDNN ('onednn') or back to XNNPACK ('wasm').
 * 'onednn' needs `installOneDnnKernels` first.
 */
export function setKernelPath(next: KernelPath): void {
  if (next === 'onednn' && (binding == null || originals.size === 0)) {
    throw new Error('the oneDNN kernels are not installed: call installOneDnnKernels() after loadOneDnn()');
  }
  path = next;
}

/** Threads oneDNN uses inside each op (OpenMP); initBackend sets 1 unless told otherwise (see BackendOptions.threads). */
export function setOneDnnThreads(n: number): void {
  binding?.setThreads(n);
}

/**
 * Why bfloat16 convolutions cannot run here (one line), or null when they can. They need the addon and a CPU with
 * bfloat16 dot products: oneDNN would emulate them elsewhere, slower than float32, so that is refused.
 */
export function oneDnnBf16UnavailableReason(): string | null {
  if (!binding) return loadError ?? 'the @ldm/onednn addon is not loaded';
  const { isa } = binding.version();
  return /bf16|amx/.test(isa) ? null : `precision 'bf16' needs a CPU with bfloat16 dot products (AVX512-BF16 or AMX); oneDNN found ${isa}`;
}

/** Convolutions in float32 or with bfloat16 inputs (BackendOptions.precision). */
export function setOneDnnConvPrecision(precision: 'f32' | 'bf16'): void {
  if (!binding) return;
  const why = precision === 'bf16' ? oneDnnBf16UnavailableReason() : null;
  if (why) throw new Error(why);
  binding.setConvPrecision(precision);
}

export function oneDnnInfo(): { onednn: string; isa: string; threads: number; convPrecision: 'f32' | 'bf16' } | null {
  if (!binding) return null;
  return { ...binding.version(), threads: binding.getThreads(), convPrecision: binding.getConvPrecision() };
}

/** Convolutions run by the addon's direct kernels for a narrow side (≤ 4 channels in or out) rather than oneDNN's, since load. */
export function narrowConvCalls(): number {
  return binding?.narrowConvCalls() ?? 0;
}

const fallbacks = new Map<string, number>();

/**
 * Per kernel, the calls the oneDNN path handed to the wasm kernel since start-up (arguments it does not
 * cover: other dtypes, broadcasts, layouts). Tests check with it that a case runs natively, not only that
 * its values match.
 */
export function oneDnnFallbackCounts(): ReadonlyMap<string, number> {
  return new Map(fallbacks);
}

/** Registers the dispatching kernels for 'wasm' (idempotent). The path stays as it is. */
export function installOneDnnKernels(): void {
  if (!binding) throw new Error('the oneDNN addon is not loaded: call loadOneDnn() first');
  if (originals.size > 0) return;
  const native: Record<(typeof oneDnnKernelNames)[number], (args: KernelArgs, b: OneDnnBinding) => TensorInfo | TensorInfo[] | null> = {
    Conv2D: conv2d,
    FusedConv2D: fusedConv2d,
    Conv2DBackpropInput: conv2dBackpropInput,
    Conv2DBackpropFilter: conv2dBackpropFilter,
    BatchMatMul: batchMatMul,
    Sum: sumLeadingAxes,
    Add: addRows,
    Concat: (args, b) => concatRows(args, addonCopy(args.backend, b)),
    Slice: (args, b) => sliceRows(args, addonCopy(args.backend, b)),
    SplitV: (args, b) => splitRows(args, addonCopy(args.backend, b)),
    Transpose: transpose,
    PadV2: pad,
    ResizeNearestNeighbor: resizeNearestNeighbor,
    AvgPool: avgPool,
  };
  for (const name of oneDnnKernelNames) {
    const original = tf.getKernel(name, 'wasm');
    originals.set(name, original);
    if (original) tf.unregisterKernel(name, 'wasm');
    const fallback = original?.kernelFunc;
    const kernelFunc: KernelFunc = (args) => {
      if (path === 'onednn') {
        const out = native[name](args, binding!);
        if (out !== null) return out;
        fallbacks.set(name, (fallbacks.get(name) ?? 0) + 1);
      }
      if (!fallback) throw new Error(`kernel '${name}' is not available on the wasm backend for these arguments (oneDNN path: ${path})`);
      return fallback(args);
    };
    tf.registerKernel({
      kernelName: name,
      backendName: 'wasm',
      kernelFunc,
      ...(original?.setupFunc ? { setupFunc: original.setupFunc } : {}),
      ...(original?.disposeFunc ? { disposeFunc: original.disposeFunc } : {}),
    });
  }
  const fused: Record<(typeof fusedKernelNames)[number], (args: KernelArgs, b: OneDnnBinding) => TensorInfo | TensorInfo[]> = {
    LdmGroupNorm: groupNorm,
    LdmGroupNormGrad: groupNormGrad,
    LdmSilu: silu,
    LdmSiluGrad: siluGrad,
    LdmAdamSteps: adamSteps,
    LdmEmaUpdate: emaUpdate,
    LdmGlobalNorm: globalNorm,
  };
  for (const name of fusedKernelNames) {
    // Off the oneDNN path, our wasm module's kernel (wasm-simd-kernels.ts) where it has one.
    const wasmKernel = tf.getKernel(name, 'wasm');
    if (wasmKernel) tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({
      kernelName: name,
      backendName: 'wasm',
      kernelFunc: (args) => {
        if (path === 'onednn') return fused[name](args, binding!);
        if (wasmKernel) return wasmKernel.kernelFunc(args);
        throw new Error(`kernel '${name}' runs only on the oneDNN path (check fusedOpsAvailable() first)`);
      },
    });
  }
}

// ---------------------------------------------------------------------------------------------

/** The heap's buffer, read after every allocation: growing the wasm memory replaces it. */
function heap(backend: WasmBackendLike): ArrayBuffer {
  return backend.wasm.HEAPU8.buffer as ArrayBuffer;
}

interface ConvAttrs {
  strides: number | [number, number];
  pad: 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function convParams(xShape: number[], filterShape: number[], attrs: ConvAttrs): { info: tf.backend_util.Conv2DInfo; params: Int32Array } | null {
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') return null;
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  if (info.outHeight <= 0 || info.outWidth <= 0 || info.batchSize === 0) return null;
  const p = info.padInfo;
  const params = Int32Array.from([
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.filterHeight,
    info.filterWidth,
    info.outChannels,
    info.outHeight,
    info.outWidth,
    info.strideHeight,
    info.strideWidth,
    info.dilationHeight,
    info.dilationWidth,
    p.top,
    p.left,
    p.bottom,
    p.right,
  ]);
  return { info, params };
}

function allFloat(...ts: TensorInfo[]): boolean {
  return ts.every((t) => t.dtype === 'float32');
}

function conv2d({ inputs, backend, attrs }: KernelArgs, b: OneDnnBinding): TensorInfo | null {
  const { x, filter } = inputs as { x: TensorInfo; filter: TensorInfo };
  if (!allFloat(x, filter) || x.shape.length !== 4) return null;
  const conv = convParams(x.shape, filter.shape, attrs as unknown as ConvAttrs);
  if (!conv) return null;
  const be = backend as unknown as WasmBackendLike;
  const { info } = conv;
  const out = be.makeOutput([info.batchSize, info.outHeight, info.outWidth, info.outChannels], 'float32');
  b.conv2dForward(heap(be), conv.params, offsetOf(be, x), offsetOf(be, filter), offsetOf(be, out));
  return out;
}

/** tf.fused.conv2d with a bias [Cout] and no activation (what Conv2d layers run); other fusions stay on wasm. */
function fusedConv2d({ inputs, backend, attrs }: KernelArgs, b: OneDnnBinding): TensorInfo | null {
  const { x, filter, bias, preluActivationWeights } = inputs as Record<'x' | 'filter' | 'bias' | 'preluActivationWeights', TensorInfo | undefined>;
  const { activation } = attrs as unknown as { activation?: string };
  if (!x || !filter || !bias || preluActivationWeights || (activation ?? 'linear') !== 'linear') return null;
  if (!allFloat(x, filter, bias) || x.shape.length !== 4) return null;
  const conv = convParams(x.shape, filter.shape, attrs as unknown as ConvAttrs);
  if (!conv || tf.util.sizeFromShape(bias.shape) !== conv.info.outChannels || bias.shape.slice(0, -1).some((d) => d !== 1)) return null;
  const be = backend as unknown as WasmBackendLike;
  const { info } = conv;
  const out = be.makeOutput([info.batchSize, info.outHeight, info.outWidth, info.outChannels], 'float32');
  b.conv2dForward(heap(be), conv.params, offsetOf(be, x), offsetOf(be, filter), offsetOf(be, out), offsetOf(be, bias));
  return out;
}

function conv2dBackpropInput({ inputs, backend, attrs }: KernelArgs, b: OneDnnBinding): TensorInfo | null {
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const a = attrs as unknown as ConvAttrs & { inputShape: number[] };
  if (!allFloat(dy, filter) || a.inputShape.length !== 4) return null;
  const conv = convParams(a.inputShape, filter.shape, a);
  if (!conv) return null;
  const be = backend as unknown as WasmBackendLike;
  const out = be.makeOutput([...a.inputShape], 'float32');
  b.conv2dBackwardData(heap(be), conv.params, offsetOf(be, dy), offsetOf(be, filter), offsetOf(be, out));
  return out;
}

function conv2dBackpropFilter({ inputs, backend, attrs }: KernelArgs, b: OneDnnBinding): TensorInfo | null {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a = attrs as unknown as ConvAttrs & { filterShape: number[] };
  if (!allFloat(x, dy) || x.shape.length !== 4) return null;
  const conv = convParams(x.shape, a.filterShape, a);
  if (!conv) return null;
  const be = backend as unknown as WasmBackendLike;
  const out = be.makeOutput([...a.filterShape], 'float32');
  b.conv2dBackwardWeights(heap(be), conv.params, offsetOf(be, x), offsetOf(be, dy), offsetOf(be, out));
  return out;
}

function batchMatMul({ inputs, backend, attrs }: KernelArgs, b: OneDnnBinding): TensorInfo | null {
  const { a, b: bIn } = inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = attrs as NamedAttrMap as { transposeA: boolean; transposeB: boolean };
  if (!allFloat(a, bIn) || a.shape.length < 2 || bIn.shape.length < 2) return null;
  const ra = a.shape.length;
  const rb = bIn.shape.length;
  const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const k = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const kb = transposeB ? bIn.shape[rb - 1]! : bIn.shape[rb - 2]!;
  const n = transposeB ? bIn.shape[rb - 2]! : bIn.shape[rb - 1]!;
  if (k !== kb) return null; // the wasm kernel reports the shape error
  const outerA = a.shape.slice(0, -2);
  const outerB = bIn.shape.slice(0, -2);
  const batchA = outerA.reduce((p, d) => p * d, 1);
  const batchB = outerB.reduce((p, d) => p * d, 1);
  // Only equal batch shapes, or one side without batch (broadcast): other broadcasts go to wasm.
  const sameOuter = outerA.length === outerB.length && outerA.every((d, i) => d === outerB[i]);
  if (!sameOuter && batchA !== 1 && batchB !== 1) return null;
  if (m === 0 || n === 0 || k === 0 || batchA === 0 || batchB === 0) return null;
  const outer = tf.backend_util.assertAndGetBroadcastShape(outerA, outerB);
  const be = backend as unknown as WasmBackendLike;
  const out = be.makeOutput([...outer, m, n], 'float32');
  const params = Int32Array.from([batchA, batchB, m, k, n, transposeA ? 1 : 0, transposeB ? 1 : 0]);
  b.batchMatMul(heap(be), params, offsetOf(be, a), offsetOf(be, bIn), offsetOf(be, out));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Fused kernels. Inputs are float32 (the callers in fused-ops.ts guarantee it).

function groupNorm({ inputs, backend, attrs }: KernelArgs, b: OneDnnBinding): TensorInfo[] {
  const { x, gamma, beta } = inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
  const { groups, eps, silu } = attrs as unknown as { groups: number; eps: number; silu?: boolean };
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const be = backend as unknown as WasmBackendLike;
  const y = be.makeOutput([n, h, w, c], 'float32');
  const mean = be.makeOutput([n, groups], 'float32');
  const inv = be.makeOutput([n, groups], 'float32');
  const params = Int32Array.from([n, h * w, c, groups, silu ? 1 : 0]);
  b.groupNormForward(heap(be), params, eps, offsetOf(be, x), offsetOf(be, gamma), offsetOf(be, beta), offsetOf(be, y), offsetOf(be, mean), offsetOf(be, inv));
  return [y, mean, inv];
}

function groupNormGrad({ inputs, backend, attrs }: KernelArgs, b: OneDnnBinding): TensorInfo[] {
  const { dy, x, gamma, beta, mean, inv } = inputs as Record<'dy' | 'x' | 'gamma' | 'mean' | 'inv', TensorInfo> & { beta?: TensorInfo };
  const { groups, silu } = attrs as unknown as { groups: number; silu?: boolean };
  if (silu && !beta) throw new Error('LdmGroupNormGrad with silu needs beta (the forward pass is recomputed)');
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const be = backend as unknown as WasmBackendLike;
  const dx = be.makeOutput([n, h, w, c], 'float32');
  const dGamma = be.makeOutput([c], 'float32');
  const dBeta = be.makeOutput([c], 'float32');
  const params = Int32Array.from([n, h * w, c, groups, silu ? 1 : 0]);
  b.groupNormBackward(
    heap(be),
    params,
    offsetOf(be, dy),
    offsetOf(be, x),
    offsetOf(be, gamma),
    offsetOf(be, mean),
    offsetOf(be, inv),
    offsetOf(be, dx),
    offsetOf(be, dGamma),
    offsetOf(be, dBeta),
    ...(silu ? [offsetOf(be, beta!)] : []),
  );
  return [dx, dGamma, dBeta];
}

function silu({ inputs, backend }: KernelArgs, b: OneDnnBinding): TensorInfo {
  const { x } = inputs as { x: TensorInfo };
  const be = backend as unknown as WasmBackendLike;
  const y = be.makeOutput([...x.shape], 'float32');
  b.siluForward(heap(be), tf.util.sizeFromShape(x.shape), offsetOf(be, x), offsetOf(be, y));
  return y;
}

function siluGrad({ inputs, backend }: KernelArgs, b: OneDnnBinding): TensorInfo {
  const { dy, x } = inputs as { dy: TensorInfo; x: TensorInfo };
  const be = backend as unknown as WasmBackendLike;
  const dx = be.makeOutput([...x.shape], 'float32');
  b.siluBackward(heap(be), tf.util.sizeFromShape(x.shape), offsetOf(be, dy), offsetOf(be, x), offsetOf(be, dx));
  return dx;
}

/** Adam for every parameter in one call. inputs: [p₁…pₙ, g₁…gₙ, m₁…mₙ, v₁…vₙ] and the clip scalar last if `clipped`; returns [p′…, m′…, v′…]. */
function adamSteps(args: KernelArgs, b: OneDnnBinding): TensorInfo[] {
  const t = adamTable(args);
  const a = t.attrs;
  const scalars = Float64Array.from([a.beta1, a.beta2, a.epsilon, a.coupledWeightDecay, a.decoupledDecay, a.stepSize, a.biasCorrection2Sqrt]);
  b.adamSteps(heap(args.backend as unknown as WasmBackendLike), Float64Array.from(t.rows), scalars, t.clip);
  return t.outs;
}

/** EMA of every parameter in one call (optimizer-tables.ts); returns [s′₁…s′ₙ]. */
function emaUpdate(args: KernelArgs, b: OneDnnBinding): TensorInfo[] {
  const t = emaTable(args);
  b.emaUpdate(heap(args.backend as unknown as WasmBackendLike), Float64Array.from(t.rows), t.oneMinusDecay);
  return t.outs;
}

/** √(Σ g²) over every input, as one float32 scalar. */
function globalNorm(args: KernelArgs, b: OneDnnBinding): TensorInfo {
  const be = args.backend as unknown as WasmBackendLike;
  const t = normTable(args);
  b.globalNorm(heap(be), Float64Array.from(t.rows), offsetOf(be, t.out));
  return t.out;
}

/**
 * float32 a + b where both have one shape, or one of them is [G, 1, …, 1, C] over the other's [G, …, C]: a row
 * over the last axis ([C], [1, 1, 1, C]: a bias, G = 1) or one row per sample ([B, 1, 1, C] on [B, H, W, C]: a time
 * embedding, G = B). Every other broadcast stays on wasm.
 */
function addRows({ inputs, backend }: KernelArgs, b: OneDnnBinding): TensorInfo | null {
  const { a, b: bIn } = inputs as { a: TensorInfo; b: TensorInfo };
  const plan = a.dtype === 'float32' && bIn.dtype === 'float32' ? rowAddPlan(a.shape, bIn.shape) : null;
  if (!plan) return null;
  const [full, other] = plan.full === 'a' ? [a, bIn] : [bIn, a];
  const be = backend as unknown as WasmBackendLike;
  const out = be.makeOutput([...full.shape], 'float32');
  b.addRows(heap(be), plan.groups, plan.rows, plan.cols, plan.same ? 1 : 0, offsetOf(be, full), offsetOf(be, other), offsetOf(be, out));
  return out;
}

/**
 * Sum over a run of axes that ends just before the last ([A, R…, C] → [A, C]): the gradient of every bias (all
 * axes but the last) and of a time embedding added over H×W (axes 1, 2 of NHWC). Other reductions stay on wasm.
 */
function sumLeadingAxes({ inputs, backend, attrs }: KernelArgs, b: OneDnnBinding): TensorInfo | null {
  const { x } = inputs as { x: TensorInfo };
  const { axis, keepDims } = attrs as unknown as { axis: number | number[]; keepDims: boolean };
  const plan = x.dtype === 'float32' ? leadingSumPlan(x.shape, axis, keepDims) : null;
  if (!plan) return null;
  const be = backend as unknown as WasmBackendLike;
  const out = be.makeOutput(plan.outShape, 'float32');
  b.sumLeading(heap(be), plan.groups, plan.rows, plan.cols, offsetOf(be, x), offsetOf(be, out));
  return out;
}

/** Concat of float32 tensors along any axis: per input, its rows copied into the output's. */
/**
 * The addon's strided row copy (both cores), for the row-copy kernels of row-copies.ts. The heap is looked up at each
 * copy: an output allocated before it may have grown the memory, which replaces its buffer.
 */
function addonCopy(backend: unknown, b: OneDnnBinding): CopyRows {
  const be = backend as WasmBackendLike;
  return (rows, run, srcStride, dstStride, src, dst) => b.copyRows(heap(be), rows, run, srcStride, dstStride, src, dst);
}

/**
 * A float32 transpose on both cores. Axes that stay neighbours in the same order are merged first, so the
 * attention's head split [B, N, h, d] → [B, h, N, d] is a copy of d-long rows.
 */
function transpose({ inputs, backend, attrs }: KernelArgs, b: OneDnnBinding): TensorInfo | null {
  const { x } = inputs as { x: TensorInfo };
  const { perm } = attrs as unknown as { perm: number[] };
  if (x.dtype !== 'float32' || x.shape.length === 0 || tf.util.sizeFromShape(x.shape) === 0) return null;
  // Drop size-1 axes, then merge each input axis into the one before it when the permutation also puts it right after it.
  const kept = perm.filter((a) => x.shape[a] !== 1);
  const shape: number[] = [];
  const groupOf = new Map<number, number>(); // input axis → merged axis
  for (let a = 0; a < x.shape.length; a++) {
    if (x.shape[a] === 1) continue;
    const i = kept.indexOf(a);
    if (i > 0 && kept[i - 1] === lastKeptBefore(x.shape, a)) {
      shape[shape.length - 1]! *= x.shape[a]!;
      groupOf.set(a, shape.length - 1);
    } else {
      groupOf.set(a, shape.length);
      shape.push(x.shape[a]!);
    }
  }
  const mergedPerm: number[] = [];
  for (const a of kept) {
    const g = groupOf.get(a)!;
    if (mergedPerm[mergedPerm.length - 1] !== g) mergedPerm.push(g);
  }
  if (shape.length > 8) return null;
  const be = backend as unknown as WasmBackendLike;
  const outShape = perm.map((a) => x.shape[a]!);
  if (shape.length <= 1 || mergedPerm.every((a, i) => a === i)) {
    // Only size-1 axes move (one attention head): the same data in a new shape, shared as Reshape shares it.
    be.incRef(x.dataId);
    return { dataId: x.dataId, shape: outShape, dtype: 'float32' };
  }
  const out = be.makeOutput(outShape, 'float32');
  b.transpose(heap(be), Int32Array.from([shape.length, ...shape, ...mergedPerm]), offsetOf(be, x), offsetOf(be, out));
  return out;
}

/** The input axis before `a` that is not of size 1, or −1. */
function lastKeptBefore(shape: readonly number[], a: number): number {
  for (let i = a - 1; i >= 0; i--) if (shape[i] !== 1) return i;
  return -1;
}

/** A constant pad of float32 (the VAE's asymmetric pad before a stride-2 conv, the conv gradients' pads). */
function pad({ inputs, backend, attrs }: KernelArgs, b: OneDnnBinding): TensorInfo | null {
  const { x } = inputs as { x: TensorInfo };
  const { paddings, constantValue } = attrs as unknown as { paddings: [number, number][]; constantValue: number };
  const rank = x.shape.length;
  if (x.dtype !== 'float32' || rank === 0 || rank > 8 || tf.util.sizeFromShape(x.shape) === 0) return null;
  if (paddings.some(([p, q]) => p < 0 || q < 0)) return null;
  const be = backend as unknown as WasmBackendLike;
  const out = be.makeOutput(
    x.shape.map((d, i) => d + paddings[i]![0] + paddings[i]![1]),
    'float32',
  );
  const params = Int32Array.from([rank, ...x.shape, ...paddings.map((p) => p[0]), ...paddings.map((p) => p[1])]);
  b.pad(heap(be), params, constantValue, offsetOf(be, x), offsetOf(be, out));
  return out;
}

/**
 * Nearest-neighbour upscaling of NHWC float32 by whole factors without alignCorners or halfPixelCenters (a UNet's and
 * a VAE's ×2 upsampling): output row i reads input row ⌊i / f⌋, as the wasm kernel computes it. Other resizes stay on wasm.
 */
function resizeNearestNeighbor({ inputs, backend, attrs }: KernelArgs, b: OneDnnBinding): TensorInfo | null {
  const { images } = inputs as { images: TensorInfo };
  const { alignCorners, halfPixelCenters, size } = attrs as unknown as { alignCorners: boolean; halfPixelCenters: boolean; size: [number, number] };
  if (images.dtype !== 'float32' || images.shape.length !== 4 || alignCorners || halfPixelCenters) return null;
  const [batch, h, w, c] = images.shape as [number, number, number, number];
  const [oh, ow] = size;
  if (h === 0 || w === 0 || oh % h !== 0 || ow % w !== 0 || batch * c * oh * ow === 0) return null;
  const rowOf = Int32Array.from({ length: oh }, (_, i) => Math.floor(i / (oh / h)));
  const colOf = Int32Array.from({ length: ow }, (_, j) => Math.floor(j / (ow / w)));
  const be = backend as unknown as WasmBackendLike;
  const out = be.makeOutput([batch, oh, ow, c], 'float32');
  b.resizeNearest(heap(be), Int32Array.from([batch, h, w, c, oh, ow]), rowOf, colOf, offsetOf(be, images), offsetOf(be, out));
  return out;
}

/** Average pooling over non-overlapping windows (stride = window, no padding, sizes divisible): the ×2 upsampling's gradient. */
function avgPool({ inputs, backend, attrs }: KernelArgs, b: OneDnnBinding): TensorInfo | null {
  const { x } = inputs as { x: TensorInfo };
  const { filterSize, strides, pad: padding } = attrs as unknown as { filterSize: number | [number, number]; strides: number | [number, number]; pad: unknown };
  if (x.dtype !== 'float32' || x.shape.length !== 4) return null;
  const [kh, kw] = typeof filterSize === 'number' ? [filterSize, filterSize] : filterSize;
  const [sh, sw] = typeof strides === 'number' ? [strides, strides] : strides;
  const [batch, h, w, c] = x.shape as [number, number, number, number];
  if (kh !== sh || kw !== sw || !(padding === 'valid' || padding === 0) || h % kh !== 0 || w % kw !== 0 || batch * h * w * c === 0) return null;
  const be = backend as unknown as WasmBackendLike;
  const out = be.makeOutput([batch, h / kh, w / kw, c], 'float32');
  b.avgPoolBlocks(heap(be), Int32Array.from([batch, h, w, c, kh, kw]), offsetOf(be, x), offsetOf(be, out));
  return out;
}
