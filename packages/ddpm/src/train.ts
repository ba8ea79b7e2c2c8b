import { Generator, LdmError } from '@ldm/backend';
import { BatchIterator } from '@ldm/data';
import type { BatchCursor, ImageDataset } from '@ldm/data';
import { resumableStateSchemas, train, withStateSchema } from '@ldm/nn';
import type { EmaOptions, EMA, TrainingLoopResult } from '@ldm/nn';
import { resolveSchedulerConfig } from './config';
import type { SchedulerOptions } from './config';
import { ddpmLoss } from './loss';
import type { DenoisingModel } from './loss';

export interface TrainDDPMOptions {
  model: DenoisingModel;
  /** Images in [−1, 1], or latents already multiplied by the VAE's scaling factor (NHWC). */
  data: ImageDataset;
  /** Run folder: `checkpoints/`, `metrics.jsonl`. */
  runDir: string;
  /** The noise schedule and prediction type (diffusers' DDPMScheduler options, camelCase). Default SCHEDULER_DEFAULTS. */
  scheduler?: SchedulerOptions;
  /** Optimisation steps in all (a resumed run continues up to it). */
  steps: number;
  batchSize: number;
  /** Adam's peak learning rate. */
  learningRate: number;
  /** Linear warm-up steps, then the schedule (default 0). */
  warmupSteps?: number;
  /** After warm-up: 'cosine' decays to 0 at `steps`, 'constant' stays (default 'cosine'). */
  lrSchedule?: 'cosine' | 'constant';
  /** EMA of the weights (diffusers' EMAModel options); sampling uses it. Default TRAIN_DDPM_DEFAULTS.ema. */
  ema?: EmaOptions;
  /** Clip the gradient to this global norm; off when undefined (default). */
  maxGradNorm?: number;
  /** Min-SNR-γ loss weighting; off when undefined (default). */
  minSnrGamma?: number;
  /** Seeds the data order, the timesteps and the noise (each its own stream). */
  seed: number;
  /** Continue from the newest checkpoint in `runDir` (an error when there is none). Default false. */
  resume?: boolean;
  /** Steps between checkpoints (one is also written at the end and on SIGINT/SIGTERM). */
  checkpointEvery: number;
  /** Steps between `onSample` calls; none when undefined (default). */
  sampleEvery?: number;
  /** Called every `sampleEvery` steps with the EMA weights swapped into the model. */
  onSample?: (step: number) => Promise<void>;
  /** Writes the model's current weights as a model folder (e.g. `unet.save(dir)`). */
  saveModel: (dir: string) => Promise<void>;
  /** Loads a model folder written by `saveModel` into the model. */
  loadModel: (dir: string) => Promise<void>;
  /** No progress bar (default false). */
  silent?: boolean;
  /** The progress bar's label (default 'ddpm'). */
  label?: string;
  /**
   * Worker threads computing the gradients (data parallel, each on its own wasm backend; default 1 =
   * in-process). With N > 1 the model must say how a worker rebuilds it (`recipe()`, as UNet2DModel does);
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

/**
 * Algorithm 1 of the primer (Ho et al. 2020), for pixel and latent models alike:
 *
 *   repeat
 *     x₀ ~ q(x₀)                                   a batch of the data
 *     t ~ Uniform({1, …, T})                       here 0 … T−1, diffusers' indexing
 *     ε ~ N(0, I)
 *     gradient step on ∇_θ ‖ε − ε_θ(√ᾱ_t x₀ + √(1 − ᾱ_t) ε, t)‖²     `ddpmLoss`
 *   until converged
 *
 * The step itself (Adam, warm-up + cosine learning rate, clipping, EMA, checkpoints, workers) is nn's `train`.
 * Every draw comes from a seeded stream saved in the checkpoints, so a resumed run ends with the same
 * weights as an uninterrupted one; with threads > 1 each worker gets a row slice of the same draws.
 */
export async function trainDDPM(options: TrainDDPMOptions): Promise<TrainDDPMResult> {
  const { model, data, batchSize } = options;
  const T = resolveSchedulerConfig(options.scheduler ?? {}, 'ddpm').numTrainTimesteps;
  if ((options.threads ?? 1) > 1 && !model.recipe) {
    throw new LdmError('INVALID_ARGUMENT', 'trainDDPM: threads > 1 needs a UNet2DModel (or a model with recipe(), which rebuilds it in each worker)');
  }
  const root = new Generator(options.seed);
  const batchOptions = { batchSize, generator: root.split('data') };
  let batches = new BatchIterator(data, batchOptions);
  const timesteps = root.split('timesteps');
  const noise = root.split('noise');
  const [, h, w, c] = data.shape;

  const result = await train({
    model,
    batchSize,
    loss: ddpmLoss({ scheduler: options.scheduler ?? {}, ...(options.minSnrGamma !== undefined ? { minSnrGamma: options.minSnrGamma } : {}) }),
    nextBatch: () => {
      const x0 = batches.next(); // x₀ ~ q(x₀)
      const t = Int32Array.from(timesteps.uniform(batchSize), (u) => Math.min(T - 1, Math.floor(u * T))); // t ~ Uniform({0, …, T−1})
      const eps = noise.normal(batchSize * h * w * c); // ε ~ N(0, I)
      return { x0: { data: x0.images, shape: [...x0.shape] }, t: { data: t, shape: [batchSize] }, noise: { data: eps, shape: [...x0.shape] } };
    },
    resumables: {
      data: {
        state: () => batches.state(),
        setState: (cursor) => (batches = BatchIterator.fromState(data, batchOptions, cursor as BatchCursor)),
        stateSchema: resumableStateSchemas.batchCursor,
      },
      timestepGenerator: withStateSchema(timesteps, resumableStateSchemas.generator),
      noiseGenerator: withStateSchema(noise, resumableStateSchemas.generator),
    },
    stateExtras: { seed: options.seed },
    learningRate: {
      base: options.learningRate,
      warmupSteps: options.warmupSteps ?? TRAIN_DDPM_DEFAULTS.warmupSteps,
      totalSteps: options.steps,
      schedule: options.lrSchedule ?? TRAIN_DDPM_DEFAULTS.lrSchedule,
    },
    maxGradNorm: options.maxGradNorm,
    ema: options.ema ?? TRAIN_DDPM_DEFAULTS.ema,
    runDir: options.runDir,
    steps: options.steps,
    resume: options.resume,
    checkpointEvery: options.checkpointEvery,
    saveModel: options.saveModel,
    loadModel: options.loadModel,
    sampleEvery: options.sampleEvery,
    onSample: options.onSample,
    threads: options.threads,
    label: options.label ?? 'ddpm',
    silent: options.silent,
  });
  return { ...result, ema: result.ema! };
}
