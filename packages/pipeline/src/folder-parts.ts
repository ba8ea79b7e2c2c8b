/* Reading and writing the parts of a pipeline folder: the scheduler config and a VAE subfolder. */
import { mkdir, readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { LdmError } from '@ldm/backend';
import { writeFileAtomic } from '@ldm/nn';
import { AutoencoderKL, readLatentStatistics, saveVaeWithLatentStatistics } from '@ldm/vae';
import type { LatentStatistics } from '@ldm/vae';
import { DIFFUSERS_VERSION } from './model-index';

export const SCHEDULER_CONFIG = join('scheduler', 'scheduler_config.json');

export async function readSchedulerConfig(dir: string): Promise<Record<string, unknown>> {
  const path = join(dir, SCHEDULER_CONFIG);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new LdmError('FILE_NOT_FOUND', `${path} not found: a pipeline folder needs its scheduler config`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new LdmError('CORRUPT_FILE', `${path} is not valid JSON (${(error as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new LdmError('INVALID_CONFIG', `${path}: expected a JSON object`);
  return json as Record<string, unknown>;
}

/** The scheduler class diffusers should build for this config (DDPMScheduler unless it says otherwise). */
export function schedulerClassOf(config: Record<string, unknown>): 'DDPMScheduler' | 'DDIMScheduler' {
  return config._class_name === 'DDIMScheduler' ? 'DDIMScheduler' : 'DDPMScheduler';
}

export async function writeSchedulerConfig(dir: string, config: Record<string, unknown>): Promise<void> {
  const path = join(dir, SCHEDULER_CONFIG);
  await mkdir(join(dir, 'scheduler'), { recursive: true });
  const { _class_name, _diffusers_version, ...rest } = config;
  const json = { _class_name: _class_name ?? 'DDPMScheduler', _diffusers_version: _diffusers_version ?? DIFFUSERS_VERSION, ...rest };
  await writeFileAtomic(path, `${JSON.stringify(json, null, 2)}\n`);
}

export function resolveRelative(base: string, path: string): string {
  return isAbsolute(path) ? path : resolve(base, path);
}

/** A VAE folder and its measured latent statistics (undefined in a folder diffusers wrote). */
export async function loadVaeFolder(dir: string): Promise<{ vae: AutoencoderKL; stats: LatentStatistics | undefined }> {
  const vae = await AutoencoderKL.fromPretrained(dir);
  vae.eval();
  try {
    return { vae, stats: await readLatentStatistics(dir) };
  } catch (error) {
    vae.dispose();
    throw error;
  }
}

/** Writes the VAE as diffusers' AutoencoderKL folder (scaling_factor in config.json) and latent_stats.json when known. */
export async function saveVaeFolder(vae: AutoencoderKL, dir: string, stats: LatentStatistics | undefined): Promise<void> {
  if (stats) await saveVaeWithLatentStatistics(vae, dir, stats);
  else await vae.save(dir);
}
