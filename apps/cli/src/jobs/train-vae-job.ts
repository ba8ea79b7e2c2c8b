import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { Generator } from '@ldm/backend';
import { writeImageGrid } from '@ldm/data';
import {
  AutoencoderKL,
  computeLatentStatistics,
  DEFAULT_VAE_CONFIG,
  resolveVaeConfig,
  saveVaeWithLatentStatistics,
  standardizeLatentsOn,
  trainVAE,
  vaeElbo,
} from '@ldm/vae';
import { trainVaeOptions } from '../options/train-vae';
import type { TrainVaeArgs } from '../options/train-vae';
import { buildWithModelConfig, startBackend, threadUse, type ThreadUse, writeJson } from './common';
import { claimRunFolder, resumeOptions, writeRunOptions } from './run-folder';
import { firstImages, loadSplit } from './data';

export interface TrainVaeSummary {
  steps: number;
  seconds: number;
  imagesPerSecond: number;
  reconstruction: number;
  kl: number;
  heldOutBitsPerDim: number;
  scalingFactor: number;
  interrupted: boolean;
  /** What trained it: the backend, and what its convolutions computed in (--precision). */
  backend: string;
  precision: 'f32' | 'bf16';
  /** How --threads were spent: inside each native kernel, or as data-parallel workers. */
  threads: ThreadUse;
}

/** `ldm train-vae`: train, measure the scaling factor, write the model folder to --out. */
export async function trainVaeJob(given: TrainVaeArgs): Promise<TrainVaeSummary> {
  const runDir = join(given.out, 'training');
  const release = await claimRunFolder({ out: given.out, runDir, command: 'train-vae', resume: given.resume, force: given.force });
  try {
    return await trainVaeInFolder(given.resume ? await resumeOptions(runDir, 'train-vae', given, trainVaeOptions) : given, runDir);
  } finally {
    await release();
  }
}

async function trainVaeInFolder(args: TrainVaeArgs, runDir: string): Promise<TrainVaeSummary> {
  const t0 = performance.now();
  // A wrong --model-config is told before the backend starts and the data set is read.
  await buildWithModelConfig(args.modelConfig, (overrides) => resolveVaeConfig({ ...DEFAULT_VAE_CONFIG, ...overrides }));
  const backend = await startBackend(args, args.quiet, args.threads ?? 1);
  const threads = threadUse(backend, args.threads ?? 1);
  const { train, heldOut } = await loadSplit(args.data, args.heldOut, args.seed, args.limit);
  const [, h, w, c] = train.shape;
  const vae = await buildWithModelConfig(
    args.modelConfig,
    (overrides) =>
      new AutoencoderKL({ ...DEFAULT_VAE_CONFIG, inChannels: c, outChannels: c, sampleSize: h, ...overrides }, new Generator(args.seed).split('init')),
  );
  if (!args.quiet) {
    process.stderr.write(
      `vae: ${vae.numParameters().toLocaleString('en-US')} parameters, ${(vae.forwardFlops([h, w, c]) / 1e6).toFixed(1)} MFLOP per image; data ${train.name}: ${train.shape[0]} train, ${heldOut.shape[0]} held out, ${h}×${w}×${c}\n`,
    );
  }
  // A resumed run's options are written back once it has run, so a run that fails to resume changes nothing.
  if (!args.resume) await writeRunOptions(runDir, 'train-vae', args, trainVaeOptions);
  const preview = firstImages(heldOut.shape[0] > 0 ? heldOut : train, 8);
  const result = await trainVAE({
    vae,
    data: train,
    runDir,
    steps: args.steps,
    batchSize: args.batchSize,
    learningRate: args.lr,
    klWeight: args.klWeight,
    klWarmupSteps: args.klWarmup,
    ...(args.maxGradNorm > 0 ? { maxGradNorm: args.maxGradNorm } : {}),
    seed: args.seed,
    threads: threads.workers,
    resume: args.resume,
    checkpointEvery: args.checkpointEvery,
    sampleEvery: args.sampleEvery,
    onSample: async (step) => {
      // Top row: held-out images; bottom row: their reconstructions (posterior mean).
      const grid = tf.tidy(() => {
        const x = tf.tensor4d(preview.data, preview.shape);
        return tf.concat([x, vae.forward(x)], 0);
      });
      await writeImageGrid(join(runDir, 'samples', `reconstructions-${String(step).padStart(6, '0')}.png`), grid, { nrow: preview.shape[0], scale: 2 });
      grid.dispose();
    },
    silent: args.quiet,
    label: 'train-vae',
  });
  const summary: TrainVaeSummary = {
    steps: result.step,
    seconds: (performance.now() - t0) / 1000,
    imagesPerSecond: result.imagesPerSecond,
    reconstruction: result.lastMetrics.reconstruction ?? NaN,
    kl: result.lastMetrics.kl ?? NaN,
    heldOutBitsPerDim: NaN,
    scalingFactor: NaN,
    interrupted: Boolean(result.interrupted),
    backend: backend.name,
    precision: backend.precision,
    threads,
  };
  if (args.resume) await writeRunOptions(runDir, 'train-vae', args, trainVaeOptions);
  if (result.interrupted) {
    process.stderr.write(
      `train-vae: interrupted at step ${result.step}; continue with: ldm train-vae --out ${args.out} --resume (the run's options are kept in ${join(runDir, 'run.json')})\n`,
    );
    process.exitCode = 130;
    vae.dispose();
    return summary;
  }
  // The ELBO of the model as trained: the standardization below re-parametrizes the posterior against the same N(0, I) prior.
  if (heldOut.shape[0] > 0) {
    const eval_ = firstImages(heldOut, 256);
    const bpd = tf.tidy(() => {
      const terms = vaeElbo(vae, tf.tensor4d(eval_.data, eval_.shape), { generator: new Generator(args.seed).split('eval') });
      return tf.mean(terms.bitsPerDim);
    });
    summary.heldOutBitsPerDim = (await bpd.data())[0]!;
    bpd.dispose();
  }
  // Per-channel standardization first (folded into the weights), then the global factor of what remains (≈ 1).
  const standardizedChannels = args.latentNorm === 'channel' ? standardizeLatentsOn(vae, train, 256) : undefined;
  const stats = { ...computeLatentStatistics(vae, train, 256), ...(standardizedChannels ? { standardizedChannels } : {}) };
  await saveVaeWithLatentStatistics(vae, args.out, stats);
  summary.scalingFactor = stats.scalingFactor;
  await writeJson(join(runDir, 'summary.json'), summary);
  if (!args.quiet) {
    process.stderr.write(
      `train-vae: ${result.step} steps in ${summary.seconds.toFixed(0)} s (${summary.imagesPerSecond.toFixed(1)} img/s); reconstruction ${summary.reconstruction.toFixed(1)} nats, KL ${summary.kl.toFixed(1)} nats; held-out ELBO ${summary.heldOutBitsPerDim.toFixed(3)} bits/dim; scaling factor ${stats.scalingFactor.toFixed(4)} (latent std ${stats.std.toFixed(4)} over ${stats.count} images)\n` +
        `model folder: ${args.out}\n`,
    );
  }
  vae.dispose();
  return summary;
}
