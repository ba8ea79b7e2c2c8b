import { join } from 'node:path';
import { LdmError } from '@ldm/backend';
import { firstNonFinite, ProgressBar } from '@ldm/nn';
import type { SampleArgs } from '../options/sample';
import { DEFAULTS } from '../defaults';
import { exists, PIPELINE_INDEX, readPipelineIndex, resolveRelative, startBackend } from './common';
import { writeSamples } from './output';
import { decodeFromPrior, generate, latentShapeOf, loadPipeline, loadVae } from './pipeline';

/** Samples go to a file or a folder of PNGs, never into a model or pipeline folder. */
async function refuseModelFolderAsOutput(out: string): Promise<void> {
  for (const marker of ['config.json', PIPELINE_INDEX, 'training']) {
    if (await exists(join(out, marker))) throw new LdmError('INVALID_ARGUMENT', `--out ${out} is a model or run folder (it holds ${marker}); write samples elsewhere`);
  }
}

/** `ldm sample`: DDPM, DDIM or single-step VAE decoding, to a grid, a folder of PNGs or a .npy. */
export async function sampleJob(args: SampleArgs): Promise<void> {
  await refuseModelFolderAsOutput(args.out);
  await startBackend(args.backend, args.quiet);
  const t0 = performance.now();
  let images;
  let what: string;
  if (args.sampler === 'vae') {
    // A VAE folder, or a latent pipeline whose VAE is used.
    let vaeDir = args.model;
    if (await exists(join(args.model, PIPELINE_INDEX))) {
      const index = await readPipelineIndex(args.model);
      if (!index.vae) throw new LdmError('INVALID_ARGUMENT', `--sampler vae: ${args.model} is a pixel DDPM with no VAE; pass a VAE folder`);
      vaeDir = resolveRelative(args.model, index.vae);
    }
    const vae = await loadVae(vaeDir, false);
    const size = vae.config.sampleSize ?? 32;
    images = decodeFromPrior(vae, latentShapeOf(vae, [size, size, vae.config.inChannels]), args.n, args.batchSize, args.seed);
    vae.dispose();
    what = `${args.n} single-step VAE decodes of z ~ N(0, I)`;
  } else {
    const pipeline = await loadPipeline(args.model);
    const steps = args.steps ?? (args.sampler === 'ddpm' ? DEFAULTS.sample.ddpmSteps : DEFAULTS.sample.ddimSteps);
    const bar = new ProgressBar({ total: 1, label: `${args.sampler}-${steps}`, silent: args.quiet, rateUnit: 'evals/s' });
    images = generate(pipeline, {
      sampler: args.sampler,
      steps,
      eta: args.eta,
      count: args.n,
      batchSize: args.batchSize,
      seed: args.seed,
      onProgress: (done, total) => {
        bar.setTotal(total);
        bar.update(done, {}, done);
      },
    });
    bar.done();
    pipeline.dispose();
    what = `${args.n} ${args.sampler.toUpperCase()} samples (${steps} steps${args.sampler === 'ddim' ? `, η = ${args.eta}` : ''}, ${pipeline.index.space} space)`;
  }
  const bad = firstNonFinite(images.data);
  if (bad >= 0) throw new LdmError('NUMERICAL_ERROR', `--model ${args.model}: sample value ${bad} is ${images.data[bad]}; the model's outputs are not finite, nothing written to ${args.out}`);
  const where = await writeSamples(args.out, images);
  if (!args.quiet) process.stderr.write(`${what} in ${((performance.now() - t0) / 1000).toFixed(1)} s → ${where}\n`);
}
