import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { LdmError } from '@ldm/backend';
import { readSafetensorsFile, writeFileAtomic, writeSafetensorsFile } from '@ldm/nn';
import type { TensorRecord } from '@ldm/nn';
import { DEFAULT_CLASSIFIER_CONFIG, MnistClassifier } from './classifier';
import type { ClassifierConfig } from './classifier';

export const CLASSIFIER_CONFIG_NAME = 'config.json';
export const CLASSIFIER_WEIGHTS_NAME = 'model.safetensors';
const ARCHITECTURE = 'ldm-mnist-classifier';

/** What config.json holds besides the architecture: how the shipped weights were made. */
export interface ClassifierProvenance {
  heldOutAccuracy?: number;
  trainImages?: number;
  heldOutImages?: number;
  command?: string;
  seed?: number;
  [key: string]: unknown;
}

/** The folder the package ships: packages/eval/assets/mnist-classifier (one level above src/ and dist/). */
export function defaultClassifierDir(): string {
  return fileURLToPath(new URL('../assets/mnist-classifier', import.meta.url));
}

/** Writes config.json + model.safetensors into `dir` (each file atomically). */
export async function saveClassifier(dir: string, model: MnistClassifier, provenance: ClassifierProvenance = {}): Promise<void> {
  const { mkdir } = await import('node:fs/promises');
  await mkdir(dir, { recursive: true });
  const tensors = new Map<string, TensorRecord>();
  for (const [name, v] of model.parameters()) tensors.set(name, { shape: [...v.shape], data: v.dataSync() as Float32Array });
  await writeSafetensorsFile(join(dir, CLASSIFIER_WEIGHTS_NAME), tensors);
  const config = { architecture: ARCHITECTURE, ...model.config, ...provenance };
  await writeFileAtomic(join(dir, CLASSIFIER_CONFIG_NAME), `${JSON.stringify(config, null, 2)}\n`);
}

/** Loads a classifier folder written by saveClassifier. */
export async function loadClassifier(dir: string): Promise<{ model: MnistClassifier; provenance: ClassifierProvenance }> {
  const configPath = join(dir, CLASSIFIER_CONFIG_NAME);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(await readFile(configPath, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new LdmError('FILE_NOT_FOUND', `${configPath}: no classifier config (re-create it with \`pnpm --filter @ldm/eval train-classifier\`)`, {
        cause: e,
      });
    }
    throw new LdmError('CORRUPT_FILE', `${configPath}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  if (raw.architecture !== ARCHITECTURE) {
    throw new LdmError('INVALID_CONFIG', `${configPath}: expected "architecture": "${ARCHITECTURE}", got ${JSON.stringify(raw.architecture)}`);
  }
  const config: Partial<ClassifierConfig> = {};
  for (const key of Object.keys(DEFAULT_CLASSIFIER_CONFIG) as (keyof ClassifierConfig)[]) {
    if (raw[key] !== undefined) (config as Record<string, unknown>)[key] = raw[key];
    delete raw[key];
  }
  delete raw.architecture;
  const model = new MnistClassifier(config);
  try {
    const file = await readSafetensorsFile(join(dir, CLASSIFIER_WEIGHTS_NAME));
    const state = new Map<string, tf.Tensor>();
    for (const [name, t] of file.tensors) state.set(name, tf.tensor(t.data, t.shape));
    try {
      model.loadStateDict(state);
    } finally {
      for (const t of state.values()) t.dispose();
    }
  } catch (e) {
    model.dispose();
    throw e;
  }
  model.eval();
  return { model, provenance: raw as ClassifierProvenance };
}

/** The classifier this package ships (trained by `pnpm --filter @ldm/eval train-classifier`). */
export async function loadMnistClassifier(dir: string = defaultClassifierDir()): Promise<MnistClassifier> {
  return (await loadClassifier(dir)).model;
}
