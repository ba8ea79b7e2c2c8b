import * as tf from '@tensorflow/tfjs-core';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Generator, LdmError } from '@ldm/backend';
import type { GeneratorState } from '@ldm/backend';
import { BatchIterator } from '@ldm/data';
import type { BatchCursor, ImageDataset } from '@ldm/data';
import {
  Adam,
  CheckpointStore,
  DataParallelEngine,
  learningRateAt,
  loadModelFolderInto,
  readSafetensorsFile,
  runTrainingLoop,
  sliceRows,
  splitRows,
  writeSafetensorsFile,
  readResumePoint,
} from '@ldm/nn';
import type { GradientReplica, ShardArray, ShardInputs, TrainingLoopResult } from '@ldm/nn';
import { AutoencoderKL } from './autoencoder-kl';
import type { AutoencoderKLConfigInput } from './config';
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
  /**
   * Worker threads computing the gradients (data parallel, each on its own wasm backend; default 1 =
   * in-process). Each worker gets a contiguous shard of the batch with the posterior noise the in-process
   * run draws for those images, so the weights match threads = 1 up to float rounding.
   */
  threads?: number;
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
    const { path, state } = await readResumePoint(store, ['posteriorGenerator']);
    const latest = { path };
    await loadModelFolderInto(vae, join(latest.path, 'model'));
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
    if (engine) {
      // The posterior noise the in-process step would draw (randn over [B, H/f, W/f, latentChannels]).
      const [rows, height, width] = batch.shape;
      const f = 2 ** (vae.config.blockOutChannels.length - 1);
      const latentShape = [rows, height / f, width / f, vae.config.latentChannels];
      const eps = posteriorGenerator.normal(latentShape.reduce((a, b) => a * b, 1));
      const all: ShardInputs = { x: { data: batch.images, shape: [...batch.shape] }, eps: { data: eps, shape: latentShape } };
      const shards = splitRows(rows, engine.threads)
        .filter(([a, b]) => b > a)
        .map(([a, b]) => ({ rows: b - a, inputs: Object.fromEntries(Object.entries(all).map(([k, v]) => [k, sliceRows(v, a, b)])) as Record<string, ShardArray> }));
      const result = engine.computeGradients(shards, { beta });
      const gradNorm = optimizer.applyGradients(result.grads, lr);
      tf.dispose([...result.grads.values()]);
      const m = result.metrics;
      return {
        loss: tf.scalar(result.loss),
        metrics: { reconstruction: tf.scalar(m.reconstruction!), kl: tf.scalar(m.kl!), bitsPerDim: tf.scalar(m.bitsPerDim!), gradNorm, beta: tf.scalar(beta) },
      };
    }
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
  // Started last, so nothing between here and the `finally` that terminates them can throw.
  const threads = options.threads ?? 1;
  if (!(Number.isInteger(threads) && threads >= 1)) throw new LdmError('INVALID_ARGUMENT', `trainVAE: threads must be an integer ≥ 1, got ${threads}`);
  const engine =
    threads > 1
      ? await DataParallelEngine.create({
          threads,
          task: {
            module: import.meta.url,
            export: 'createVaeReplica',
            config: { kind: 'vae', modelConfig: JSON.parse(JSON.stringify(vae.config)) as AutoencoderKLConfigInput, decoderLogScale } satisfies VaeReplicaConfig,
          },
          parameters: vae.parameters(),
          trainable: params,
        })
      : undefined;
  let result: TrainingLoopResult;
  try {
    result = await runTrainingLoop({
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
  } finally {
    await engine?.dispose();
  }
  vae.train(false);
  optimizer.dispose();
  return result;
}

/** What a data-parallel VAE worker needs to rebuild the model and the loss (plain JSON). */
export interface VaeReplicaConfig {
  kind: 'vae';
  modelConfig: AutoencoderKLConfigInput;
  decoderLogScale: number;
}

/**
 * The replica a data-parallel worker builds (see DataParallelEngine): an AutoencoderKL from `modelConfig`
 * (its weights come from the main thread) and trainVAE's loss for a shard {x, eps}; `info` is {beta}.
 */
export function createVaeReplica(input: unknown): GradientReplica {
  const options = input as VaeReplicaConfig;
  const vae = new AutoencoderKL(options.modelConfig);
  vae.train(true);
  return {
    parameters: vae.parameters(),
    trainable: vae.trainableParameters(),
    metricNames: ['reconstruction', 'kl', 'bitsPerDim'],
    loss(inputs, info) {
      const { beta } = info as { beta: number };
      const x = tf.tensor4d(inputs.x!.data, inputs.x!.shape as [number, number, number, number]);
      const eps = inputs.eps!.data as Float32Array;
      // The posterior draws its noise from this stand-in for the main thread's generator.
      const generator = {
        normal: (n: number) => {
          if (n !== eps.length) throw new LdmError('SHAPE_MISMATCH', `VAE replica: posterior asked for ${n} normals, the shard carries ${eps.length}`);
          return eps;
        },
      } as unknown as Generator;
      const terms = vaeElbo(vae, x, { generator, beta, decoderLogScale: options.decoderLogScale });
      return { loss: terms.loss, metrics: { reconstruction: tf.mean(terms.reconstruction) as tf.Scalar, kl: tf.mean(terms.kl) as tf.Scalar, bitsPerDim: tf.mean(terms.bitsPerDim) as tf.Scalar } };
    },
    dispose: () => vae.dispose(),
  };
}
