import * as tf from '@tensorflow/tfjs-core';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Generator, LdmError } from '@ldm/backend';
import type { GeneratorState } from '@ldm/backend';
import { BatchIterator } from '@ldm/data';
import type { BatchCursor, ImageDataset } from '@ldm/data';
import { Adam, CheckpointStore, learningRateAt, readModelFolder, loadTorchStateDict, readSafetensorsFile, runTrainingLoop, writeSafetensorsFile } from '@ldm/nn';
import type { TrainingLoopResult } from '@ldm/nn';
import type { AutoencoderKL } from './autoencoder-kl';
import { vaeElbo } from './elbo';

export interface TrainVAEOptions {
  vae: AutoencoderKL;
  /** Images in [−1, 1] on the 8-bit grid, NHWC. */
  data: ImageDataset;
  /** Run folder: `checkpoints/`, `metrics.jsonl`. */
  runDir: string;
  steps: number;
  batchSize: number;
  learningRate: number;
  /** β, the weight of the KL term in the loss (the reported ELBO always uses β = 1). */
  klWeight: number;
  /** β ramps linearly from 0 to klWeight over these steps (0: no warm-up). */
  klWarmupSteps?: number;
  /** log σ of the discretized-Gaussian decoder (see vaeElbo). */
  decoderLogScale?: number;
  maxGradNorm?: number;
  warmupSteps?: number;
  seed: number;
  resume?: boolean;
  checkpointEvery: number;
  sampleEvery?: number;
  onSample?: (step: number) => Promise<void>;
  silent?: boolean;
  label?: string;
}

/** Defaults of trainVAE's optional settings, in one place. */
export const TRAIN_VAE_DEFAULTS = { klWarmupSteps: 0, decoderLogScale: Math.log(0.1), warmupSteps: 0 } as const;

interface TrainState {
  step: number;
  data: BatchCursor;
  posteriorGenerator: GeneratorState;
  seed: number;
}

/**
 * Trains the VAE on the negative ELBO: reconstruction (discretized-Gaussian −log p(x|z) at one z ~ q(z|x))
 * plus β·KL(q(z|x) ‖ N(0, I)), with optional KL warm-up, reporting both terms. Checkpoints hold the
 * model folder, Adam's moments and every random stream, so a resumed run matches an uninterrupted one.
 */
export async function trainVAE(options: TrainVAEOptions): Promise<TrainingLoopResult> {
  const { vae, data, batchSize } = options;
  const params = vae.trainableParameters();
  const optimizer = new Adam(params, { learningRate: options.learningRate, ...(options.maxGradNorm ? { maxGradNorm: options.maxGradNorm } : {}) });
  const root = new Generator(options.seed);
  let iterator = new BatchIterator(data, { batchSize, generator: root.split('data') });
  const posteriorGenerator = root.split('posterior');
  const store = new CheckpointStore(join(options.runDir, 'checkpoints'));
  const klWarmup = options.klWarmupSteps ?? TRAIN_VAE_DEFAULTS.klWarmupSteps;
  const decoderLogScale = options.decoderLogScale ?? TRAIN_VAE_DEFAULTS.decoderLogScale;

  let startStep = 0;
  if (options.resume) {
    const latest = await store.latest();
    if (!latest) throw new LdmError('FILE_NOT_FOUND', `--resume: no checkpoint in ${store.dir}`);
    const state = JSON.parse(await readFile(join(latest.path, 'state.json'), 'utf8')) as TrainState;
    const { tensors } = await readModelFolder(join(latest.path, 'model'));
    loadTorchStateDict(vae, tensors, { source: join(latest.path, 'model') });
    const opt = await readSafetensorsFile(join(latest.path, 'optimizer.safetensors'));
    optimizer.setState({ step: Number(opt.metadata.step), tensors: opt.tensors });
    iterator = BatchIterator.fromState(data, { batchSize, generator: root.split('data') }, state.data);
    posteriorGenerator.setState(state.posteriorGenerator);
    startStep = state.step;
  }

  const varList = [...params.values()];
  const paramNameOf = new Map<string, string>();
  for (const [name, v] of params) paramNameOf.set(v.name, name);

  vae.train(true);
  const step = (n: number) => {
    const batch = iterator.next();
    const beta = klWarmup > 0 ? options.klWeight * Math.min(1, n / klWarmup) : options.klWeight;
    const lr = learningRateAt(n - 1, { base: options.learningRate, warmupSteps: options.warmupSteps ?? 0, schedule: 'constant' });
    const out = tf.tidy(() => {
      const x = tf.tensor4d(batch.images, batch.shape);
      let reconstruction: tf.Scalar | undefined;
      let kl: tf.Scalar | undefined;
      let bitsPerDim: tf.Scalar | undefined;
      const { value, grads } = tf.variableGrads(() => {
        const terms = vaeElbo(vae, x, { generator: posteriorGenerator, beta, decoderLogScale });
        reconstruction = tf.keep(tf.mean(terms.reconstruction)) as tf.Scalar;
        kl = tf.keep(tf.mean(terms.kl)) as tf.Scalar;
        bitsPerDim = tf.keep(tf.mean(terms.bitsPerDim)) as tf.Scalar;
        return terms.loss;
      }, varList);
      const named = new Map<string, tf.Tensor>();
      for (const [varName, g] of Object.entries(grads)) named.set(paramNameOf.get(varName)!, g);
      const gradNorm = optimizer.applyGradients(named, lr);
      return { loss: value, reconstruction: reconstruction!, kl: kl!, bitsPerDim: bitsPerDim!, gradNorm, beta: tf.scalar(beta) };
    });
    const { loss, ...metrics } = out;
    return { loss, metrics };
  };

  const saveCheckpoint = async (dir: string, n: number) => {
    await vae.save(join(dir, 'model'));
    const opt = optimizer.getState();
    await writeSafetensorsFile(join(dir, 'optimizer.safetensors'), opt.tensors, { step: String(opt.step) });
    const state: TrainState = { step: n, data: iterator.state(), posteriorGenerator: posteriorGenerator.state(), seed: options.seed };
    await writeFile(join(dir, 'state.json'), `${JSON.stringify(state, null, 2)}\n`);
  };

  await mkdir(options.runDir, { recursive: true });
  const result = await runTrainingLoop({
    runDir: options.runDir,
    label: options.label ?? 'vae',
    totalSteps: options.steps,
    startStep,
    batchSize,
    checkpointEvery: options.checkpointEvery,
    ...(options.sampleEvery ? { sampleEvery: options.sampleEvery } : {}),
    ...(options.onSample
      ? {
          onSample: async (n: number) => {
            vae.train(false);
            await options.onSample!(n);
            vae.train(true);
          },
        }
      : {}),
    step,
    saveCheckpoint,
    silent: options.silent ?? false,
  });
  vae.train(false);
  optimizer.dispose();
  return result;
}
