import * as tf from '@tensorflow/tfjs-core';
import { LdmError } from '@ldm/backend';
import { joinLocation } from '@ldm/nn';
import { UNet2DModel } from '@ldm/unet';
import { readSchedulerConfig, schedulerClassOf, writeSchedulerConfig } from './folder-parts';
import { runDiffusion, runDiffusionAsync } from './generate';
import type { DiffusionParts, GenerateAsyncOptions, GenerateOptions, GenerateResult } from './generate';
import type { PipelineExtras } from './latent-diffusion-pipeline';
import { MODEL_INDEX, modelIndexJson, readModelIndex, writeModelIndex } from './model-index';
import type { ModelIndex } from './model-index';

export interface DDPMParts {
  unet: UNet2DModel;
  schedulerConfig: Record<string, unknown>;
  /** [h, w, c] of the images (default: the UNet's sample_size and in_channels). */
  sampleShape?: [number, number, number];
  extras?: PipelineExtras;
}

/** A DDPM in pixel space (Ho et al. 2020). Its folder is diffusers' `DDPMPipeline` (model_index.json, unet/, scheduler/). */
export class DDPMPipeline {
  readonly unet: UNet2DModel;
  readonly schedulerConfig: Record<string, unknown>;
  readonly extras: PipelineExtras;
  private readonly shape: [number, number, number] | undefined;

  constructor(parts: DDPMParts) {
    this.unet = parts.unet;
    this.schedulerConfig = parts.schedulerConfig;
    this.shape = parts.sampleShape;
    this.extras = parts.extras ?? {};
  }

  /** [h, w, c] of the images the UNet denoises. */
  get sampleShape(): [number, number, number] {
    if (this.shape) return this.shape;
    const size = this.unet.config.sampleSize;
    if (size === null) throw new LdmError('INVALID_CONFIG', 'DDPMPipeline: the UNet config has no sample_size; pass sampleShape');
    return [size, size, this.unet.config.inChannels];
  }

  /** Loads a folder `ldm train --space pixel` or diffusers' `DDPMPipeline.save_pretrained` wrote (and the older format): a directory, or an http(s) URL (fetch; the only kind in a browser). */
  static async fromPretrained(dir: string): Promise<DDPMPipeline> {
    const index = await readModelIndex(dir);
    if (index.kind !== 'pixel') {
      throw new LdmError(
        'INVALID_CONFIG',
        `${joinLocation(dir, MODEL_INDEX)}: a latent pipeline (LDMPipeline); load it with LatentDiffusionPipeline.fromPretrained`,
      );
    }
    return loadPixel(dir, index);
  }

  /** Writes diffusers' DDPMPipeline folder: model_index.json, unet/, scheduler/. */
  async save(dir: string): Promise<void> {
    await this.unet.save(joinLocation(dir, 'unet'));
    await writeSchedulerConfig(dir, this.schedulerConfig);
    await writeModelIndex(dir, modelIndexJson('pixel', schedulerClassOf(this.schedulerConfig), this.extras));
  }

  /** What runDiffusion needs of this pipeline: the UNet as denoiser, its scheduler config and how x_0 becomes an image. */
  private diffusionParts(): DiffusionParts {
    return {
      denoiser: (x, t) => this.unet.forward(x as tf.Tensor4D, t),
      schedulerConfig: this.schedulerConfig,
      sampleShape: this.sampleShape,
      toImage: (x0) => tf.clipByValue(x0, -1, 1),
    };
  }

  /** Samples images with DDPM or DDIM: NHWC in [0, 1]. */
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

  dispose(): void {
    this.unet.dispose();
  }
}

/** @internal shared with loadPipeline. */
export async function loadPixel(dir: string, index: ModelIndex): Promise<DDPMPipeline> {
  const schedulerConfig = await readSchedulerConfig(dir);
  const unet = await UNet2DModel.fromPretrained(joinLocation(dir, 'unet'));
  unet.eval();
  const data = index.format === 'legacy' ? index.json.data : index.json._ldm?.data;
  return new DDPMPipeline({
    unet,
    schedulerConfig,
    ...(index.format === 'legacy' ? { sampleShape: index.json.sample_shape } : {}),
    extras: data ? { data } : {},
  });
}
