/* Model folders in Node: on disk, or over HTTP when the folder is an http(s) URL (model-folder-core.ts). */
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LdmError, writeFileAtomic } from '@ldm/backend';
import { isUrl } from './location';
import { joinLocation } from './location-node';
import { CONFIG_NAME, WEIGHTS_NAME, buildPretrained, parseModelConfig, readModelFolderFromUrl } from './model-folder-core';
import type { ModelFolder } from './model-folder-core';
import type { Module } from './module';
import type { TensorRecord } from './safetensors';
import { readSafetensorsFile, writeSafetensorsFile } from './safetensors-file';
import { loadTorchStateDict } from './torch-layout';

export { CONFIG_NAME, WEIGHTS_NAME, checkConfigAgainstWeights } from './model-folder-core';
export type { ModelFolder } from './model-folder-core';

/** Reads a diffusers model folder (`config.json` + `diffusion_pytorch_model.safetensors`): a directory or an http(s) URL. */
export async function readModelFolder(dir: string): Promise<ModelFolder> {
  if (isUrl(dir)) return readModelFolderFromUrl(dir);
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
  const config = parseModelConfig(text, configPath);
  const exists = await stat(weightsPath).catch(() => null);
  if (!exists) throw new LdmError('FILE_NOT_FOUND', `${weightsPath} not found: a model folder needs ${WEIGHTS_NAME}`);
  const { tensors } = await readSafetensorsFile(weightsPath);
  return { config, tensors };
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
  loadTorchStateDict(model, tensors, { source: joinLocation(dir, WEIGHTS_NAME) });
}

/**
 * Builds the model a diffusers folder (a directory or an http(s) URL) holds: see buildPretrained.
 */
export async function loadPretrained<M extends Module>(
  dir: string,
  className: string,
  build: (config: Record<string, unknown>) => M,
  blocksPrefix?: string,
): Promise<M> {
  const folder = await readModelFolder(dir);
  return buildPretrained(folder, { configPath: joinLocation(dir, CONFIG_NAME), weightsPath: joinLocation(dir, WEIGHTS_NAME) }, className, build, blocksPrefix);
}
