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

  /**
   * One DDIM step x_t → x_{t'} (Song, Meng & Ermon 2021, "Denoising Diffusion Implicit Models", eq. 12).
   *
   * Notation (DDIM writes α_t for what the DDPM paper and this code call ᾱ_t; diffusers' names in brackets):
   *   t, t'      this timestep and the one after it in `timesteps` (t' < t; t' = −1 after the last step), looked
   *              up in the schedule rather than computed as t − T/n                                  [prev_timestep]
   *   ᾱ_t        alphasCumprod[t]; for t' = −1, finalAlphaCumprod (1 with setAlphaToOne, else ᾱ₀)   [alpha_prod_t(_prev)]
   *   x_t, x̂₀, ε̂  `sample`, the model's estimates of x₀ and of the noise        [sample, pred_original_sample, pred_epsilon]
   *   σ          the step's noise scale, σ = η·√((1 − ᾱ_{t'}) / (1 − ᾱ_t))·√(1 − ᾱ_t / ᾱ_{t'}) (eq. 16)   [std_dev_t]
   *   η          0: deterministic DDIM; 1: DDPM's ancestral variance                                 [eta]
   *
   * 1. x̂₀ and ε̂ from the model output ("predicted x₀" in eq. 12), x̂₀ clipped or thresholded as configured.
   * 2. σ from η (eq. 16).
   * 3. The direction pointing to x_t: √(1 − ᾱ_{t'} − σ²)·ε̂.
   * 4. x_{t'} = √ᾱ_{t'}·x̂₀ + √(1 − ᾱ_{t'} − σ²)·ε̂ + σ·z, z ~ N(0, I) (eq. 12); no noise when η = 0.
   */
  step(modelOutput: tf.Tensor, t: number, sample: tf.Tensor, options: StepOptions = {}): StepOutput {
    this.checkStepInputs(modelOutput, sample, options.noise);
    const eta = options.eta ?? 0;
    if (!(eta >= 0) || !Number.isFinite(eta)) throw new LdmError('INVALID_ARGUMENT', `DDIM step: eta must be a finite number ≥ 0, got ${eta}`);
    const prevT = this.previousTimestep(t);
    const alphaBar = this.alphaBarAt(t);
    const alphaBarPrev = this.alphaBarAt(prevT);
    return tf.tidy(() => {
      // 1. x̂₀, ε̂
      const { x0, eps } = this.predictOriginal(modelOutput, sample, alphaBar);
      // 2. σ (eq. 16)
      const std = eta * Math.sqrt(this.getVariance(t, prevT));
      // 3. direction pointing to x_t
      const dirCoef = Math.sqrt(Math.max(1 - alphaBarPrev - std * std, 0));
      // 4. x_{t'} (eq. 12)
      let prevSample = tf.add(tf.mul(x0, Math.sqrt(alphaBarPrev)), tf.mul(eps, dirCoef));
      if (eta > 0) prevSample = tf.add(prevSample, tf.mul(this.stepNoise(sample, options, `eta = ${eta} > 0`), std));
      return { prevSample, predOriginalSample: x0 };
    });
  }
}
