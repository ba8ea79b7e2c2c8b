import * as tf from '@tensorflow/tfjs-core';
import { LdmError } from '@ldm/backend';
import { parseDiffusersSchedulerConfig, resolveSchedulerConfig } from './config';
import type { SchedulerOptions } from './config';
import { SchedulerBase } from './scheduler-base';
import type { StepOptions, StepOutput } from './scheduler-base';
import { validateCustomTimesteps } from './timesteps';

/**
 * Ancestral sampling (Ho et al. 2020, Algorithm 2) over any descending subset of timesteps: x_{t'} ~ q(x_{t'} | x_t, x̂₀)
 * with the variance β̃ ('fixed_small') or β ('fixed_large') of that (possibly strided) step. Follows diffusers' DDPMScheduler.
 */
export class DDPMScheduler extends SchedulerBase {
  constructor(options: SchedulerOptions = {}) {
    super(resolveSchedulerConfig(options, 'ddpm'), 'ddpm');
  }

  /** Builds a scheduler from a diffusers `scheduler_config.json` object. */
  static fromConfig(config: unknown): DDPMScheduler {
    const c = parseDiffusersSchedulerConfig(config, 'ddpm');
    return new DDPMScheduler(c);
  }

  /** `n` spaced timesteps, or explicit descending timesteps (`{ timesteps: [...] }`, diffusers' custom timesteps). */
  override setTimesteps(steps: number | { timesteps: ArrayLike<number> }): void {
    if (typeof steps === 'number') {
      super.setTimesteps(steps);
      return;
    }
    if (typeof steps !== 'object' || steps === null || !('timesteps' in steps)) {
      throw new LdmError('INVALID_ARGUMENT', 'DDPM setTimesteps: pass a number of steps or { timesteps: number[] }');
    }
    this.useTimesteps(validateCustomTimesteps(steps.timesteps, this.config.numTrainTimesteps));
  }

  private alphaBarPrev(prevT: number): number {
    return prevT >= 0 ? (this.schedule.alphasCumprod[prevT] as number) : 1;
  }

  /** The variance of the step t → previous timestep (diffusers `_get_variance`; fixed_small clamped at 1e-20). */
  getVariance(t: number, prevT = this.previousTimestep(t)): number {
    const alphaBar = this.schedule.alphasCumprod[t] as number;
    const alphaBarPrev = this.alphaBarPrev(prevT);
    const beta = 1 - alphaBar / alphaBarPrev;
    if (this.config.varianceType === 'fixed_large') return beta;
    return Math.max(((1 - alphaBarPrev) / (1 - alphaBar)) * beta, 1e-20);
  }

  /**
   * One iteration of Algorithm 2 (Ho et al. 2020, "Denoising Diffusion Probabilistic Models"): x_t → x_{t'}.
   *
   * Notation (the paper's; diffusers' names in brackets):
   *   t, t'      this timestep and the one after it in `timesteps` (t' < t; t' = −1 after the last step). Looked
   *              up in the schedule, so strided and custom timesteps step to the right place.   [t, prev_t]
   *   ᾱ_t        alphasCumprod[t] = ∏_{s ≤ t} (1 − β_s); ᾱ_{t'} = 1 when t' = −1           [alpha_prod_t(_prev)]
   *   α, β       the step's own α = ᾱ_t / ᾱ_{t'} and β = 1 − α: the paper's α_t, β_t when t' = t − 1
   *                                                                                   [current_alpha_t, current_beta_t]
   *   x_t        `sample`; x̂₀ the model's estimate of x₀; z fresh N(0, I) noise    [sample, pred_original_sample]
   *
   * 1. x̂₀ from the model output: (x_t − √(1 − ᾱ_t)·ε_θ) / √ᾱ_t for ε (eq. 15), directly for x₀ or v;
   *    then clipped or thresholded as configured.
   * 2. The mean of q(x_{t'} | x_t, x̂₀) (eq. 7):  μ̃ = √ᾱ_{t'}·β / (1 − ᾱ_t) · x̂₀ + √α·(1 − ᾱ_{t'}) / (1 − ᾱ_t) · x_t.
   *    With x̂₀ from ε_θ (unclipped) this is eq. 11's μ_θ = (x_t − β/√(1 − ᾱ_t)·ε_θ) / √α.
   * 3. x_{t'} = μ̃ + σ·z (eq. 6; Algorithm 2, line 4), σ² = β̃ = (1 − ᾱ_{t'}) / (1 − ᾱ_t)·β ('fixed_small', eq. 7)
   *    or β ('fixed_large'); the last step (t = 0) adds no noise.
   */
  step(modelOutput: tf.Tensor, t: number, sample: tf.Tensor, options: StepOptions = {}): StepOutput {
    this.checkStepInputs(modelOutput, sample, options.noise);
    const prevT = this.previousTimestep(t);
    const alphaBar = this.schedule.alphasCumprod[t] as number;
    const alphaBarPrev = this.alphaBarPrev(prevT);
    const alpha = alphaBar / alphaBarPrev;
    const beta = 1 - alpha;
    return tf.tidy(() => {
      // 1. x̂₀ (eq. 15)
      const { x0 } = this.predictOriginal(modelOutput, sample, alphaBar);
      // 2. μ̃(x_t, x̂₀) (eq. 7)
      const coefX0 = (Math.sqrt(alphaBarPrev) * beta) / (1 - alphaBar);
      const coefXt = (Math.sqrt(alpha) * (1 - alphaBarPrev)) / (1 - alphaBar);
      const mean = tf.add(tf.mul(x0, coefX0), tf.mul(sample, coefXt));
      if (t === 0) return { prevSample: mean, predOriginalSample: x0 };
      // 3. x_{t'} = μ̃ + σ z (eq. 6)
      const noise = this.stepNoise(sample, options, `a step at t = ${t} > 0`);
      const prevSample = tf.add(mean, tf.mul(noise, Math.sqrt(this.getVariance(t, prevT))));
      return { prevSample, predOriginalSample: x0 };
    });
  }
}
