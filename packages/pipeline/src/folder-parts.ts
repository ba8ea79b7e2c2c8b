/* Reading and writing the parts of a pipeline folder: the scheduler config and a VAE subfolder. */
import { LdmError } from '@ldm/backend';
import { joinLocation, readLocationText, resolveLocation, writeFileAtomic } from '@ldm/nn';
import { AutoencoderKL, readLatentStatistics, saveVaeWithLatentStatistics } from '@ldm/vae';
import type { LatentStatistics } from '@ldm/vae';
import { DIFFUSERS_VERSION } from './model-index';

/** Where a pipeline folder (a directory or an http(s) URL) keeps its scheduler config. */
const schedulerConfigOf = (dir: string) => joinLocation(dir, 'scheduler', 'scheduler_config.json');

export async function readSchedulerConfig(dir: string): Promise<Record<string, unknown>> {
  const path = schedulerConfigOf(dir);
  let text: string;
  try {
    text = await readLocationText(path);
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
  const path = schedulerConfigOf(dir);
  const { _class_name, _diffusers_version, ...rest } = config;
  const json = { _class_name: _class_name ?? 'DDPMScheduler', _diffusers_version: _diffusers_version ?? DIFFUSERS_VERSION, ...rest };
  await writeFileAtomic(path, `${JSON.stringify(json, null, 2)}\n`, { mkdir: true });
}

/** A path a model_index.json names, relative to its folder unless absolute (or a URL). */
export function resolveRelative(base: string, path: string): string {
  return resolveLocation(base, path);
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
