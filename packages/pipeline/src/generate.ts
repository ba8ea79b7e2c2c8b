import * as tf from '@tensorflow/tfjs-core';
import { Generator, LdmError } from '@ldm/backend';
import { DDIMScheduler } from '@ldm/ddim';
import { DDPMScheduler, sampleStepwise } from '@ldm/ddpm';
import type { Scheduler } from '@ldm/ddpm';

export type SamplerName = 'ddpm' | 'ddim';

export interface GenerateOptions {
  /** How many images (default: the batch of `latents`, else 1). */
  count?: number;
  /** 'ddim' (default; deterministic at η = 0) or 'ddpm' (ancestral). */
  sampler?: SamplerName;
  /** Denoising steps (default 50 for DDIM, 1000 for DDPM). */
  steps?: number;
  /** DDIM's η: 0 deterministic, 1 as stochastic as DDPM (default 0). */
  eta?: number;
  /** Seed of the generator that draws x_T and every step's noise (default 0). */
  seed?: number;
  /** Images denoised at once (default: all of them). */
  batchSize?: number;
  /** x_T, NHWC [count, h, w, c] in the space the UNet denoises (scaled latents for a latent pipeline); the caller keeps it. */
  latents?: tf.Tensor4D;
  /** Called after every denoising step: UNet evaluations done so far and in total. */
  onStep?: (done: number, total: number) => void;
}

export interface GenerateAsyncOptions extends GenerateOptions {
  /**
   * Called every `previewEvery` steps with the images of the batch being denoised as they stand (x_t
   * through the decoder, NHWC in [0, 1]) and the index of its first image; disposed after it returns.
   */
  onPreview?: (images: tf.Tensor4D, start: number) => void | Promise<void>;
  /** Steps between previews (default: a tenth of the steps). */
  previewEvery?: number;
  /** Awaited after every step, so a web page repaints and stays responsive (default: a macrotask). */
  pause?: () => Promise<void>;
}

export interface GenerateResult {
  /** NHWC float32 in [0, 1] (diffusers' `output_type="np"`); the caller disposes it. */
  images: tf.Tensor4D;
}

/** Defaults of `generate`, in one place. */
export const GENERATE_DEFAULTS = { sampler: 'ddim' as SamplerName, ddimSteps: 50, ddpmSteps: 1000, eta: 0, seed: 0 };

export function makeScheduler(config: Record<string, unknown>, sampler: SamplerName, steps: number): Scheduler {
  const scheduler = sampler === 'ddpm' ? DDPMScheduler.fromConfig(config) : DDIMScheduler.fromConfig(config);
  scheduler.setTimesteps(steps);
  return scheduler;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new LdmError('INVALID_ARGUMENT', `generate: ${name} must be a positive integer, got ${value}`);
  return value;
}

/** Model output in [−1, 1] → diffusers' image range [0, 1]. */
export function toUnitRange(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.clipByValue(tf.add(tf.mul(x, 0.5), 0.5), 0, 1) as tf.Tensor4D);
}

/** Concatenates batches along N and disposes them. */
export function concatBatches(chunks: tf.Tensor4D[]): tf.Tensor4D {
  if (chunks.length === 1) return chunks[0]!;
  const all = tf.concat(chunks, 0) as tf.Tensor4D;
  for (const c of chunks) c.dispose();
  return all;
}

export interface DiffusionParts {
  denoiser: (x: tf.Tensor, t: number) => tf.Tensor;
  schedulerConfig: Record<string, unknown>;
  /** [h, w, c] of what the UNet denoises. */
  sampleShape: [number, number, number];
  /** x_0 (what the UNet denoised) → image in [−1, 1]; the identity for a pixel pipeline. */
  toImage: (x0: tf.Tensor4D) => tf.Tensor4D;
}

/** Where a generation is: yielded by `diffusionStepwise` after every step. */
interface DiffusionState {
  done: number;
  total: number;
  /** x_t of the batch being denoised (owned by the sampler). */
  x: tf.Tensor;
  /** Index of the batch's first image. */
  start: number;
}

/**
 * Algorithm 2 (or DDIM) in batches from one generator split 'sample', so a seed gives the same images
 * as `ldm sample` always did; x_T is drawn from it unless `latents` is given. Yields after every step
 * (generate and generateAsync run the same steps).
 */
function* diffusionStepwise(parts: DiffusionParts, options: GenerateOptions): Iterator<DiffusionState, GenerateResult, undefined> {
  const sampler = options.sampler ?? GENERATE_DEFAULTS.sampler;
  if (sampler !== 'ddpm' && sampler !== 'ddim') throw new LdmError('INVALID_ARGUMENT', `generate: sampler must be 'ddpm' or 'ddim', got ${String(sampler)}`);
  const [h, w, c] = parts.sampleShape;
  const latents = options.latents;
  if (latents && (latents.rank !== 4 || latents.shape[1] !== h || latents.shape[2] !== w || latents.shape[3] !== c)) {
    throw new LdmError('SHAPE_MISMATCH', `generate: latents must be NHWC [n, ${h}, ${w}, ${c}], got [${latents.shape.join(', ')}]`);
  }
  const count = positiveInteger('count', options.count ?? latents?.shape[0] ?? 1);
  if (latents && latents.shape[0] !== count) throw new LdmError('SHAPE_MISMATCH', `generate: latents hold ${latents.shape[0]} images but count is ${count}`);
  const batchSize = positiveInteger('batchSize', options.batchSize ?? count);
  const steps = positiveInteger('steps', options.steps ?? (sampler === 'ddpm' ? GENERATE_DEFAULTS.ddpmSteps : GENERATE_DEFAULTS.ddimSteps));
  const eta = options.eta ?? GENERATE_DEFAULTS.eta;
  if (!Number.isFinite(eta) || eta < 0) throw new LdmError('INVALID_ARGUMENT', `generate: eta must be a finite number ≥ 0, got ${eta}`);
  const generator = new Generator(options.seed ?? GENERATE_DEFAULTS.seed).split('sample');
  const scheduler = makeScheduler(parts.schedulerConfig, sampler, steps);
  const total = Math.ceil(count / batchSize) * scheduler.timesteps.length;
  let done = 0;
  const chunks: tf.Tensor4D[] = [];
  try {
    for (let start = 0; start < count; start += batchSize) {
      const b = Math.min(batchSize, count - start);
      const initialNoise = latents ? tf.slice(latents, [start, 0, 0, 0], [b, h, w, c]) : undefined;
      let x0: tf.Tensor;
      try {
        const batch = sampleStepwise({
          denoiser: parts.denoiser,
          scheduler,
          shape: [b, h, w, c],
          generator,
          eta,
          ...(initialNoise ? { initialNoise } : {}),
          onStep: () => {
            done++;
            options.onStep?.(done, total);
          },
        });
        try {
          for (;;) {
            const r = batch.next();
            if (r.done) {
              x0 = r.value;
              break;
            }
            yield { done, total, x: r.value.x, start };
          }
        } finally {
          // Stopped early (the caller returned or threw): the sampler disposes its x_t.
          batch.return?.(undefined as never);
        }
      } finally {
        initialNoise?.dispose();
      }
      const image = tf.tidy(() => toUnitRange(parts.toImage(x0 as tf.Tensor4D)));
      x0.dispose();
      chunks.push(image);
    }
  } catch (error) {
    for (const c of chunks) c.dispose();
    throw error;
  } finally {
    // A caller that stops early (generator return) leaves no batch behind either.
    if (chunks.length > 0 && done < total) for (const c of chunks) if (!c.isDisposed) c.dispose();
  }
  return { images: concatBatches(chunks) };
}

/** Runs the whole generation at once (synchronous: Node, tests). */
export function runDiffusion(parts: DiffusionParts, options: GenerateOptions): GenerateResult {
  const steps = diffusionStepwise(parts, options);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

const macrotask = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** The same generation as runDiffusion, handing control back after every step and showing previews. */
export async function runDiffusionAsync(parts: DiffusionParts, options: GenerateAsyncOptions): Promise<GenerateResult> {
  const pause = options.pause ?? macrotask;
  const steps = diffusionStepwise(parts, options);
  let every = options.previewEvery;
  try {
    for (;;) {
      const r = steps.next();
      if (r.done) return r.value;
      const { done, total, x, start } = r.value;
      every ??= Math.max(1, Math.round(total / 10));
      if (options.onPreview && (done % every === 0 || done === total)) {
        const preview = tf.tidy(() => toUnitRange(parts.toImage(x as tf.Tensor4D)));
        try {
          await options.onPreview(preview, start);
        } finally {
          preview.dispose();
        }
      }
      await pause();
    }
  } finally {
    steps.return?.(undefined as never);
  }
}
