/* Model folders in a web page: read over HTTP (model-folder-core.ts); writing one needs Node. Same names as model-folder.ts. */
import { LdmError } from '@ldm/backend';
import { isUrl, joinUrl } from './location';
import { CONFIG_NAME, WEIGHTS_NAME, buildPretrained, readModelFolderFromUrl } from './model-folder-core';
import type { ModelFolder } from './model-folder-core';
import type { Module } from './module';
import type { TensorRecord } from './safetensors';
import { loadTorchStateDict } from './torch-layout';

export { CONFIG_NAME, WEIGHTS_NAME, checkConfigAgainstWeights } from './model-folder-core';
export type { ModelFolder } from './model-folder-core';

/** Reads a model folder served at the http(s) URL `url`. */
export async function readModelFolder(url: string): Promise<ModelFolder> {
  if (!isUrl(url)) throw new LdmError('INVALID_ARGUMENT', `${url}: in a browser a model folder is an http(s) URL`);
  return readModelFolderFromUrl(url);
}

export async function writeModelFolder(dir: string, _config: Record<string, unknown>, _tensors: ReadonlyMap<string, TensorRecord>): Promise<void> {
  throw new LdmError('INVALID_ARGUMENT', `${dir}: writing a model folder needs Node (this is @ldm/nn's browser build)`);
}

export async function loadModelFolderInto(model: Module, url: string): Promise<void> {
  const { tensors } = await readModelFolder(url);
  loadTorchStateDict(model, tensors, { source: joinUrl(url, WEIGHTS_NAME) });
}

export async function loadPretrained<M extends Module>(
  url: string,
  className: string,
  build: (config: Record<string, unknown>) => M,
  blocksPrefix?: string,
): Promise<M> {
  const folder = await readModelFolder(url);
  return buildPretrained(folder, { configPath: joinUrl(url, CONFIG_NAME), weightsPath: joinUrl(url, WEIGHTS_NAME) }, className, build, blocksPrefix);
}
