import * as tf from '@tensorflow/tfjs-core';
import { LdmError } from '@ldm/backend';
import { SchedulerBase, parseDiffusersSchedulerConfig, resolveSchedulerConfig } from '@ldm/ddpm';
import type { SchedulerOptions, StepOptions, StepOutput } from '@ldm/ddpm';

/**
 * DDIM (Song, Meng & Ermon 2021, eq. 12): x_{t'} = √ᾱ_{t'} x̂₀ + √(1 − ᾱ_{t'} − σ²) ε̂ + σ z with
 * σ = η √((1 − ᾱ_{t'})/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_{t'}). η = 0 is the deterministic sampler, η = 1 has DDPM's variance.
 * The previous timestep t' is the next entry of `timesteps` (diffusers computes t − T/n, wrong for 'linspace').
 */
export class DDIMScheduler extends SchedulerBase {
  /** ᾱ after the last step: 1 with setAlphaToOne, else ᾱ₀. */
  readonly finalAlphaCumprod: number;

  constructor(options: SchedulerOptions = {}) {
    super(resolveSchedulerConfig(options, 'ddim'), 'ddim');
    this.finalAlphaCumprod = this.config.setAlphaToOne ? 1 : (this.schedule.alphasCumprod[0] as number);
  }

  /** Builds a scheduler from a diffusers `scheduler_config.json` object. */
  static fromConfig(config: unknown): DDIMScheduler {
    return new DDIMScheduler(parseDiffusersSchedulerConfig(config, 'ddim'));
  }

  /** ᾱ at a timestep, with the final value for t < 0. */
  alphaBarAt(t: number): number {
    return t >= 0 ? (this.schedule.alphasCumprod[t] as number) : this.finalAlphaCumprod;
  }

  /** σ²/η² of the step t → prevT (diffusers `_get_variance(t, prev_t)`). */
  getVariance(t: number, prevT: number): number {
    const a = this.alphaBarAt(t);
    const aPrev = this.alphaBarAt(prevT);
    return ((1 - aPrev) / (1 - a)) * (1 - a / aPrev);
  }

  step(modelOutput: tf.Tensor, t: number, sample: tf.Tensor, options: StepOptions = {}): StepOutput {
    this.checkStepInputs(modelOutput, sample, options.noise);
    const eta = options.eta ?? 0;
    if (!(eta >= 0) || !Number.isFinite(eta)) throw new LdmError('INVALID_ARGUMENT', `DDIM step: eta must be a finite number ≥ 0, got ${eta}`);
    const prevT = this.previousTimestep(t);
    const alphaBar = this.alphaBarAt(t);
    const alphaBarPrev = this.alphaBarAt(prevT);
    const std = eta * Math.sqrt(this.getVariance(t, prevT));
    const dirCoef = Math.sqrt(Math.max(1 - alphaBarPrev - std * std, 0));
    return tf.tidy(() => {
      const { x0, eps } = this.predictOriginal(modelOutput, sample, alphaBar);
      let prevSample = tf.add(tf.mul(x0, Math.sqrt(alphaBarPrev)), tf.mul(eps, dirCoef));
      if (eta > 0) prevSample = tf.add(prevSample, tf.mul(this.stepNoise(sample, options, `eta = ${eta} > 0`), std));
      return { prevSample, predOriginalSample: x0 };
    });
  }
}
