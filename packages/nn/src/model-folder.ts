import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LdmError, writeFileAtomic } from '@ldm/backend';
import { readSafetensorsFile, writeSafetensorsFile } from './safetensors';
import type { TensorRecord } from './safetensors';
import type { Module } from './module';
import { loadTorchStateDict } from './torch-layout';

/** diffusers' file names inside a model folder. */
export const CONFIG_NAME = 'config.json';
export const WEIGHTS_NAME = 'diffusion_pytorch_model.safetensors';

export interface ModelFolder {
  config: Record<string, unknown>;
  tensors: Map<string, TensorRecord>;
}

/** Reads a diffusers model folder (`config.json` + `diffusion_pytorch_model.safetensors`). */
export async function readModelFolder(dir: string): Promise<ModelFolder> {
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) {
    throw new LdmError('FILE_NOT_FOUND', `model folder '${dir}' does not exist (expected a directory with ${CONFIG_NAME} and ${WEIGHTS_NAME})`);
  }
  const configPath = join(dir, CONFIG_NAME);
  const weightsPath = join(dir, WEIGHTS_NAME);
  let text: string;
  try {
    text = await readFile(configPath, 'utf8');
  } catch {
    throw new LdmError('FILE_NOT_FOUND', `${configPath} not found: a model folder needs ${CONFIG_NAME} and ${WEIGHTS_NAME}`);
  }
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (e) {
    throw new LdmError('CORRUPT_FILE', `${configPath} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new LdmError('CORRUPT_FILE', `${configPath} must hold a JSON object`);
  }
  const exists = await stat(weightsPath).catch(() => null);
  if (!exists) throw new LdmError('FILE_NOT_FOUND', `${weightsPath} not found: a model folder needs ${WEIGHTS_NAME}`);
  const { tensors } = await readSafetensorsFile(weightsPath);
  return { config: config as Record<string, unknown>, tensors };
}

/**
 * Writes a diffusers model folder. Each file goes to a temporary name and is renamed into place;
 * the weights are written first so a crash never leaves a config pointing at missing weights.
 */
export async function writeModelFolder(dir: string, config: Record<string, unknown>, tensors: ReadonlyMap<string, TensorRecord>): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeSafetensorsFile(join(dir, WEIGHTS_NAME), tensors, { format: 'pt' });
  await writeFileAtomic(join(dir, CONFIG_NAME), `${JSON.stringify(config, null, 2)}\n`);
}

/** Copies the weights of the model folder `dir` into `model` (torch layout, transposed on the way in). */
export async function loadModelFolderInto(model: Module, dir: string): Promise<void> {
  const { tensors } = await readModelFolder(dir);
  loadTorchStateDict(model, tensors, { source: join(dir, WEIGHTS_NAME) });
}

/**
 * Builds the model a diffusers folder holds: checks `_class_name`, constructs from config.json with
 * `build`, loads the weights, and frees the model again if they do not fit.
 */
export async function loadPretrained<M extends Module>(dir: string, className: string, build: (config: Record<string, unknown>) => M): Promise<M> {
  const { config, tensors } = await readModelFolder(dir);
  if (config._class_name !== undefined && config._class_name !== className) {
    throw new LdmError('INVALID_CONFIG', `${join(dir, CONFIG_NAME)}: _class_name is '${String(config._class_name)}', expected '${className}'`);
  }
  const model = build(config);
  try {
    loadTorchStateDict(model, tensors, { source: join(dir, WEIGHTS_NAME) });
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}
