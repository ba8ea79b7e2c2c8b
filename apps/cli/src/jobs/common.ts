import { access, readFile } from 'node:fs/promises';
import { initBackend, LdmError } from '@ldm/backend';
import type { BackendInfo, BackendName, ConvPrecision } from '@ldm/backend';

/**
 * Starts the backend the user asked for (--backend, --precision) and says which one runs, and why. `kernelThreads`:
 * the threads the native kernels use inside each op (the training commands' --threads; ignored by wasm).
 */
export async function startBackend(args: { backend: string; precision?: ConvPrecision }, quiet = false, kernelThreads?: number): Promise<BackendInfo> {
  const info = await initBackend({ backend: args.backend as BackendName, precision: args.precision, ...(kernelThreads ? { threads: kernelThreads } : {}) });
  if (!quiet) process.stderr.write(`backend: ${info.name} (${info.reason}); kernels: ${info.kernels}\n`);
  return info;
}

/**
 * How a training command's --threads N are spent: on the native path as N threads inside each kernel
 * (oneDNN's), on wasm as N data-parallel workers (one wasm backend each: a wasm kernel runs on one thread).
 * Measured on the latent DDPM's training loop (`pnpm bench --sections loop`, B64, idle): 2 threads inside
 * each kernel 980 img/s, 2 workers 840, 1 thread 755.
 */
export function threadUse(backend: BackendInfo, threads: number): ThreadUse {
  return backend.name === 'native' ? { kernelThreads: threads, workers: 1 } : { kernelThreads: 1, workers: threads };
}

/** Where a training command's --threads went (its summary.json says so). */
export interface ThreadUse {
  /** Threads inside each native kernel. */
  kernelThreads: number;
  /** Data-parallel workers computing the gradients (1: in-process). */
  workers: number;
}

export async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

export async function readJson<T>(path: string): Promise<T> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new LdmError('FILE_NOT_FOUND', `${path} not found`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new LdmError('CORRUPT_FILE', `${path} is not valid JSON (${(error as Error).message})`);
  }
}

export const PIPELINE_INDEX = 'model_index.json';

/** Writes JSON atomically, creating the folder first. */
export async function writeJson(path: string, value: unknown): Promise<void> {
  const { mkdir } = await import('node:fs/promises');
  const { dirname } = await import('node:path');
  const { writeFileAtomic } = await import('@ldm/nn');
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Builds a model from defaults plus --model-config; a bad value there is reported with the file's
 * name (the model's own check names the key).
 */
export async function buildWithModelConfig<M>(path: string | undefined, build: (overrides: Record<string, unknown>) => M): Promise<M> {
  const overrides = await readModelConfig(path);
  try {
    return build(overrides);
  } catch (error) {
    if (path && LdmError.isInstance(error) && error.code === 'INVALID_CONFIG')
      throw new LdmError('INVALID_CONFIG', `--model-config ${path}: ${error.message}`, { cause: error });
    throw error;
  }
}

/** Architecture overrides from --model-config (a JSON object), or {} when not given. */
export async function readModelConfig(path: string | undefined): Promise<Record<string, unknown>> {
  if (!path) return {};
  const config = await readJson<unknown>(path);
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new LdmError('INVALID_CONFIG', `--model-config ${path}: expected a JSON object of architecture options`);
  }
  return config as Record<string, unknown>;
}
