import { join } from 'node:path';
import { LdmError } from '@ldm/backend';
import { firstNonFinite, ProgressBar } from '@ldm/nn';
import type { SampleArgs } from '../options/sample';
import { DEFAULTS } from '../defaults';
import { isLatentPipeline, latentShapeOf, loadPipeline, MODEL_INDEX } from '@ldm/pipeline';
import { exists, startBackend } from './common';
import { writeSamples } from './output';
import { generateImages, loadVae, pipelineSpace, priorImages } from './samples';

/** Samples go to a file or a folder of PNGs, never into a model or pipeline folder. */
async function refuseModelFolderAsOutput(out: string): Promise<void> {
  for (const marker of ['config.json', MODEL_INDEX, 'training']) {
    if (await exists(join(out, marker)))
      throw new LdmError('INVALID_ARGUMENT', `--out ${out} is a model or run folder (it holds ${marker}); write samples elsewhere`);
  }
}

/** `ldm sample`: DDPM, DDIM or single-step VAE decoding, to a grid, a folder of PNGs or a .npy. */
export async function sampleJob(args: SampleArgs): Promise<void> {
  await refuseModelFolderAsOutput(args.out);
  await startBackend(args, args.quiet);
  const t0 = performance.now();
  let images;
  let what: string;
  if (args.sampler === 'vae') {
    // A VAE folder, or a latent pipeline whose VAE is used.
    if (await exists(join(args.model, MODEL_INDEX))) {
      const pipeline = await loadPipeline(args.model);
      if (!isLatentPipeline(pipeline)) {
        pipeline.dispose();
        throw new LdmError('INVALID_ARGUMENT', `--sampler vae: ${args.model} is a pixel DDPM with no VAE; pass a VAE folder`);
      }
      images = priorImages(pipeline.vae, { latentShape: latentShapeOf(pipeline.vae), count: args.n, batchSize: args.batchSize, seed: args.seed });
      pipeline.dispose();
    } else {
      const vae = await loadVae(args.model, false);
      images = priorImages(vae, { latentShape: latentShapeOf(vae), count: args.n, batchSize: args.batchSize, seed: args.seed });
      vae.dispose();
    }
    what = `${args.n} single-step VAE decodes of z ~ N(0, I)`;
  } else {
    const pipeline = await loadPipeline(args.model);
    const steps = args.steps ?? (args.sampler === 'ddpm' ? DEFAULTS.sample.ddpmSteps : DEFAULTS.sample.ddimSteps);
    const bar = new ProgressBar({ total: 1, label: `${args.sampler}-${steps}`, silent: args.quiet, rateUnit: 'evals/s' });
    images = generateImages(pipeline, {
      sampler: args.sampler,
      steps,
      eta: args.eta,
      count: args.n,
      batchSize: args.batchSize,
      seed: args.seed,
      onStep: (done, total) => {
        bar.setTotal(total);
        bar.update(done, {}, done);
      },
    });
    bar.done();
    pipeline.dispose();
    what = `${args.n} ${args.sampler.toUpperCase()} samples (${steps} steps${args.sampler === 'ddim' ? `, η = ${args.eta}` : ''}, ${pipelineSpace(pipeline)} space)`;
  }
  const bad = firstNonFinite(images.data);
  if (bad >= 0)
    throw new LdmError(
      'NUMERICAL_ERROR',
      `--model ${args.model}: sample value ${bad} is ${images.data[bad]}; the model's outputs are not finite, nothing written to ${args.out}`,
    );
  const where = await writeSamples(args.out, images);
  if (!args.quiet) process.stderr.write(`${what} in ${((performance.now() - t0) / 1000).toFixed(1)} s → ${where}\n`);
}
