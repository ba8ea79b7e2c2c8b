import * as tf from '@tensorflow/tfjs-core';
// tfjs-core alone registers neither gradients nor chained ops; training needs the former.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { installConvGradients } from './conv-gradients';
import { LdmError } from './errors';

export type BackendName = 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

export interface BackendOptions {
  /** Which backend to start; `auto` takes the first that works of tensorflow-gpu, tensorflow, wasm, cpu. */
  backend?: BackendName;
}

export interface BackendInfo {
  /** The backend that runs. */
  name: Exclude<BackendName, 'auto'>;
  /** Why it was chosen, and why the ones before it were not (for `auto`). */
  reason: string;
}

/** Starts a tfjs backend. (Placeholder: wasm and cpu only; the backend issue completes it.) */
export async function initBackend(options: BackendOptions = {}): Promise<BackendInfo> {
  const wanted = options.backend ?? 'auto';
  const name = wanted === 'auto' ? 'wasm' : wanted;
  if (name !== 'wasm' && name !== 'cpu') {
    throw new LdmError('BACKEND_UNAVAILABLE', `backend '${name}' is not available`);
  }
  await tf.setBackend(name);
  await tf.ready();
  installConvGradients();
  return { name, reason: wanted === 'auto' ? 'auto: wasm' : 'asked for' };
}
