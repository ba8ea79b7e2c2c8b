import * as tf from '@tensorflow/tfjs-core';
import { Generator, LdmError } from '@ldm/backend';
import { joinLocation } from '@ldm/nn';
import { UNet2DModel } from '@ldm/unet';
import type { AutoencoderKL, LatentStatistics } from '@ldm/vae';
import { loadVaeFolder, readSchedulerConfig, resolveRelative, saveVaeFolder, schedulerClassOf, writeSchedulerConfig } from './folder-parts';
import { concatBatches, runDiffusion, runDiffusionAsync, toUnitRange } from './generate';
import type { DiffusionParts, GenerateAsyncOptions, GenerateOptions, GenerateResult } from './generate';
import { MODEL_INDEX, modelIndexJson, readModelIndex, writeModelIndex } from './model-index';
import type { ModelIndex } from './model-index';

export interface PipelineExtras {
  /** The dataset the model was trained on (a dataset spec such as 'mnist'), kept under `_ldm` in model_index.json. */
  data?: string;
}

export interface DecodeFromPriorOptions {
  count: number;
  seed?: number;
  batchSize?: number;
  /** [h, w, c] of z (default: the shape the VAE encodes its `sample_size` images to). */
  latentShape?: [number, number, number];
}

/** The latent shape [h, w, c] a VAE gives images of [h, w, c]. */
export function latentShapeOf(vae: AutoencoderKL, imageShape?: [number, number, number]): [number, number, number] {
  const size = vae.config.sampleSize ?? 32;
  const [h, w] = imageShape ?? [size, size];
  const f = 2 ** (vae.config.blockOutChannels.length - 1);
  return [h / f, w / f, vae.config.latentChannels];
}

/**
 * Single-step generation: decode z ~ N(0, I) (the VAE's prior) in one decoder pass. Returns NHWC in
 * [0, 1]. Draws from the generator split 'prior' of `seed`, as `ldm sample --sampler vae` always did.
 */
export function decodeFromPrior(vae: AutoencoderKL, options: DecodeFromPriorOptions): GenerateResult {
  const { count } = options;
  if (!Number.isInteger(count) || count < 1) throw new LdmError('INVALID_ARGUMENT', `decodeFromPrior: count must be a positive integer, got ${count}`);
  const batchSize = options.batchSize ?? count;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new LdmError('INVALID_ARGUMENT', `decodeFromPrior: batchSize must be a positive integer, got ${batchSize}`);
  const shape = options.latentShape ?? latentShapeOf(vae);
  const generator = new Generator(options.seed ?? 0).split('prior');
  const chunks: tf.Tensor4D[] = [];
  for (let start = 0; start < count; start += batchSize) {
    const b = Math.min(batchSize, count - start);
    const z = tf.tensor4d(generator.normal(b * shape[0] * shape[1] * shape[2]), [b, ...shape]);
    chunks.push(tf.tidy(() => toUnitRange(vae.decode(z))));
    z.dispose();
  }
  return { images: concatBatches(chunks) };
}

export interface LatentDiffusionParts {
  vae: AutoencoderKL;
  unet: UNet2DModel;
  /** A diffusers scheduler config (scheduler_config.json's object). */
  schedulerConfig: Record<string, unknown>;
  /** The VAE's measured latent statistics, written to vqvae/latent_stats.json on save. */
  latentStatistics?: LatentStatistics;
  extras?: PipelineExtras;
}

/**
 * Latent diffusion (Rombach et al. 2022): a DDPM over the VAE's scaled latents, decoded by the VAE.
 * Its folder is diffusers' `LDMPipeline` (model_index.json, vqvae/, unet/, scheduler/).
 */
export class LatentDiffusionPipeline {
  readonly vae: AutoencoderKL;
  readonly unet: UNet2DModel;
  readonly schedulerConfig: Record<string, unknown>;
  readonly latentStatistics: LatentStatistics | undefined;
  readonly extras: PipelineExtras;

  constructor(parts: LatentDiffusionParts) {
    this.vae = parts.vae;
    this.unet = parts.unet;
    this.schedulerConfig = parts.schedulerConfig;
    this.latentStatistics = parts.latentStatistics;
    this.extras = parts.extras ?? {};
  }

  /** [h, w, c] of the latents the UNet denoises. */
  get sampleShape(): [number, number, number] {
    const size = this.unet.config.sampleSize;
    if (size === null) return latentShapeOf(this.vae);
    return [size, size, this.unet.config.inChannels];
  }

  /**
   * Loads a folder `ldm train --space latent` or diffusers' `LDMPipeline.save_pretrained` wrote (and the
   * project's older format, whose VAE is a relative path): a directory, or an http(s) URL of one (read
   * with fetch; in a browser, where @ldm/nn's browser build is loaded, the only kind).
   */
  static async fromPretrained(dir: string): Promise<LatentDiffusionPipeline> {
    const index = await readModelIndex(dir);
    if (index.kind !== 'latent') {
      throw new LdmError(
        'INVALID_CONFIG',
        `${joinLocation(dir, MODEL_INDEX)}: a pixel-space pipeline (DDPMPipeline); load it with DDPMPipeline.fromPretrained`,
      );
    }
    return loadLatent(dir, index);
  }

  /** Writes diffusers' LDMPipeline folder: model_index.json, vqvae/ (with latent_stats.json), unet/, scheduler/. */
  async save(dir: string): Promise<void> {
    await saveVaeFolder(this.vae, joinLocation(dir, 'vqvae'), this.latentStatistics);
    await this.unet.save(joinLocation(dir, 'unet'));
    await writeSchedulerConfig(dir, this.schedulerConfig);
    await writeModelIndex(dir, modelIndexJson('latent', schedulerClassOf(this.schedulerConfig), this.extras));
  }

  /** What runDiffusion needs of this pipeline: the UNet as denoiser, its scheduler config and how x_0 becomes an image. */
  private diffusionParts(): DiffusionParts {
    return {
      denoiser: (x, t) => this.unet.forward(x as tf.Tensor4D, t),
      schedulerConfig: this.schedulerConfig,
      sampleShape: this.sampleShape,
      toImage: (x0) => tf.clipByValue(this.vae.decodeLatents(x0), -1, 1),
    };
  }

  /** Samples latents with DDPM or DDIM and decodes them: NHWC images in [0, 1]. */
  generate(options: GenerateOptions = {}): GenerateResult {
    return runDiffusion(this.diffusionParts(), options);
  }

  /**
   * The same images as `generate` (same seed, same steps), handing control back after every step and
   * calling `onPreview` with the images as they denoise: for a web page, whose main thread must repaint.
   */
  generateAsync(options: GenerateAsyncOptions = {}): Promise<GenerateResult> {
    return runDiffusionAsync(this.diffusionParts(), options);
  }

  /** Single-step sampling from the VAE's prior (no diffusion), for comparison. */
  decodeFromPrior(options: Omit<DecodeFromPriorOptions, 'latentShape'>): GenerateResult {
    const [h, w, c] = this.sampleShape;
    return decodeFromPrior(this.vae, { ...options, latentShape: [h, w, c] });
  }

  dispose(): void {
    this.unet.dispose();
    this.vae.dispose();
  }
}

/** @internal shared with loadPipeline. */
export async function loadLatent(dir: string, index: ModelIndex): Promise<LatentDiffusionPipeline> {
  const vaeDir = index.format === 'legacy' ? resolveRelative(dir, index.json.vae!) : joinLocation(dir, 'vqvae');
  const schedulerConfig = await readSchedulerConfig(dir);
  const { vae, stats } = await loadVaeFolder(vaeDir);
  let unet: UNet2DModel;
  try {
    unet = await UNet2DModel.fromPretrained(joinLocation(dir, 'unet'));
  } catch (error) {
    vae.dispose();
    throw error;
  }
  unet.eval();
  const data = index.format === 'legacy' ? index.json.data : index.json._ldm?.data;
  return new LatentDiffusionPipeline({ vae, unet, schedulerConfig, ...(stats ? { latentStatistics: stats } : {}), extras: data ? { data } : {} });
}
