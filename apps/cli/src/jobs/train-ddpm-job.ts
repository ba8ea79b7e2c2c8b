import { copyFile, mkdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Generator, LdmError } from '@ldm/backend';
import { readNpy, writeImageGrid, writeNpy } from '@ldm/data';
import type { ImageDataset } from '@ldm/data';
import { DDPMScheduler, trainDDPM, withEma } from '@ldm/ddpm';
import { loadModelFolderInto } from '@ldm/nn';
import { LATENT_UNET_CONFIG, PIXEL_UNET_CONFIG, resolveUNetConfig, UNet2DModel } from '@ldm/unet';
import { encodeToLatents, LATENT_STATS_NAME } from '@ldm/vae';
import { trainOptions } from '../options/train';
import type { TrainArgs } from '../options/train';
import { DDPMPipeline, LatentDiffusionPipeline, modelIndexJson, writeModelIndex } from '@ldm/pipeline';
import { buildWithModelConfig, exists, readJson, startBackend, threadUse, type ThreadUse, writeJson } from './common';
import { claimRunFolder, resumeOptions, writeRunOptions } from './run-folder';
import { loadSplit } from './data';
import { generateImages, loadVae } from './samples';
import { DEFAULTS } from '../defaults';

export interface TrainDdpmSummary {
  steps: number;
  seconds: number;
  imagesPerSecond: number;
  loss: number;
  encodeSeconds: number;
  interrupted: boolean;
  /** What trained it: the backend, and what its convolutions computed in (--precision). */
  backend: string;
  precision: 'f32' | 'bf16';
  /** How --threads were spent: inside each native kernel, or as data-parallel workers. */
  threads: ThreadUse;
}

/**
 * The VAE's latents of the training set, encoded once and cached beside the run: the cache is
 * reused only when it was made from the same VAE weights file (size and modification time).
 */
async function cachedLatents(vaeDir: string, runDir: string, train: ImageDataset, quiet: boolean): Promise<ImageDataset> {
  const weights = await stat(join(vaeDir, 'diffusion_pytorch_model.safetensors'));
  const key = { vae: resolve(vaeDir), bytes: weights.size, mtimeMs: weights.mtimeMs, images: train.shape[0], data: train.name };
  const cacheFile = join(runDir, 'latents.npy');
  const keyFile = join(runDir, 'latents.json');
  if ((await exists(cacheFile)) && (await exists(keyFile)) && JSON.stringify(await readJson(keyFile)) === JSON.stringify(key)) {
    const { data, shape } = await readNpy(cacheFile);
    return { images: data, shape: shape as [number, number, number, number], name: `${train.name} latents` };
  }
  const vae = await loadVae(vaeDir);
  const t0 = performance.now();
  const latents = encodeToLatents(vae, train, {
    batchSize: 256,
    onProgress: (done, total) => {
      if (!quiet && process.stderr.isTTY) process.stderr.write(`\rencoding latents ${done}/${total}`);
    },
  });
  if (!quiet)
    process.stderr.write(
      `${process.stderr.isTTY ? '\n' : ''}encoded ${train.shape[0]} images to latents once, cached in ${cacheFile} (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`,
    );
  vae.dispose();
  await writeNpy(cacheFile, latents.images, latents.shape);
  await writeJson(keyFile, key);
  return latents;
}

/** The VAE's files (weights, config with its scaling factor, latent statistics) copied into the pipeline's vqvae/. */
async function copyVaeInto(vaeDir: string, target: string): Promise<void> {
  if (resolve(vaeDir) === resolve(target)) return;
  await mkdir(target, { recursive: true });
  for (const name of ['config.json', 'diffusion_pytorch_model.safetensors', LATENT_STATS_NAME]) {
    await copyFile(join(vaeDir, name), join(target, name));
  }
}

/** `ldm train`: a DDPM in pixel space or in a VAE's latent space; writes a pipeline folder to --out. */
export async function trainDdpmJob(given: TrainArgs): Promise<TrainDdpmSummary> {
  const runDir = join(given.out, 'training');
  const release = await claimRunFolder({ out: given.out, runDir, command: 'train', resume: given.resume, force: given.force });
  try {
    return await trainDdpmInFolder(given.resume ? await resumeOptions(runDir, 'train', given, trainOptions) : given, runDir);
  } finally {
    await release();
  }
}

async function trainDdpmInFolder(args: TrainArgs, runDir: string): Promise<TrainDdpmSummary> {
  const t0 = performance.now();
  if (args.space === 'latent' && !args.vae) throw new LdmError('INVALID_ARGUMENT', '--space latent needs --vae DIR (a folder written by ldm train-vae)');
  // A wrong --model-config is told before the backend starts and the data set is read.
  await buildWithModelConfig(args.modelConfig, (overrides) =>
    resolveUNetConfig({ ...(args.space === 'latent' ? LATENT_UNET_CONFIG : PIXEL_UNET_CONFIG), ...overrides }),
  );
  const backend = await startBackend(args, args.quiet, args.threads ?? 1);
  const threads = threadUse(backend, args.threads ?? 1);
  if (args.space === 'latent') await loadVae(args.vae!).then((v) => v.dispose());

  const { train } = await loadSplit(args.data, args.heldOut, args.seed, args.limit);
  const tEncode = performance.now();
  const data = args.space === 'latent' ? await cachedLatents(args.vae!, runDir, train, args.quiet) : train;
  const encodeSeconds = args.space === 'latent' ? (performance.now() - tEncode) / 1000 : 0;
  const [, h, w, c] = data.shape;
  const base = args.space === 'latent' ? LATENT_UNET_CONFIG : PIXEL_UNET_CONFIG;
  const unet = await buildWithModelConfig(
    args.modelConfig,
    (overrides) => new UNet2DModel({ ...base, inChannels: c, outChannels: c, sampleSize: h, ...overrides }, new Generator(args.seed).split('init')),
  );
  const schedulerOptions = {
    numTrainTimesteps: DEFAULTS.ddpm.numTrainTimesteps,
    betaSchedule: args.betaSchedule as 'linear',
    predictionType: args.predictionType,
    // Latents are unbounded; images live in [−1, 1] and x̂₀ may be clipped there.
    clipSample: args.space === 'pixel',
  };
  if (!args.quiet) {
    process.stderr.write(
      `unet (${args.space}): ${unet.numParameters().toLocaleString('en-US')} parameters, ${(unet.forwardFlops([h, w, c]) / 1e6).toFixed(1)} MFLOP per evaluation; training data ${data.shape[0]} × ${h}×${w}×${c}\n`,
    );
  }
  // A resumed run's options are written back once it has run, so a run that fails to resume changes nothing.
  if (!args.resume) await writeRunOptions(runDir, 'train', args, trainOptions);

  const scheduler = new DDPMScheduler(schedulerOptions);
  // The pipeline folder's files other than the UNet are known before training; write them first so previews can use them.
  // It is diffusers' LDMPipeline / DDPMPipeline folder; the VAE is copied into vqvae/ (diffusers cannot follow a path elsewhere).
  if (args.space === 'latent') await copyVaeInto(args.vae!, join(args.out, 'vqvae'));
  await writeJson(join(args.out, 'scheduler', 'scheduler_config.json'), scheduler.toConfig());
  await writeModelIndex(args.out, modelIndexJson(args.space, 'DDPMScheduler', { data: args.data }));

  const previewVae = args.space === 'latent' ? await loadVae(args.vae!) : undefined;
  const result = await trainDDPM({
    model: unet,
    data,
    runDir,
    scheduler: schedulerOptions,
    steps: args.steps,
    batchSize: args.batchSize,
    learningRate: args.lr,
    // A run shorter than the warm-up warms up over all of it.
    warmupSteps: Math.min(args.warmup, args.steps),
    ema: { maxDecay: args.emaDecay, useWarmup: true, invGamma: 1, power: 3 / 4 },
    ...(args.maxGradNorm > 0 ? { maxGradNorm: args.maxGradNorm } : {}),
    ...(args.minSnrGamma !== undefined ? { minSnrGamma: args.minSnrGamma } : {}),
    seed: args.seed,
    threads: threads.workers,
    resume: args.resume,
    checkpointEvery: args.checkpointEvery,
    sampleEvery: args.sampleEvery,
    onSample: async (step) => {
      const schedulerConfig = scheduler.toConfig();
      const pipeline = previewVae
        ? new LatentDiffusionPipeline({ vae: previewVae, unet, schedulerConfig })
        : new DDPMPipeline({ unet, schedulerConfig, sampleShape: [h, w, c] });
      const images = generateImages(pipeline, { sampler: 'ddim', steps: 20, count: 16, batchSize: 16, seed: args.seed });
      await writeImageGrid(join(runDir, 'samples', `ddim20-${String(step).padStart(6, '0')}.png`), images, { nrow: 8, scale: 2 });
    },
    saveModel: (dir) => unet.save(dir),
    loadModel: (dir) => loadModelFolderInto(unet, dir),
    silent: args.quiet,
    label: `train-${args.space}`,
  });
  previewVae?.dispose();
  const summary: TrainDdpmSummary = {
    steps: result.step,
    seconds: (performance.now() - t0) / 1000,
    imagesPerSecond: result.imagesPerSecond,
    loss: result.lastMetrics.loss ?? result.smoothedLoss,
    encodeSeconds,
    interrupted: Boolean(result.interrupted),
    backend: backend.name,
    precision: backend.precision,
    threads,
  };
  if (args.resume) await writeRunOptions(runDir, 'train', args, trainOptions);
  if (result.interrupted) {
    process.stderr.write(
      `train: interrupted at step ${result.step}; continue with: ldm train --out ${args.out} --resume (the run's options are kept in ${join(runDir, 'run.json')})\n`,
    );
    process.exitCode = 130;
  } else {
    // The pipeline's UNet is the EMA of the weights, as diffusers' training script saves it.
    await withEma(result.ema, unet.parameters(), () => unet.save(join(args.out, 'unet')));
    await writeJson(join(runDir, 'summary.json'), summary);
    if (!args.quiet) {
      process.stderr.write(
        `train: ${result.step} steps in ${summary.seconds.toFixed(0)} s (${summary.imagesPerSecond.toFixed(1)} img/s), final loss ${summary.loss.toFixed(4)}\nmodel folder: ${args.out} (sample with: ldm sample --model ${args.out})\n`,
      );
    }
  }
  result.ema.dispose();
  unet.dispose();
  return summary;
}
