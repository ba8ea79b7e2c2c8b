/*
 * A diffusers model folder (config.json + diffusion_pytorch_model.safetensors) without Node: checking
 * a config against its weights, building the model, and reading a folder served over HTTP. The Node
 * entry (model-folder.ts) adds the file system; the browser entry (model-folder-browser.ts) uses URLs.
 */
import { LdmError } from '@ldm/backend';
import { fetchBytes, fetchText, joinUrl } from './location';
import type { Module } from './module';
import { parseSafetensors } from './safetensors';
import type { TensorRecord } from './safetensors';
import { loadTorchStateDict } from './torch-layout';

/** diffusers' file names inside a model folder. */
export const CONFIG_NAME = 'config.json';
export const WEIGHTS_NAME = 'diffusion_pytorch_model.safetensors';

export interface ModelFolder {
  config: Record<string, unknown>;
  tensors: Map<string, TensorRecord>;
}

/** config.json's text as an object; `configPath` names the file in the error. */
export function parseModelConfig(text: string, configPath: string): Record<string, unknown> {
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (e) {
    throw new LdmError('CORRUPT_FILE', `${configPath} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new LdmError('CORRUPT_FILE', `${configPath} must hold a JSON object`);
  }
  return config as Record<string, unknown>;
}

function fetchFailure(url: string, error: unknown): LdmError {
  const code = (error as { code?: string }).code;
  if (code === 'ENOENT') return new LdmError('FILE_NOT_FOUND', `${url} not found: a model folder needs ${CONFIG_NAME} and ${WEIGHTS_NAME}`, { cause: error });
  return new LdmError('FILE_NOT_FOUND', `${url}: cannot be read (${(error as Error).message})`, { cause: error });
}

/** Reads a model folder served over HTTP (`url` is the folder; a 404 is a one-line error naming the file). */
export async function readModelFolderFromUrl(url: string): Promise<ModelFolder> {
  const configUrl = joinUrl(url, CONFIG_NAME);
  const weightsUrl = joinUrl(url, WEIGHTS_NAME);
  let text: string;
  try {
    text = await fetchText(configUrl);
  } catch (error) {
    throw fetchFailure(configUrl, error);
  }
  const config = parseModelConfig(text, configUrl);
  let bytes: Uint8Array;
  try {
    bytes = await fetchBytes(weightsUrl);
  } catch (error) {
    throw fetchFailure(weightsUrl, error);
  }
  return { config, tensors: parseSafetensors(bytes, weightsUrl).tensors };
}

/**
 * Compares the sizes a config asks for with the tensors its weights file holds, before the model is
 * built: a config.json edited to 4096 channels beside a small weights file would otherwise allocate
 * gigabytes and then fail on every key. UNet2DModel and AutoencoderKL's encoder share diffusers'
 * layout (`conv_in`, `down_blocks.<i>.resnets.<j>`); `blocksPrefix` is where it sits ('' or 'encoder.').
 */
export function checkConfigAgainstWeights(
  config: Record<string, unknown>,
  tensors: ReadonlyMap<string, TensorRecord>,
  blocksPrefix: string,
  where: string,
): void {
  const convIn = tensors.get(`${blocksPrefix}conv_in.weight`);
  if (!convIn) return;
  const fail = (key: string, expected: unknown, found: unknown) => {
    throw new LdmError('SHAPE_MISMATCH', `${where}: "${key}" is ${JSON.stringify(expected)} but the weights file holds ${JSON.stringify(found)}`);
  };
  const channels = config.block_out_channels ?? config.blockOutChannels;
  const levels = new Set<number>();
  const resnets = new Set<number>();
  const pattern = new RegExp(`^${blocksPrefix.replace('.', '\\.')}down_blocks\\.(\\d+)\\.resnets\\.(\\d+)\\.`);
  for (const name of tensors.keys()) {
    const m = pattern.exec(name);
    if (!m) continue;
    levels.add(Number(m[1]));
    if (m[1] === '0') resnets.add(Number(m[2]));
  }
  if (Array.isArray(channels)) {
    if (levels.size && channels.length !== levels.size) fail('block_out_channels', channels, `${levels.size} levels`);
    const widths = [...levels].sort((a, b) => a - b).map((i) => tensors.get(`${blocksPrefix}down_blocks.${i}.resnets.0.conv1.weight`)?.shape[0]);
    if (widths.every((w) => w !== undefined) && widths.some((w, i) => w !== channels[i])) fail('block_out_channels', channels, widths);
  }
  const inChannels = config.in_channels ?? config.inChannels;
  if (typeof inChannels === 'number' && convIn.shape[1] !== inChannels) fail('in_channels', inChannels, convIn.shape[1]);
  const layers = config.layers_per_block ?? config.layersPerBlock;
  if (typeof layers === 'number' && resnets.size && resnets.size !== layers) fail('layers_per_block', layers, resnets.size);
}

/**
 * Builds the model a read folder holds: checks `_class_name`, checks the config's sizes against the
 * weights (`blocksPrefix`, see checkConfigAgainstWeights), constructs from config.json with `build`,
 * loads the weights, and frees the model again if they do not fit. A config error names the file.
 */
export function buildPretrained<M extends Module>(
  folder: ModelFolder,
  where: { configPath: string; weightsPath: string },
  className: string,
  build: (config: Record<string, unknown>) => M,
  blocksPrefix?: string,
): M {
  const { config, tensors } = folder;
  const { configPath } = where;
  if (config._class_name !== undefined && config._class_name !== className) {
    throw new LdmError('INVALID_CONFIG', `${configPath}: _class_name is '${String(config._class_name)}', expected '${className}'`);
  }
  if (blocksPrefix !== undefined) checkConfigAgainstWeights(config, tensors, blocksPrefix, configPath);
  let model: M;
  try {
    model = build(config);
  } catch (e) {
    if (LdmError.isInstance(e) && e.code === 'INVALID_CONFIG') throw new LdmError('INVALID_CONFIG', `${configPath}: ${e.message}`, { cause: e });
    throw e;
  }
  try {
    loadTorchStateDict(model, tensors, { source: where.weightsPath });
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}
