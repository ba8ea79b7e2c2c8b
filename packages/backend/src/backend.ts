import * as tf from '@tensorflow/tfjs-core';
// Training needs gradients, which tfjs-core alone does not register.
import './register-gradients';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { nativeBackendFailureMessage, nativeBackendPackages, shortFailureReason } from './backend-errors';
import type { NativeBackendName } from './backend-errors';
import { installConvGradients, uninstallConvGradients } from './conv-gradients';
import { LdmError } from './errors';
import { installGatherGradient } from './gather-gradient';
import {
  installOneDnnKernels,
  kernelPath,
  loadOneDnn,
  oneDnnInfo,
  oneDnnKernelNames,
  oneDnnBf16UnavailableReason,
  oneDnnUnavailableReason,
  setKernelPath,
  setOneDnnConvPrecision,
  setOneDnnThreads,
} from './onednn-kernels';
import { installResizeGradient } from './resize-gradient';
import { installWasmSimdKernels, wasmSimdKernelsActive, wasmSimdKernelsSummary } from './wasm-simd-kernels';
import { installSharedIdentity, installUntapedSaves } from './shared-identity';

/**
 * 'native' is the wasm backend with its heavy kernels (convolutions and their gradients, batched
 * matmul) run by oneDNN through the optional `@ldm/onednn` addon; 'wasm' is the same backend on
 * XNNPACK alone.
 */
export type BackendName = 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'native' | 'wasm' | 'cpu';
export type ConcreteBackendName = Exclude<BackendName, 'auto'>;

/** The order `auto` tries: fastest first, the one that installs everywhere last but one. */
export const backendLadder: readonly ConcreteBackendName[] = ['tensorflow-gpu', 'tensorflow', 'native', 'wasm', 'cpu'];

export interface BackendOptions {
  /** Which backend to start; `auto` takes the first that works of tensorflow-gpu, tensorflow, wasm, cpu. Default `auto`. */
  backend?: BackendName;
  /**
   * Threads the native (oneDNN) kernels use inside each op. Default 1 (or OMP_NUM_THREADS when set): a second
   * thread pays only on an idle machine (`pnpm bench`, idle, 2026-12-04: training 1.35× on the latent UNet, 1.60× on
   * the pixel UNet, 1.67× on the VAE; beside another busy process, slower than one thread).
   */
  threads?: number;
  /**
   * What the native path's convolutions compute in: 'f32' (default) or 'bf16' — inputs rounded to bfloat16, float32
   * accumulation and outputs, as PyTorch's autocast to bfloat16 on a CPU. Needs the native backend on a CPU with
   * bfloat16 dot products (AVX512-BF16 or AMX); every other kernel stays float32.
   */
  precision?: ConvPrecision;
}

/** What convolutions compute in on the native path (BackendOptions.precision). */
export type ConvPrecision = 'f32' | 'bf16';

export interface BackendAttempt {
  name: ConcreteBackendName;
  /** One line: why this backend did not start. */
  error: string;
}

export interface BackendInfo {
  /** The backend that runs. */
  name: ConcreteBackendName;
  /** Why it was chosen, and why the ones before it were not (for `auto`). */
  reason: string;
  /** Backends tried before `name`, each with why it failed (empty unless `auto` fell through). */
  tried: BackendAttempt[];
  /** Which kernels run the heavy ops, in one line (e.g. oneDNN's version, ISA and threads). */
  kernels: string;
  /** What convolutions compute in ('bf16' only on the native backend, when asked for). */
  precision: ConvPrecision;
}

let active: BackendInfo | undefined;

/** The backend `initBackend` last started, or undefined before the first call. */
export function activeBackend(): BackendInfo | undefined {
  return active;
}

function isNative(name: ConcreteBackendName): name is NativeBackendName {
  return name === 'tensorflow-gpu' || name === 'tensorflow';
}

/**
 * Loads a native package (which registers the 'tensorflow' backend into the shared tfjs engine) and
 * switches to it. Throws the package's own error; the caller turns it into a message.
 */
async function startNative(name: NativeBackendName): Promise<void> {
  const specifier = nativeBackendPackages[name];
  try {
    // A variable specifier keeps bundlers from resolving the optional package at build time.
    await import(/* @vite-ignore */ specifier);
  } catch (error) {
    forgetHalfLoadedNativeKernels();
    throw error;
  }
  if (tf.findBackendFactory('tensorflow') === null) {
    throw new Error(`${specifier} loaded but registered its backend into another copy of @tensorflow/tfjs-core; install a single tfjs-core (pnpm dedupe)`);
  }
  if (!(await tf.setBackend('tensorflow'))) {
    throw new Error(`${specifier} loaded but its 'tensorflow' backend failed to initialise`);
  }
}

/**
 * tfjs-node registers its kernels before it loads the binding, so a failed load leaves kernels for a
 * 'tensorflow' backend that does not exist, and the next native package to try would print a
 * warning for each one it re-registers (about 150 lines).
 */
function forgetHalfLoadedNativeKernels(): void {
  if (tf.findBackendFactory('tensorflow') !== null) return;
  for (const kernel of tf.getKernelsForBackend('tensorflow')) {
    tf.unregisterKernel(kernel.kernelName, 'tensorflow');
  }
}

async function startBundled(name: 'wasm' | 'cpu'): Promise<void> {
  if (!(await tf.setBackend(name))) {
    throw new Error(`tfjs backend '${name}' failed to initialise`);
  }
  if (name === 'wasm') {
    installSharedIdentity();
    installUntapedSaves();
    // Before the oneDNN kernels, which fall back to whatever 'wasm' kernel they find registered.
    await installWasmSimdKernels();
  }
}

/** The wasm backend with oneDNN kernels: needs the `@ldm/onednn` addon built for this machine. */
async function startOneDnn(threads: number | undefined, precision: ConvPrecision): Promise<void> {
  if (!(await loadOneDnn())) throw new Error(oneDnnUnavailableReason() ?? 'the @ldm/onednn addon did not load');
  await startBundled('wasm');
  installOneDnnKernels();
  setOneDnnConvPrecision(precision);
  const fromEnv = Number(typeof process !== 'undefined' ? process.env.OMP_NUM_THREADS : undefined);
  setOneDnnThreads(threads ?? (Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : 1));
  setKernelPath('onednn');
}

/** The process events Emscripten's Node glue (the wasm backend's) listens to. */
const hostErrorEvents = ['uncaughtException', 'unhandledRejection'] as const;

async function start(name: ConcreteBackendName, threads: number | undefined, precision: ConvPrecision): Promise<void> {
  const before = hostErrorEvents.map((event) => new Set<unknown>(process.listeners(event as 'uncaughtException')));
  try {
    if (isNative(name)) await startNative(name);
    else if (name === 'native') await startOneDnn(threads, precision);
    else {
      await startBundled(name);
      if (kernelPath() === 'onednn') setKernelPath('wasm');
    }
    await tf.ready();
  } finally {
    releaseHostErrors(before);
  }
}

/**
 * The wasm backend's Emscripten module adds `uncaughtException` / `unhandledRejection` listeners that
 * re-throw every error of the host process from inside tfjs (exit code 7, a trace into
 * tf-backend-wasm). The host's own errors are not ours to handle: remove whatever starting a backend
 * added, so they keep their exit codes and traces.
 */
function releaseHostErrors(before: Array<Set<unknown>>): void {
  hostErrorEvents.forEach((event, i) => {
    // The cast picks one overload of the typed listeners(); both events are plain process events.
    for (const listener of process.listeners(event as 'uncaughtException')) {
      if (!before[i]!.has(listener)) process.removeListener(event, listener);
    }
  });
}

function kernelsOf(name: ConcreteBackendName): string {
  if (name === 'native') {
    const info = oneDnnInfo()!;
    const bf16 = info.convPrecision === 'bf16' ? ', convolutions in bfloat16 with float32 accumulation' : '';
    return `oneDNN ${info.onednn} (${info.isa}, ${info.threads} thread${info.threads === 1 ? '' : 's'}${bf16}) for ${oneDnnKernelNames.join(', ')}; wasm for the rest`;
  }
  if (name === 'wasm') return `wasm (XNNPACK, 128-bit SIMD, 1 thread${wasmSimdKernelsActive() ? `; our SIMD kernels for ${wasmSimdKernelsSummary}` : ''})`;
  if (name === 'cpu') return 'plain JavaScript';
  return 'libtensorflow';
}

function failureMessage(name: ConcreteBackendName, error: unknown): string {
  if (isNative(name)) return nativeBackendFailureMessage(name, error);
  if (name === 'native') {
    const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
    return `backend 'native' is unavailable: ${detail}; run \`pnpm setup:native\` (Linux x64, apt-get install libdnnl-dev) or use --backend wasm.`;
  }
  const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
  return `backend '${name}' is unavailable: @tensorflow/tfjs-backend-${name} failed to start (${detail}); try --backend cpu.`;
}

function shortReason(name: ConcreteBackendName, error: unknown): string {
  if (isNative(name)) return shortFailureReason(name, error);
  return error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
}

/**
 * Which gradients to override follows the backend. The Conv2D rewrite is for wasm (no
 * Conv2DBackpropFilter, a naive Conv2DBackpropInput) and cpu (backprop kernels far slower than its
 * forward conv); libtensorflow has tuned backprop kernels, so native backends keep tfjs' own. The
 * resize and gather gradients are exact everywhere and fix kernels that are wrong or missing
 * (cpu ResizeNearestNeighborGrad with batch > 1, wasm UnsortedSegmentSum). Called after loading,
 * since a native package re-registers all stock gradients.
 */
function configureGradients(name: ConcreteBackendName): void {
  // The oneDNN path turns the override off by itself (kernelPath), so it can switch in one process.
  if (isNative(name)) uninstallConvGradients();
  else installConvGradients();
  installResizeGradient();
  installGatherGradient();
}

/**
 * Starts a tfjs backend. An explicit name that cannot start throws `LdmError('BACKEND_UNAVAILABLE')`
 * with a one-line message naming the package and how to install it; `auto` walks the ladder
 * (tensorflow-gpu, tensorflow, wasm, cpu) and reports in `tried` why the earlier rungs failed.
 */
export async function initBackend(options: BackendOptions = {}): Promise<BackendInfo> {
  const wanted = options.backend ?? 'auto';
  if (wanted !== 'auto' && !backendLadder.includes(wanted)) {
    throw new LdmError('INVALID_ARGUMENT', `unknown backend '${String(wanted)}': expected one of auto, ${backendLadder.join(', ')}`);
  }
  const precision = options.precision ?? 'f32';
  if (precision !== 'f32' && precision !== 'bf16') throw new LdmError('INVALID_ARGUMENT', `unknown precision '${String(precision)}': expected f32 or bf16`);
  // bfloat16 convolutions exist only on the oneDNN path: asking for them elsewhere is an error, not a silent float32 run.
  const needNative = (name: ConcreteBackendName, tried: BackendAttempt[] = []) => {
    if (precision === 'bf16' && name !== 'native') {
      const why = tried.find((t) => t.name === 'native');
      throw new LdmError(
        'INVALID_ARGUMENT',
        `precision 'bf16' runs on the native backend only (oneDNN), not on '${name}'${why ? ` (native: ${why.error})` : ''}`,
      );
    }
  };
  if (wanted !== 'auto') {
    needNative(wanted);
    // A CPU without bfloat16 is the caller's choice to fix, not a backend to install: said as such, before starting.
    const noBf16 = precision === 'bf16' && (await loadOneDnn()) ? oneDnnBf16UnavailableReason() : null;
    if (noBf16) throw new LdmError('INVALID_ARGUMENT', `${noBf16}; use precision 'f32'`);
    try {
      await start(wanted, options.threads, precision);
    } catch (error) {
      // A half-loaded native package may have re-registered the stock gradients; restore ours.
      configureGradients(active?.name ?? 'wasm');
      throw new LdmError('BACKEND_UNAVAILABLE', failureMessage(wanted, error), { cause: error });
    }
    configureGradients(wanted);
    active = { name: wanted, reason: 'asked for with backend option', tried: [], kernels: kernelsOf(wanted), precision };
    return active;
  }

  const tried: BackendAttempt[] = [];
  for (const name of backendLadder) {
    try {
      await start(name, options.threads, precision);
    } catch (error) {
      tried.push({ name, error: shortReason(name, error) });
      continue;
    }
    needNative(name, tried);
    configureGradients(name);
    const skipped = tried.map((t) => `${t.name}: ${t.error}`).join('; ');
    const reason = skipped.length > 0 ? `auto: first backend that started (${skipped})` : 'auto: first backend that started';
    active = { name, reason, tried, kernels: kernelsOf(name), precision };
    return active;
  }
  configureGradients('cpu');
  throw new LdmError('BACKEND_UNAVAILABLE', `no tfjs backend could start: ${tried.map((t) => `${t.name}: ${t.error}`).join('; ')}`);
}
