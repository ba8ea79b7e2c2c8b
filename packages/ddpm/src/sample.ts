import * as tf from '@tensorflow/tfjs-core';
import { Generator, LdmError, randn } from '@ldm/backend';
import type { Scheduler } from './scheduler-base';

/** Any function of (x_t, t): a UNet, an EMA copy, a latent model, or an exact analytic denoiser. Must not dispose x_t. */
export type Denoiser = (xt: tf.Tensor, t: number) => tf.Tensor;

export interface SampleProgress {
  /** 0-based index of the step just taken. */
  step: number;
  total: number;
  t: number;
}

export interface SampleOptions {
  denoiser: Denoiser;
  scheduler: Scheduler;
  shape: number[];
  /** Seed for a new Generator, or a Generator (advanced in place: the next call continues its stream). */
  generator?: Generator;
  seed?: number;
  /** DDIM's η; ignored by DDPM. */
  eta?: number;
  onStep?: (progress: SampleProgress) => void;
  /** x_T to start from instead of N(0, I) noise (e.g. a DDIM inversion); not disposed. */
  initialNoise?: tf.Tensor;
}

/** Where the reverse process is after a step: what `sampleStepwise` yields. */
export interface SampleState extends SampleProgress {
  /** x after this step; owned by the sampler (read it, do not dispose it). */
  x: tf.Tensor;
}

/**
 * The reverse process one step at a time: the same computation as `sample` (same noise, same order),
 * yielding after every step so a caller can show progress or hand control back to a web page's event
 * loop. Returns x_0 (the caller owns it); x is disposed if the caller stops early or a step throws.
 */
export function* sampleStepwise(options: SampleOptions): Iterator<SampleState, tf.Tensor, undefined> {
  const { denoiser, scheduler, shape, eta, onStep, initialNoise } = options;
  if (options.generator !== undefined && options.seed !== undefined) {
    throw new LdmError('INVALID_ARGUMENT', 'sample: pass either generator or seed, not both');
  }
  if (!Array.isArray(shape) || shape.length === 0 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new LdmError('INVALID_ARGUMENT', `sample: shape must be a non-empty array of positive integers, got ${JSON.stringify(shape)}`);
  }
  const generator = options.generator ?? new Generator(options.seed ?? 0);
  let x: tf.Tensor;
  if (initialNoise) {
    if (initialNoise.shape.length !== shape.length || initialNoise.shape.some((d, i) => d !== shape[i])) {
      throw new LdmError('SHAPE_MISMATCH', `sample: initialNoise has shape [${initialNoise.shape.join(', ')}] but shape is [${shape.join(', ')}]`);
    }
    x = tf.clone(initialNoise);
  } else {
    x = randn(shape, generator);
  }
  const timesteps = scheduler.timesteps;
  const total = timesteps.length;
  let finished = false;
  try {
    for (let i = 0; i < total; i++) {
      const t = timesteps[i] as number;
      const current = x;
      const next = tf.tidy(() => {
        const out = denoiser(current, t);
        const { prevSample } = scheduler.step(out, t, current, eta === undefined ? { generator } : { eta, generator });
        return prevSample;
      });
      current.dispose();
      x = next;
      onStep?.({ step: i, total, t });
      yield { step: i, total, t, x };
    }
    finished = true;
    return x;
  } finally {
    if (!finished) x.dispose();
  }
}

/**
 * Runs the reverse process over `scheduler.timesteps` from Gaussian noise (or `initialNoise`) and returns x_0
 * (the caller owns it). Each step runs in tf.tidy and nothing is read back to the host inside the loop.
 */
export function sample(options: SampleOptions): tf.Tensor {
  const steps = sampleStepwise(options);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}
