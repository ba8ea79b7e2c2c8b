import { join } from 'node:path';
import type { DemoArgs } from '../options/demo';
import type { TrainArgs } from '../options/train';
import type { TrainVaeArgs } from '../options/train-vae';
import { DEFAULTS } from '../defaults';
import { exists, startBackend, writeJson } from './common';
import { writeSamples } from './output';
import { LatentDiffusionPipeline } from '@ldm/pipeline';
import { generateImages, priorImages } from './samples';
import { trainDdpmJob } from './train-ddpm-job';
import { trainVaeJob } from './train-vae-job';

/** Sizes of the demo: the full run (about 15 minutes on 2 cores) and `--quick` (about a minute, for tests). */
export const DEMO_SIZES = {
  full: { vaeSteps: DEFAULTS.vae.steps, ddpmSteps: DEFAULTS.ddpm.steps, samples: 64, ddpmSamplingSteps: 1000, compareCount: 100, limit: undefined },
  quick: { vaeSteps: 20, ddpmSteps: 30, samples: 8, ddpmSamplingSteps: 50, compareCount: 16, limit: 600 },
} as const;

interface StageTime {
  stage: string;
  seconds: number;
  detail?: Record<string, unknown>;
}

/**
 * `ldm demo`: the main job end to end on the embedded MNIST. Each stage writes its folder; with
 * --resume a finished stage is skipped and an interrupted one continues from its checkpoint.
 */
export async function demoJob(args: DemoArgs): Promise<void> {
  const size = args.quick ? DEMO_SIZES.quick : DEMO_SIZES.full;
  const backend = await startBackend(args.backend);
  const vaeDir = join(args.out, 'vae');
  const ddpmDir = join(args.out, 'latent-ddpm');
  const times: StageTime[] = [];
  const log = (message: string) => process.stderr.write(`\n== ${message}\n`);

  // 1. The VAE and its scaling factor.
  if (await exists(join(vaeDir, 'latent_stats.json'))) {
    log(`stage 1/4: VAE already trained in ${vaeDir}, skipped`);
  } else {
    log('stage 1/4: train the VAE, then measure its latent scaling factor');
    const vaeArgs: TrainVaeArgs = {
      backend: args.backend,
      data: DEFAULTS.data,
      out: vaeDir,
      steps: size.vaeSteps,
      batchSize: DEFAULTS.vae.batchSize,
      lr: DEFAULTS.vae.learningRate,
      klWeight: DEFAULTS.vae.klWeight,
      klWarmup: Math.min(DEFAULTS.vae.klWarmupSteps, Math.floor(size.vaeSteps / 2)),
      heldOut: DEFAULTS.heldOut,
      checkpointEvery: Math.min(DEFAULTS.vae.checkpointEvery, size.vaeSteps),
      sampleEvery: Math.min(DEFAULTS.vae.sampleEvery, size.vaeSteps),
      maxGradNorm: DEFAULTS.vae.maxGradNorm,
      seed: args.seed,
      threads: args.threads,
      limit: size.limit,
      resume: args.resume && (await exists(join(vaeDir, 'training', 'checkpoints'))),
      force: false,
      modelConfig: undefined,
      verbose: args.verbose,
      quiet: false,
    };
    const t = performance.now();
    const summary = await trainVaeJob(vaeArgs);
    times.push({ stage: 'train-vae', seconds: (performance.now() - t) / 1000, detail: { ...summary } });
    if (summary.interrupted) return;
  }

  // 2. The latent DDPM.
  if (await exists(join(ddpmDir, 'unet', 'config.json'))) {
    log(`stage 2/4: latent DDPM already trained in ${ddpmDir}, skipped`);
  } else {
    log('stage 2/4: train the DDPM in the VAE latent space');
    const ddpmArgs: TrainArgs = {
      backend: args.backend,
      space: 'latent',
      vae: vaeDir,
      data: DEFAULTS.data,
      out: ddpmDir,
      steps: size.ddpmSteps,
      batchSize: DEFAULTS.ddpm.batchSize,
      lr: DEFAULTS.ddpm.learningRate,
      warmup: Math.min(DEFAULTS.ddpm.warmupSteps, Math.floor(size.ddpmSteps / 4)),
      emaDecay: DEFAULTS.ddpm.emaMaxDecay,
      predictionType: DEFAULTS.ddpm.predictionType,
      betaSchedule: DEFAULTS.ddpm.betaSchedule,
      heldOut: DEFAULTS.heldOut,
      checkpointEvery: Math.min(DEFAULTS.ddpm.checkpointEvery, size.ddpmSteps),
      sampleEvery: Math.min(DEFAULTS.ddpm.sampleEvery, size.ddpmSteps),
      maxGradNorm: DEFAULTS.ddpm.maxGradNorm,
      seed: args.seed,
      threads: args.threads,
      limit: size.limit,
      resume: args.resume && (await exists(join(ddpmDir, 'training', 'checkpoints'))),
      force: false,
      modelConfig: undefined,
      minSnrGamma: undefined,
      verbose: args.verbose,
      quiet: false,
    };
    const t = performance.now();
    const summary = await trainDdpmJob(ddpmArgs);
    times.push({ stage: 'train-latent-ddpm', seconds: (performance.now() - t) / 1000, detail: { ...summary } });
    if (summary.interrupted) return;
  }

  // 3. Sample grids: DDPM (ancestral, 1000 steps), DDIM (50 steps, η = 0), single-step VAE decoding.
  log('stage 3/4: sample with DDPM, DDIM and single-step VAE decoding');
  const pipeline = await LatentDiffusionPipeline.fromPretrained(ddpmDir);
  const grids: Record<string, string> = {};
  for (const [name, sampler, steps] of [
    [`ddpm-${size.ddpmSamplingSteps}`, 'ddpm', size.ddpmSamplingSteps],
    ['ddim-50', 'ddim', 50],
  ] as const) {
    const t = performance.now();
    const images = generateImages(pipeline, { sampler, steps, count: size.samples, batchSize: size.samples, seed: args.seed });
    const seconds = (performance.now() - t) / 1000;
    const path = join(args.out, 'samples', `latent-${name}.png`);
    await writeSamples(path, images);
    grids[name] = path;
    times.push({ stage: `sample latent ${name}`, seconds, detail: { count: size.samples, msPerSample: (seconds * 1000) / size.samples } });
    process.stderr.write(`${name}: ${size.samples} samples in ${seconds.toFixed(1)} s → ${path}\n`);
  }
  {
    const t = performance.now();
    const images = priorImages(pipeline.vae, { count: size.samples, batchSize: size.samples, seed: args.seed });
    const seconds = (performance.now() - t) / 1000;
    const path = join(args.out, 'samples', 'vae-decode.png');
    await writeSamples(path, images);
    grids['vae-decode'] = path;
    times.push({ stage: 'sample vae single-step', seconds, detail: { count: size.samples, msPerSample: (seconds * 1000) / size.samples } });
    process.stderr.write(`vae single-step: ${size.samples} samples in ${seconds.toFixed(2)} s → ${path}\n`);
  }
  pipeline.dispose();

  // 4. The comparison report.
  log('stage 4/4: compare samplers and write the report');
  const t = performance.now();
  const { compareJob } = await import('./compare-job');
  await compareJob({
    backend: args.backend,
    vae: vaeDir,
    latent: ddpmDir,
    out: join(args.out, 'report'),
    n: size.compareCount,
    steps: args.quick ? [1, 5, 20] : [1, 2, 5, 10, 20, 50, 100],
    repeats: args.quick ? 1 : 3,
    seed: args.seed,
    quick: args.quick,
    limit: size.limit,
    pixel: undefined,
    verbose: args.verbose,
  });
  times.push({ stage: 'compare', seconds: (performance.now() - t) / 1000 });

  const summary = { backend: backend.name, quick: args.quick, seed: args.seed, stages: times, grids, totalSeconds: times.reduce((s, x) => s + x.seconds, 0) };
  await writeJson(join(args.out, 'summary.json'), summary);
  process.stderr.write(`\ndemo finished in ${summary.totalSeconds.toFixed(0)} s: ${times.map((x) => `${x.stage} ${x.seconds.toFixed(0)} s`).join(', ')}\nresults in ${args.out} (report: ${join(args.out, 'report', 'index.html')})\n`);
}
