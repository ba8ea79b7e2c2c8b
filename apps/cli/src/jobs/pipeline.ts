import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { Generator, LdmError } from '@ldm/backend';
import { DDPMScheduler, sample } from '@ldm/ddpm';
import type { Scheduler } from '@ldm/ddpm';
import { DDIMScheduler } from '@ldm/ddim';
import { UNet2DModel } from '@ldm/unet';
import { AutoencoderKL, readLatentStatistics } from '@ldm/vae';
import { readJson, readPipelineIndex, resolveRelative } from './common';
import type { PipelineIndex } from './common';

/** A trained DDPM folder, loaded: the UNet (EMA weights), the scheduler config, and for latent models the VAE. */
export interface LoadedPipeline {
  dir: string;
  index: PipelineIndex;
  unet: UNet2DModel;
  vae?: AutoencoderKL;
  schedulerConfig: Record<string, unknown>;
  dispose(): void;
}

export async function loadPipeline(dir: string): Promise<LoadedPipeline> {
  const index = await readPipelineIndex(dir);
  const unet = await UNet2DModel.fromPretrained(join(dir, 'unet'));
  unet.eval();
  const schedulerConfig = await readJson<Record<string, unknown>>(join(dir, 'scheduler', 'scheduler_config.json'));
  let vae: AutoencoderKL | undefined;
  if (index.space === 'latent') {
    if (!index.vae) throw new LdmError('CORRUPT_FILE', `${join(dir, 'model_index.json')}: a latent pipeline must name its VAE folder`);
    const vaeDir = resolveRelative(dir, index.vae);
    vae = await loadVae(vaeDir);
  }
  return {
    dir,
    index,
    unet,
    ...(vae ? { vae } : {}),
    schedulerConfig,
    dispose: () => {
      unet.dispose();
      vae?.dispose();
    },
  };
}

/** A VAE folder with a measured scaling factor (what a latent DDPM needs). */
export async function loadVae(dir: string, requireScalingFactor = true): Promise<AutoencoderKL> {
  const vae = await AutoencoderKL.fromPretrained(dir);
  vae.eval();
  if (requireScalingFactor && !(await readLatentStatistics(dir))) {
    vae.dispose();
    throw new LdmError('INVALID_CONFIG', `VAE folder ${dir} has no measured scaling factor (latent_stats.json); a latent DDPM needs one: finish \`ldm train-vae\`, which measures it`);
  }
  return vae;
}

export type SamplerName = 'ddpm' | 'ddim';

export function makeScheduler(config: Record<string, unknown>, sampler: SamplerName, steps: number): Scheduler {
  const scheduler = sampler === 'ddpm' ? DDPMScheduler.fromConfig(config) : DDIMScheduler.fromConfig(config);
  scheduler.setTimesteps(steps);
  return scheduler;
}

export interface GenerateOptions {
  sampler: SamplerName;
  steps: number;
  eta?: number;
  count: number;
  batchSize: number;
  seed: number;
  /** Called after every denoising step: model evaluations done so far and in total. */
  onProgress?: (done: number, total: number) => void;
}

/** Samples images in [−1, 1] (decoded through the VAE for latent models), NHWC, in batches. */
export function generate(p: LoadedPipeline, options: GenerateOptions): { data: Float32Array; shape: [number, number, number, number] } {
  const [lh, lw, lc] = p.index.sample_shape;
  const generator = new Generator(options.seed).split('sample');
  const scheduler = makeScheduler(p.schedulerConfig, options.sampler, options.steps);
  const total = Math.ceil(options.count / options.batchSize) * scheduler.timesteps.length;
  let done = 0;
  const chunks: Float32Array[] = [];
  let imageShape: [number, number, number] = [lh, lw, lc];
  for (let start = 0; start < options.count; start += options.batchSize) {
    const b = Math.min(options.batchSize, options.count - start);
    const denoiser = (x: tf.Tensor, t: number) => p.unet.forward(x as tf.Tensor4D, t);
    const x0 = sample({
      denoiser,
      scheduler,
      shape: [b, lh, lw, lc],
      generator,
      eta: options.eta ?? 0,
      onStep: () => options.onProgress?.(++done, total),
    });
    const images = p.vae ? tf.tidy(() => tf.clipByValue(p.vae!.decodeLatents(x0 as tf.Tensor4D), -1, 1)) : tf.tidy(() => tf.clipByValue(x0, -1, 1));
    x0.dispose();
    imageShape = [images.shape[1]!, images.shape[2]!, images.shape[3]!];
    chunks.push(images.dataSync() as Float32Array);
    images.dispose();
  }
  return { data: concat(chunks), shape: [options.count, ...imageShape] };
}

/** Single-step generation: decode z ~ N(0, I) (the VAE's prior) in one decoder pass. */
export function decodeFromPrior(vae: AutoencoderKL, latentShape: [number, number, number], count: number, batchSize: number, seed: number): { data: Float32Array; shape: [number, number, number, number] } {
  const generator = new Generator(seed).split('prior');
  const chunks: Float32Array[] = [];
  let imageShape: [number, number, number] = [0, 0, 0];
  for (let start = 0; start < count; start += batchSize) {
    const b = Math.min(batchSize, count - start);
    const z = tf.tensor4d(generator.normal(b * latentShape[0] * latentShape[1] * latentShape[2]), [b, ...latentShape]);
    const images = tf.tidy(() => tf.clipByValue(vae.decode(z), -1, 1));
    z.dispose();
    imageShape = [images.shape[1]!, images.shape[2]!, images.shape[3]!];
    chunks.push(images.dataSync() as Float32Array);
    images.dispose();
  }
  return { data: concat(chunks), shape: [count, ...imageShape] };
}

/** The latent shape [h, w, c] a VAE produces for images [h, w, c]. */
export function latentShapeOf(vae: AutoencoderKL, imageShape: [number, number, number]): [number, number, number] {
  const f = 2 ** (vae.config.blockOutChannels.length - 1);
  return [imageShape[0] / f, imageShape[1] / f, vae.config.latentChannels];
}

function concat(chunks: Float32Array[]): Float32Array {
  const out = new Float32Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}
