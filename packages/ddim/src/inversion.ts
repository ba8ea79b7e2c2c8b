import * as tf from '@tensorflow/tfjs-core';
import { predictionToX0AndEps } from '@ldm/ddpm';
import type { Denoiser, SampleProgress } from '@ldm/ddpm';
import type { DDIMScheduler } from './ddim-scheduler';

export interface DdimInvertOptions {
  denoiser: Denoiser;
  scheduler: DDIMScheduler;
  /** The clean sample to encode (not disposed). */
  x0: tf.Tensor;
  onStep?: (progress: SampleProgress) => void;
}

/**
 * Deterministic DDIM encoding x₀ → x_T: the η = 0 update run forwards over the scheduler's timesteps in ascending
 * order, x_{t_next} = √ᾱ_{t_next} x̂₀ + √(1 − ᾱ_{t_next}) ε̂ with ε̂ evaluated at the current point (explicit Euler of
 * the probability-flow ODE, Song et al. §4.3). From the clean end, whose ᾱ is `finalAlphaCumprod`, ε̂ is evaluated at
 * the first timestep, as diffusers' DDIMInverseScheduler does. DDIM sampling (η = 0) from the result reconstructs x₀
 * up to the discretisation error. Returns x_T (the caller owns it); no host reads inside the loop.
 */
export function ddimInvert(options: DdimInvertOptions): tf.Tensor {
  const { denoiser, scheduler, x0, onStep } = options;
  const ascending = [...scheduler.timesteps].reverse();
  const total = ascending.length;
  const predictionType = scheduler.config.predictionType;
  let x = tf.clone(x0);
  for (let i = 0; i < total; i++) {
    const target = ascending[i] as number;
    const current = i === 0 ? -1 : (ascending[i - 1] as number);
    const evalT = i === 0 ? target : current;
    const alphaBar = scheduler.alphaBarAt(current);
    const alphaBarNext = scheduler.alphaBarAt(target);
    const previous = x;
    x = tf.tidy(() => {
      const out = denoiser(previous, evalT);
      const { x0: x0hat, eps } = predictionToX0AndEps(predictionType, out, previous, alphaBar);
      return tf.add(tf.mul(x0hat, Math.sqrt(alphaBarNext)), tf.mul(eps, Math.sqrt(1 - alphaBarNext)));
    });
    previous.dispose();
    onStep?.({ step: i, total, t: target });
  }
  return x;
}
