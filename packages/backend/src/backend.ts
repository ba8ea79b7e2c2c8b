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
import { installResizeGradient } from './resize-gradient';

export type BackendName = 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
export type ConcreteBackendName = Exclude<BackendName, 'auto'>;

/** The order `auto` tries: fastest first, the one that installs everywhere last but one. */
export const backendLadder: readonly ConcreteBackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

export interface BackendOptions {
  /** Which backend to start; `auto` takes the first that works of tensorflow-gpu, tensorflow, wasm, cpu. Default `auto`. */
  backend?: BackendName;
}

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
    throw new Error(
      `${specifier} loaded but registered its backend into another copy of @tensorflow/tfjs-core; install a single tfjs-core (pnpm dedupe)`,
    );
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
}

async function start(name: ConcreteBackendName): Promise<void> {
  if (isNative(name)) await startNative(name);
  else await startBundled(name);
  await tf.ready();
}

function failureMessage(name: ConcreteBackendName, error: unknown): string {
  if (isNative(name)) return nativeBackendFailureMessage(name, error);
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
    throw new LdmError(
      'INVALID_ARGUMENT',
      `unknown backend '${String(wanted)}': expected one of auto, ${backendLadder.join(', ')}`,
    );
  }
  if (wanted !== 'auto') {
    try {
      await start(wanted);
    } catch (error) {
      // A half-loaded native package may have re-registered the stock gradients; restore ours.
      configureGradients(active?.name ?? 'wasm');
      throw new LdmError('BACKEND_UNAVAILABLE', failureMessage(wanted, error), { cause: error });
    }
    configureGradients(wanted);
    active = { name: wanted, reason: 'asked for with backend option', tried: [] };
    return active;
  }

  const tried: BackendAttempt[] = [];
  for (const name of backendLadder) {
    try {
      await start(name);
    } catch (error) {
      tried.push({ name, error: shortReason(name, error) });
      continue;
    }
    configureGradients(name);
    const skipped = tried.map((t) => `${t.name}: ${t.error}`).join('; ');
    const reason = skipped.length > 0 ? `auto: first backend that started (${skipped})` : 'auto: first backend that started';
    active = { name, reason, tried };
    return active;
  }
  configureGradients('cpu');
  throw new LdmError(
    'BACKEND_UNAVAILABLE',
    `no tfjs backend could start: ${tried.map((t) => `${t.name}: ${t.error}`).join('; ')}`,
  );
}
