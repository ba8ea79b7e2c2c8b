/*
 * initBackend in a web page: the backends tfjs runs in a browser. The native rungs (libtensorflow,
 * oneDNN) need Node and are refused by name; the wasm backend's binaries are found where
 * `setWasmPaths` (from @tensorflow/tfjs-backend-wasm) was pointed before this is called.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { LdmError } from './errors';
import { installWasmSimdKernels, wasmSimdKernelsActive, wasmSimdKernelsSummary } from './wasm-simd-kernels';

/** The order `auto` tries in a browser: WebGL only when the page registered it (import '@tensorflow/tfjs-backend-webgl'). */
const browserLadder = ['webgl', 'wasm', 'cpu'] as const;
export type BrowserBackendName = (typeof browserLadder)[number];

export interface BrowserBackendOptions {
  /** 'auto' (default), 'webgl', 'wasm' or 'cpu'; Node's native names are refused with a one-line error. */
  backend?: BrowserBackendName | 'auto' | 'native' | 'tensorflow' | 'tensorflow-gpu';
}

export interface BrowserBackendInfo {
  name: BrowserBackendName;
  reason: string;
  tried: Array<{ name: BrowserBackendName; error: string }>;
  kernels: string;
}

let active: BrowserBackendInfo | undefined;

export function activeBackend(): BrowserBackendInfo | undefined {
  return active;
}

function kernelsOf(name: BrowserBackendName): string {
  if (name === 'wasm') {
    const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? ', 128-bit SIMD' : '';
    return `wasm (XNNPACK${simd}${wasmSimdKernelsActive() ? `; our SIMD kernels for ${wasmSimdKernelsSummary}` : ''}, in the browser)`;
  }
  if (name === 'webgl') return 'WebGL shaders';
  return 'plain JavaScript';
}

async function start(name: BrowserBackendName): Promise<void> {
  if (tf.findBackendFactory(name) === null) throw new Error(`tfjs backend '${name}' is not registered in this page`);
  if (!(await tf.setBackend(name))) throw new Error(`tfjs backend '${name}' failed to initialise`);
  await tf.ready();
  // Our SIMD kernels share the wasm backend's memory; its threaded build (shared memory) keeps its own kernels.
  if (name === 'wasm') await installWasmSimdKernels();
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
}

/** Starts a tfjs backend in a browser: `auto` takes WebGL (when registered), then wasm, then cpu. */
export async function initBackend(options: BrowserBackendOptions = {}): Promise<BrowserBackendInfo> {
  const wanted = (options.backend ?? 'auto') as string;
  if (wanted === 'native' || wanted === 'tensorflow' || wanted === 'tensorflow-gpu') {
    throw new LdmError('BACKEND_UNAVAILABLE', `backend '${wanted}' needs Node; in a browser use wasm, webgl or cpu`);
  }
  if (wanted !== 'auto') {
    if (!(browserLadder as readonly string[]).includes(wanted)) {
      throw new LdmError('INVALID_ARGUMENT', `unknown backend '${wanted}': expected one of auto, ${browserLadder.join(', ')}`);
    }
    try {
      await start(wanted as BrowserBackendName);
    } catch (error) {
      throw new LdmError('BACKEND_UNAVAILABLE', `backend '${wanted}' is unavailable: ${describe(error)}`, { cause: error });
    }
    active = { name: wanted as BrowserBackendName, reason: 'asked for with backend option', tried: [], kernels: kernelsOf(wanted as BrowserBackendName) };
    return active;
  }
  const tried: BrowserBackendInfo['tried'] = [];
  for (const name of browserLadder) {
    try {
      await start(name);
    } catch (error) {
      tried.push({ name, error: describe(error) });
      continue;
    }
    active = { name, reason: 'auto: first backend that started in this browser', tried, kernels: kernelsOf(name) };
    return active;
  }
  throw new LdmError('BACKEND_UNAVAILABLE', `no tfjs backend could start: ${tried.map((t) => `${t.name}: ${t.error}`).join('; ')}`);
}
