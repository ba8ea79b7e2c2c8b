/*
 * What the CLI needs around @ldm/pipeline: its writers and metrics take images in [−1, 1] as plain
 * arrays, and a latent DDPM must not be trained on a VAE whose scaling factor was never measured.
 */
import * as tf from '@tensorflow/tfjs-core';
import { LdmError } from '@ldm/backend';
import { decodeFromPrior, isLatentPipeline } from '@ldm/pipeline';
import type { DecodeFromPriorOptions, GenerateOptions, GenerateResult, Pipeline } from '@ldm/pipeline';
import { AutoencoderKL, readLatentStatistics } from '@ldm/vae';

export interface SignedImages {
  data: Float32Array;
  shape: [number, number, number, number];
}

/** [0, 1] images (the pipeline's output, disposed here) → [−1, 1] arrays. */
export function toSignedImages(result: GenerateResult): SignedImages {
  const { images } = result;
  const shape = images.shape as [number, number, number, number];
  const signed = tf.tidy(() => tf.sub(tf.mul(images, 2), 1));
  images.dispose();
  const data = signed.dataSync() as Float32Array;
  signed.dispose();
  return { data, shape };
}

export function generateImages(pipeline: Pipeline, options: GenerateOptions): SignedImages {
  return toSignedImages(pipeline.generate(options));
}

export function priorImages(vae: AutoencoderKL, options: DecodeFromPriorOptions): SignedImages {
  return toSignedImages(decodeFromPrior(vae, options));
}

export function pipelineSpace(pipeline: Pipeline): 'latent' | 'pixel' {
  return isLatentPipeline(pipeline) ? 'latent' : 'pixel';
}

/** A VAE folder with a measured scaling factor (what a latent DDPM needs). */
export async function loadVae(dir: string, requireScalingFactor = true): Promise<AutoencoderKL> {
  const vae = await AutoencoderKL.fromPretrained(dir);
  vae.eval();
  if (requireScalingFactor && !(await readLatentStatistics(dir))) {
    vae.dispose();
    throw new LdmError(
      'INVALID_CONFIG',
      `VAE folder ${dir} has no measured scaling factor (latent_stats.json); a latent DDPM needs one: finish \`ldm train-vae\`, which measures it`,
    );
  }
  return vae;
}
