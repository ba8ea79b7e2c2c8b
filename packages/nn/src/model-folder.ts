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
 * Builds the model a diffusers folder holds: checks `_class_name`, checks the config's sizes against
 * the weights file (`blocksPrefix`, see checkConfigAgainstWeights), constructs from config.json with
 * `build`, loads the weights, and frees the model again if they do not fit. A config error names the file.
 */
export async function loadPretrained<M extends Module>(
  dir: string,
  className: string,
  build: (config: Record<string, unknown>) => M,
  blocksPrefix?: string,
): Promise<M> {
  const { config, tensors } = await readModelFolder(dir);
  const configPath = join(dir, CONFIG_NAME);
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
    loadTorchStateDict(model, tensors, { source: join(dir, WEIGHTS_NAME) });
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}
