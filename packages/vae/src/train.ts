import { Generator } from '@ldm/backend';
import { BatchIterator } from '@ldm/data';
import type { BatchCursor, ImageDataset } from '@ldm/data';
import { loadModelFolderInto, resumableStateSchemas, train, withStateSchema } from '@ldm/nn';
import type { TrainingLoopResult } from '@ldm/nn';
import type { AutoencoderKL } from './autoencoder-kl';
import { vaeLoss } from './elbo';

export interface TrainVAEOptions {
  vae: AutoencoderKL;
  /** Images in [−1, 1] on the 8-bit grid, NHWC. */
  data: ImageDataset;
  /** Run folder: `checkpoints/`, `metrics.jsonl`. */
  runDir: string;
  /** Optimisation steps in all (a resumed run continues up to it). */
  steps: number;
  batchSize: number;
  /** Adam's learning rate (constant after warm-up). */
  learningRate: number;
  /** β, the weight of the KL term in the loss (the reported ELBO always uses β = 1). */
  klWeight: number;
  /** β ramps linearly from 0 to klWeight over these steps (default 0: no warm-up). */
  klWarmupSteps?: number;
  /** log σ of the discretized-Gaussian decoder (see vaeElbo; default log 0.1). */
  decoderLogScale?: number;
  /** Clip the gradient to this global norm; off when undefined (default). */
  maxGradNorm?: number;
  /** Linear learning-rate warm-up steps (default 0). */
  warmupSteps?: number;
  /** Seeds the data order and the posterior noise (each its own stream). */
  seed: number;
  /** Continue from the newest checkpoint in `runDir` (an error when there is none). Default false. */
  resume?: boolean;
  /** Steps between checkpoints (one is also written at the end and on SIGINT/SIGTERM). */
  checkpointEvery: number;
  /** Steps between `onSample` calls (the model in eval mode); none when undefined (default). */
  sampleEvery?: number;
  onSample?: (step: number) => Promise<void>;
  /** No progress bar (default false). */
  silent?: boolean;
  /** The progress bar's label (default 'vae'). */
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

/**
 * Trains the VAE on the negative ELBO (`vaeLoss`): reconstruction (discretized-Gaussian −log p(x|z) at one
 * z ~ q(z|x)) plus β·KL(q(z|x) ‖ N(0, I)), with optional KL warm-up, reporting both terms. The step, the
 * checkpoints (model folder, Adam's moments, every random stream) and the workers are nn's `train`.
 */
export async function trainVAE(options: TrainVAEOptions): Promise<TrainingLoopResult> {
  const { vae, data, batchSize } = options;
  const root = new Generator(options.seed);
  const batchOptions = { batchSize, generator: root.split('data') };
  let batches = new BatchIterator(data, batchOptions);
  const posterior = root.split('posterior');
  const klWarmup = options.klWarmupSteps ?? TRAIN_VAE_DEFAULTS.klWarmupSteps;
  const beta = (n: number) => (klWarmup > 0 ? options.klWeight * Math.min(1, n / klWarmup) : options.klWeight);
  // The posterior noise ε of z = μ + σ·ε, over the latent shape [B, H/f, W/f, latentChannels].
  const f = 2 ** (vae.config.blockOutChannels.length - 1);
  const [, h, w] = data.shape;
  const latentShape = [batchSize, h / f, w / f, vae.config.latentChannels];

  return train({
    model: vae,
    loss: vaeLoss({ decoderLogScale: options.decoderLogScale ?? TRAIN_VAE_DEFAULTS.decoderLogScale }),
    nextBatch: () => {
      const x = batches.next();
      const eps = posterior.normal(latentShape.reduce((a, b) => a * b, 1));
      return { x: { data: x.images, shape: [...x.shape] }, eps: { data: eps, shape: latentShape } };
    },
    info: (n) => ({ beta: beta(n) }),
    stepMetrics: (n) => ({ beta: beta(n) }),
    resumables: {
      data: {
        state: () => batches.state(),
        setState: (cursor) => (batches = BatchIterator.fromState(data, batchOptions, cursor as BatchCursor)),
        stateSchema: resumableStateSchemas.batchCursor,
      },
      posteriorGenerator: withStateSchema(posterior, resumableStateSchemas.generator),
    },
    stateExtras: { seed: options.seed },
    learningRate: { base: options.learningRate, warmupSteps: options.warmupSteps ?? TRAIN_VAE_DEFAULTS.warmupSteps, schedule: 'constant' },
    maxGradNorm: options.maxGradNorm,
    runDir: options.runDir,
    steps: options.steps,
    batchSize,
    resume: options.resume,
    checkpointEvery: options.checkpointEvery,
    saveModel: (dir) => vae.save(dir),
    loadModel: (dir) => loadModelFolderInto(vae, dir),
    sampleEvery: options.sampleEvery,
    onSample: options.onSample,
    threads: options.threads,
    label: options.label ?? 'vae',
    silent: options.silent,
  });
}
