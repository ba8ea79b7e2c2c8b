import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { LdmError } from '@ldm/backend';
import { joinLocation, parseWithSchema, readLocationText, schemas, toTorchStateDict, writeFileAtomic, writeModelFolder } from '@ldm/nn';
import type { ImageDataset } from '@ldm/data';
import type { AutoencoderKL } from './autoencoder-kl';

/** Statistics of the posterior means over a dataset, from which the scaling factor is taken. */
export interface LatentStatistics {
  /** 1/std: multiplies latents so they have unit variance, as diffusion's N(0, I) prior assumes. */
  scalingFactor: number;
  mean: number;
  std: number;
  /** Images the statistics were computed over. */
  count: number;
  /** The per-channel standardization folded into the VAE's weights before these were measured, if any (latent-standardization.ts). */
  standardizedChannels?: { mean: number[]; std: number[] };
}

/** Posterior means of every image, [n, h, w, latentChannels], unscaled, in batches. */
function encodeMeans(vae: AutoencoderKL, data: ImageDataset, batchSize: number, onProgress?: (done: number, total: number) => void): ImageDataset {
  const [n, h, w, c] = data.shape;
  const size = h * w * c;
  let out: Float32Array | undefined;
  let latentShape: [number, number, number] = [0, 0, 0];
  for (let start = 0; start < n; start += batchSize) {
    const b = Math.min(batchSize, n - start);
    const z = tf.tidy(() => {
      const x = tf.tensor4d(data.images.subarray(start * size, (start + b) * size), [b, h, w, c]);
      const posterior = vae.encode(x);
      const mean = tf.clone(posterior.mean);
      posterior.dispose();
      return mean;
    });
    const values = z.dataSync() as Float32Array;
    if (!out) {
      latentShape = [z.shape[1]!, z.shape[2]!, z.shape[3]!];
      out = new Float32Array(n * latentShape[0] * latentShape[1] * latentShape[2]);
    }
    out.set(values, start * latentShape[0] * latentShape[1] * latentShape[2]);
    z.dispose();
    onProgress?.(start + b, n);
  }
  return {
    images: out ?? new Float32Array(0),
    shape: [n, ...latentShape],
    name: `${data.name} latents`,
    ...(data.labels ? { labels: data.labels } : {}),
    ...(data.numClasses ? { numClasses: data.numClasses } : {}),
  };
}

/**
 * The scaling factor as 1/std of the latents (posterior means) over the whole training set — not
 * one batch, as LDM's `scale_by_std` and diffusers' docstring do — computed in float64.
 */
export function computeLatentStatistics(
  vae: AutoencoderKL,
  data: ImageDataset,
  batchSize = 256,
  onProgress?: (done: number, total: number) => void,
): LatentStatistics {
  if (data.shape[0] === 0) throw new LdmError('BAD_DATA', `computeLatentStatistics: ${data.name} is empty`);
  const latents = encodeMeans(vae, data, batchSize, onProgress);
  let sum = 0;
  for (const v of latents.images) sum += v;
  const mean = sum / latents.images.length;
  let sq = 0;
  for (const v of latents.images) sq += (v - mean) ** 2;
  const std = Math.sqrt(sq / latents.images.length);
  if (!(std > 0) || !Number.isFinite(std))
    throw new LdmError('NUMERICAL_ERROR', `computeLatentStatistics: latent std is ${std}; the VAE's encoder is degenerate`);
  return { scalingFactor: 1 / std, mean, std, count: data.shape[0] };
}

/**
 * Encodes a dataset once for latent diffusion: (posterior means − shift) × the VAE's scaling factor, which
 * `ldm train-vae` measures (computeLatentStatistics) so the latents have unit variance, as diffusion assumes.
 */
export function encodeToLatents(
  vae: AutoencoderKL,
  data: ImageDataset,
  options: { batchSize?: number; onProgress?: (done: number, total: number) => void } = {},
): ImageDataset {
  const latents = encodeMeans(vae, data, options.batchSize ?? 256, options.onProgress);
  const s = vae.config.scalingFactor;
  const shift = vae.config.shiftFactor ?? 0;
  for (let i = 0; i < latents.images.length; i++) latents.images[i] = (latents.images[i]! - shift) * s;
  return latents;
}

/** Written beside a VAE's config.json once its scaling factor is measured. */
export const LATENT_STATS_NAME = 'latent_stats.json';

/** Saves the VAE as a diffusers folder whose config carries the measured scaling factor, plus latent_stats.json. */
export async function saveVaeWithLatentStatistics(vae: AutoencoderKL, dir: string, stats: LatentStatistics): Promise<void> {
  await writeModelFolder(dir, { ...vae.toConfig(), scaling_factor: stats.scalingFactor }, toTorchStateDict(vae));
  await writeFileAtomic(
    joinLocation(dir, LATENT_STATS_NAME),
    `${JSON.stringify(
      {
        scaling_factor: stats.scalingFactor,
        mean: stats.mean,
        std: stats.std,
        count: stats.count,
        ...(stats.standardizedChannels ? { standardized_channels: stats.standardizedChannels } : {}),
      },
      null,
      2,
    )}\n`,
  );
}

/** latent_stats.json: a scaling factor of 0, a string or NaN would scale every latent wrongly without a word. */
const LATENT_STATS_SCHEMA = z.object({
  scaling_factor: schemas.positive(),
  mean: schemas.finite(),
  std: schemas.positive(),
  count: schemas.positiveInt(Number.MAX_SAFE_INTEGER),
  standardized_channels: z.object({ mean: z.array(schemas.finite()), std: z.array(schemas.positive()) }).optional(),
});

/** Reads latent_stats.json of a VAE folder (a directory or an http(s) URL), or undefined when the scaling factor was never measured. */
export async function readLatentStatistics(dir: string): Promise<LatentStatistics | undefined> {
  const path = joinLocation(dir, LATENT_STATS_NAME);
  let text: string;
  try {
    text = await readLocationText(path);
  } catch {
    return undefined;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new LdmError('CORRUPT_FILE', `${path} is not valid JSON`);
  }
  const j = parseWithSchema(LATENT_STATS_SCHEMA, json, path, 'CORRUPT_FILE');
  return {
    scalingFactor: j.scaling_factor,
    mean: j.mean,
    std: j.std,
    count: j.count,
    ...(j.standardized_channels ? { standardizedChannels: j.standardized_channels } : {}),
  };
}
