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
  EMA,
  learningRateAt,
  readSafetensorsFile,
  runTrainingLoop,
  sliceRows,
  splitRows,
  writeSafetensorsFile,
  readResumePoint,
} from '@ldm/nn';
import type { EmaOptions, GradientReplica, ShardArray, ShardInputs, TrainingLoopResult } from '@ldm/nn';
import type { UNet2DConfigInput } from '@ldm/unet';
import { resolveSchedulerConfig } from './config';
import type { SchedulerOptions } from './config';
import { addNoise, trainingTarget } from './forward';
import { diffusionLoss } from './loss';
import { NoiseSchedule } from './schedule';

/** What trainDDPM needs of a network: a UNet2DModel fits, and so does anything shaped like it. */
export interface DenoisingModel {
  forward(sample: tf.Tensor4D, timesteps: tf.Tensor1D): tf.Tensor4D;
  trainableParameters(): Map<string, tf.Variable>;
  parameters(): Map<string, tf.Variable>;
  train(on?: boolean): unknown;
}

export interface TrainDDPMOptions {
  model: DenoisingModel;
  /** Images in [−1, 1], or latents already multiplied by the VAE's scaling factor (NHWC). */
  data: ImageDataset;
  /** Run folder: `checkpoints/`, `metrics.jsonl`. */
  runDir: string;
  /** The noise schedule and prediction type (diffusers' DDPMScheduler options, camelCase). */
  scheduler?: SchedulerOptions;
  steps: number;
  batchSize: number;
  learningRate: number;
  /** Linear warm-up steps, then cosine decay to 0 at `steps` (default 0). */
  warmupSteps?: number;
  lrSchedule?: 'cosine' | 'constant';
  /** EMA of the weights (diffusers' EMAModel options); sampling uses it. */
  ema?: EmaOptions;
  maxGradNorm?: number;
  /** Min-SNR-γ loss weighting; off when undefined. */
  minSnrGamma?: number;
  seed: number;
  /** Continue from the newest checkpoint in `runDir` (an error when there is none). */
  resume?: boolean;
  checkpointEvery: number;
  sampleEvery?: number;
  /** Called every `sampleEvery` steps with the EMA weights swapped into the model. */
  onSample?: (step: number) => Promise<void>;
  /** Writes the model's current weights as a model folder (e.g. `unet.save(dir)`). */
  saveModel: (dir: string) => Promise<void>;
  /** Loads a model folder written by `saveModel` into the model. */
  loadModel: (dir: string) => Promise<void>;
  silent?: boolean;
  label?: string;
  /**
   * Worker threads computing the gradients (data parallel, each on its own wasm backend; default 1 =
   * in-process). With N > 1 the model must be a UNet2DModel (its `config` rebuilds it in each worker);
   * every worker gets a contiguous shard of the batch with the timesteps and noise the in-process run
   * draws for those samples, so the weights match threads = 1 up to float rounding (dropout must be 0).
   */
  threads?: number;
}

export interface TrainDDPMResult extends TrainingLoopResult {
  /** The EMA of the weights; `ema.copyTo(model.parameters())` puts it in the model. The caller disposes it. */
  ema: EMA;
}

/** Defaults of trainDDPM's optional settings, in one place. */
export const TRAIN_DDPM_DEFAULTS = {
  warmupSteps: 0,
  lrSchedule: 'cosine',
  ema: { maxDecay: 0.999, useWarmup: true, invGamma: 1, power: 3 / 4 } satisfies EmaOptions,
} as const;

interface TrainState {
  step: number;
  data: BatchCursor;
  timestepGenerator: GeneratorState;
  noiseGenerator: GeneratorState;
  seed: number;
}

/**
 * Algorithm 1 of the primer (Ho et al. 2020): repeat { x₀ ~ data, t ~ U{0..T−1}, ε ~ N(0, I);
 * step on ∇‖target − model(√ᾱ_t x₀ + √(1−ᾱ_t) ε, t)‖² } with Adam, warm-up + cosine learning
 * rate, gradient clipping and an EMA of the weights. The same function trains pixel and latent
 * models. Every random draw comes from seeded streams saved in the checkpoints, so a resumed run
 * ends with the same weights as an uninterrupted one.
 */
export async function trainDDPM(options: TrainDDPMOptions): Promise<TrainDDPMResult> {
  const { model, data, batchSize } = options;
  const config = resolveSchedulerConfig(options.scheduler ?? {}, 'ddpm');
  const schedule = NoiseSchedule.fromOptions(config);
  const T = config.numTrainTimesteps;
  const params = model.trainableParameters();
  const allParams = model.parameters();
  const optimizer = new Adam(params, { learningRate: options.learningRate, ...(options.maxGradNorm ? { maxGradNorm: options.maxGradNorm } : {}) });
  const ema = new EMA(allParams, options.ema ?? TRAIN_DDPM_DEFAULTS.ema);
  const root = new Generator(options.seed);
  let iterator = new BatchIterator(data, { batchSize, generator: root.split('data') });
  const timestepGenerator = root.split('timesteps');
  const noiseGenerator = root.split('noise');
  const store = new CheckpointStore(join(options.runDir, 'checkpoints'));

  let startStep = 0;
  if (options.resume) {
    const { path, state } = await readResumePoint(store, ['timestepGenerator', 'noiseGenerator']);
    const latest = { path };
    await options.loadModel(join(latest.path, 'model'));
    const opt = await readSafetensorsFile(join(latest.path, 'optimizer.safetensors'));
    optimizer.setState({ step: Number(opt.metadata.step), tensors: opt.tensors });
    const emaFile = await readSafetensorsFile(join(latest.path, 'ema.safetensors'));
    ema.setState({ optimizationStep: Number(emaFile.metadata.optimization_step), tensors: emaFile.tensors });
    iterator = BatchIterator.fromState(data, { batchSize, generator: root.split('data') }, state.data);
    timestepGenerator.setState(state.timestepGenerator);
    noiseGenerator.setState(state.noiseGenerator);
    startStep = state.step;
  }

  // tf.variableGrads keys gradients by variable name; map them back to parameter names.
  const varList = [...params.values()];
  const paramNameOf = new Map<string, string>();
  for (const [name, v] of params) paramNameOf.set(v.name, name);

  const [, h, w, c] = data.shape;
  model.train(true);
  const step = (n: number) => {
    const batch = iterator.next();
    const t = Int32Array.from(timestepGenerator.uniform(batchSize), (u) => Math.min(T - 1, Math.floor(u * T)));
    const noiseValues = noiseGenerator.normal(batchSize * h * w * c);
    const lr = learningRateAt(n - 1, {
      base: options.learningRate,
      warmupSteps: options.warmupSteps ?? TRAIN_DDPM_DEFAULTS.warmupSteps,
      totalSteps: options.steps,
      schedule: options.lrSchedule ?? TRAIN_DDPM_DEFAULTS.lrSchedule,
    });
    if (engine) {
      const rows = batch.shape[0];
      const all: ShardInputs = { x0: { data: batch.images, shape: [...batch.shape] }, noise: { data: noiseValues, shape: [...batch.shape] }, t: { data: t, shape: [rows] } };
      const shards = splitRows(rows, engine.threads)
        .filter(([a, b]) => b > a)
        .map(([a, b]) => ({ rows: b - a, inputs: Object.fromEntries(Object.entries(all).map(([k, v]) => [k, sliceRows(v, a, b)])) as Record<string, ShardArray> }));
      const result = engine.computeGradients(shards);
      const out = tf.tidy(() => {
        const gradNorm = optimizer.applyGradients(result.grads, lr);
        ema.update(allParams);
        return { gradNorm, lr: tf.scalar(lr) };
      });
      tf.dispose([...result.grads.values()]);
      return { loss: tf.scalar(result.loss), metrics: out };
    }
    const out = tf.tidy(() => {
      const x0 = tf.tensor4d(batch.images, batch.shape);
      const noise = tf.tensor4d(noiseValues, batch.shape);
      const tt = tf.tensor1d(t, 'int32');
      const xt = addNoise(schedule, x0, noise, t) as tf.Tensor4D;
      const target = trainingTarget(schedule, config.predictionType, x0, noise, t);
      const { value, grads } = tf.variableGrads(
        () =>
          diffusionLoss({
            prediction: model.forward(xt, tt),
            target,
            t,
            schedule,
            predictionType: config.predictionType,
            ...(options.minSnrGamma !== undefined ? { minSnrGamma: options.minSnrGamma } : {}),
          }),
        varList,
      );
      const named = new Map<string, tf.Tensor>();
      for (const [varName, g] of Object.entries(grads)) named.set(paramNameOf.get(varName)!, g);
      const gradNorm = optimizer.applyGradients(named, lr);
      ema.update(allParams);
      return { loss: value, gradNorm, lr: tf.scalar(lr) };
    });
    return { loss: out.loss, metrics: { gradNorm: out.gradNorm, lr: out.lr } };
  };

  const saveCheckpoint = async (dir: string, n: number) => {
    await options.saveModel(join(dir, 'model'));
    const opt = optimizer.getState();
    await writeSafetensorsFile(join(dir, 'optimizer.safetensors'), opt.tensors, { step: String(opt.step) });
    const emaState = ema.getState();
    await writeSafetensorsFile(join(dir, 'ema.safetensors'), emaState.tensors, { optimization_step: String(emaState.optimizationStep) });
    await withEma(ema, allParams, () => options.saveModel(join(dir, 'ema')));
    const state: TrainState = {
      step: n,
      data: iterator.state(),
      timestepGenerator: timestepGenerator.state(),
      noiseGenerator: noiseGenerator.state(),
      seed: options.seed,
    };
    // state.json last: a checkpoint folder is complete when it has one (the store renames it into place after).
    await writeFile(join(dir, 'state.json'), `${JSON.stringify(state, null, 2)}\n`);
  };

  await mkdir(options.runDir, { recursive: true });
  // Started last, so nothing between here and the `finally` that terminates them can throw.
  const threads = options.threads ?? 1;
  if (!(Number.isInteger(threads) && threads >= 1)) throw new LdmError('INVALID_ARGUMENT', `trainDDPM: threads must be an integer ≥ 1, got ${threads}`);
  const engine = threads > 1 ? await startDdpmWorkers(options, threads, params, allParams) : undefined;
  let result: TrainingLoopResult;
  try {
    result = await runTrainingLoop({
      runDir: options.runDir,
      label: options.label ?? 'ddpm',
      totalSteps: options.steps,
      startStep,
      batchSize,
      checkpointEvery: options.checkpointEvery,
      ...(options.sampleEvery ? { sampleEvery: options.sampleEvery } : {}),
      ...(options.onSample
        ? {
            onSample: async (n: number) => {
              model.train(false);
              await withEma(ema, allParams, () => options.onSample!(n));
              model.train(true);
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
  model.train(false);
  optimizer.dispose();
  return { ...result, ema };
}

/** What a data-parallel DDPM worker needs to rebuild the model and the loss (plain JSON). */
export interface DdpmReplicaConfig {
  kind: 'ddpm';
  modelConfig: UNet2DConfigInput;
  scheduler: SchedulerOptions;
  minSnrGamma?: number;
}

async function startDdpmWorkers(
  options: TrainDDPMOptions,
  threads: number,
  params: Map<string, tf.Variable>,
  allParams: Map<string, tf.Variable>,
): Promise<DataParallelEngine> {
  // Duck-typed (a bundler may rename the class): a UNet2DModel carries its resolved config.
  const modelConfig = (options.model as { config?: { blockOutChannels?: unknown; downBlockTypes?: unknown } }).config;
  if (!modelConfig || !Array.isArray(modelConfig.blockOutChannels) || !Array.isArray(modelConfig.downBlockTypes)) {
    throw new LdmError('INVALID_ARGUMENT', 'trainDDPM: threads > 1 needs a UNet2DModel (its config rebuilds the model in each worker)');
  }
  const config: DdpmReplicaConfig = {
    kind: 'ddpm',
    modelConfig: JSON.parse(JSON.stringify(modelConfig)) as UNet2DConfigInput,
    scheduler: options.scheduler ?? {},
    ...(options.minSnrGamma !== undefined ? { minSnrGamma: options.minSnrGamma } : {}),
  };
  return DataParallelEngine.create({
    threads,
    task: { module: import.meta.url, export: 'createDdpmReplica', config },
    parameters: allParams,
    trainable: params,
  });
}

/**
 * The replica a data-parallel worker builds (see DataParallelEngine): a UNet2DModel from `modelConfig`
 * (its weights come from the main thread) and the loss of trainDDPM's step for a shard {x0, noise, t}.
 */
export async function createDdpmReplica(input: unknown): Promise<GradientReplica> {
  const options = input as DdpmReplicaConfig;
  const { UNet2DModel } = await import('@ldm/unet');
  const model = new UNet2DModel(options.modelConfig);
  model.train(true);
  const config = resolveSchedulerConfig(options.scheduler, 'ddpm');
  const schedule = NoiseSchedule.fromOptions(config);
  return {
    parameters: model.parameters(),
    trainable: model.trainableParameters(),
    loss(inputs) {
      const x0 = tf.tensor4d(inputs.x0!.data, inputs.x0!.shape as [number, number, number, number]);
      const noise = tf.tensor4d(inputs.noise!.data, inputs.noise!.shape as [number, number, number, number]);
      const t = inputs.t!.data as Int32Array;
      const tt = tf.tensor1d(t, 'int32');
      const xt = addNoise(schedule, x0, noise, t) as tf.Tensor4D;
      const target = trainingTarget(schedule, config.predictionType, x0, noise, t);
      const loss = diffusionLoss({
        prediction: model.forward(xt, tt),
        target,
        t,
        schedule,
        predictionType: config.predictionType,
        ...(options.minSnrGamma !== undefined ? { minSnrGamma: options.minSnrGamma } : {}),
      });
      return { loss };
    },
    dispose: () => model.dispose(),
  };
}

/** Runs `fn` with the EMA weights in the model, then puts the trained weights back. */
export async function withEma<T>(ema: EMA, params: ReadonlyMap<string, tf.Variable>, fn: () => Promise<T>): Promise<T> {
  ema.store(params);
  ema.copyTo(params);
  try {
    return await fn();
  } finally {
    ema.restore(params);
  }
}
