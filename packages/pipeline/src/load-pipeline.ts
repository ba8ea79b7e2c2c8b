import { DDPMPipeline, loadPixel } from './ddpm-pipeline';
import { LatentDiffusionPipeline, loadLatent } from './latent-diffusion-pipeline';
import { readModelIndex } from './model-index';

export type Pipeline = LatentDiffusionPipeline | DDPMPipeline;

/** Loads whichever pipeline a folder holds (model_index.json's `_class_name`). */
export async function loadPipeline(dir: string): Promise<Pipeline> {
  const index = await readModelIndex(dir);
  return index.kind === 'latent' ? loadLatent(dir, index) : loadPixel(dir, index);
}

export function isLatentPipeline(p: Pipeline): p is LatentDiffusionPipeline {
  return p instanceof LatentDiffusionPipeline;
}

export { DDPMPipeline, LatentDiffusionPipeline };
