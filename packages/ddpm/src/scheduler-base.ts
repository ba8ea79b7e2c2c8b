import * as tf from '@tensorflow/tfjs-core';
import { LdmError, randn } from '@ldm/backend';
import type { Generator } from '@ldm/backend';
import type { SchedulerConfig, SchedulerKind } from './config';
import { toDiffusersSchedulerConfig } from './config';
import { assertSameShape } from './coefficients';
import type { Timesteps } from './coefficients';
import { addNoise } from './forward';
import { predictionToX0AndEps } from './prediction';
import { NoiseSchedule } from './schedule';
import { dynamicThreshold } from './thresholding';
import { spacedTimesteps } from './timesteps';

export interface StepOptions {
  /** DDIM's η (0: deterministic; 1: DDPM-like). Ignored by DDPM. */
  eta?: number;
  /** The fresh noise z of this step (same shape as the sample); takes precedence over `generator`. */
  noise?: tf.Tensor;
  /** Draws z with `randn` when `noise` is not given. */
  generator?: Generator;
}

/** What `step` returns; the caller owns (and disposes) both tensors. */
export interface StepOutput {
  prevSample: tf.Tensor;
  predOriginalSample: tf.Tensor;
}

/** The contract a sampling loop needs (diffusers' scheduler API). */
export interface Scheduler {
  readonly timesteps: readonly number[];
  readonly config: Readonly<SchedulerConfig>;
  readonly schedule: NoiseSchedule;
  step(modelOutput: tf.Tensor, t: number, sample: tf.Tensor, options?: StepOptions): StepOutput;
  addNoise(x0: tf.Tensor, noise: tf.Tensor, t: Timesteps): tf.Tensor;
}

/** What DDPM and DDIM share: config, schedule, inference timesteps and their look-up, x̂₀ post-processing. */
export abstract class SchedulerBase implements Scheduler {
  readonly config: Readonly<SchedulerConfig>;
  readonly schedule: NoiseSchedule;
  protected kind: SchedulerKind;
  private steps: number[];
  private indexOf = new Map<number, number>();

  protected constructor(config: SchedulerConfig, kind: SchedulerKind) {
    this.config = Object.freeze({ ...config });
    this.kind = kind;
    this.schedule = NoiseSchedule.fromOptions(config);
    // diffusers starts with every training timestep, descending, before set_timesteps is called.
    this.steps = [];
    this.useTimesteps(Array.from({ length: config.numTrainTimesteps }, (_, i) => config.numTrainTimesteps - 1 - i));
  }

  get timesteps(): readonly number[] {
    return this.steps;
  }

  get numInferenceSteps(): number {
    return this.steps.length;
  }

  get numTrainTimesteps(): number {
    return this.config.numTrainTimesteps;
  }

  /** diffusers' `scheduler_config.json` for this scheduler. */
  toConfig(): Record<string, unknown> {
    return toDiffusersSchedulerConfig(this.config as SchedulerConfig, this.kind);
  }

  /** Picks `numInferenceSteps` timesteps with the configured spacing and offset. */
  setTimesteps(numInferenceSteps: number): void {
    this.useTimesteps(spacedTimesteps(this.config.numTrainTimesteps, numInferenceSteps, this.config.timestepSpacing, this.config.stepsOffset));
  }

  protected useTimesteps(ts: number[]): void {
    this.steps = ts;
    this.indexOf = new Map(ts.map((t, i) => [t, i]));
  }

  /** The timestep after `t` in the schedule, −1 after the last (looked up, so every spacing is right). */
  previousTimestep(t: number): number {
    const i = this.indexOf.get(t);
    if (i === undefined) {
      const shown = this.steps.length > 12 ? `${this.steps.slice(0, 6).join(', ')}, …, ${this.steps.slice(-3).join(', ')}` : this.steps.join(', ');
      throw new LdmError(
        'INVALID_ARGUMENT',
        `${this.kind.toUpperCase()} step: timestep ${t} is not in the schedule [${shown}]; call setTimesteps and pass one of scheduler.timesteps`,
      );
    }
    return i + 1 < this.steps.length ? (this.steps[i + 1] as number) : -1;
  }

  addNoise(x0: tf.Tensor, noise: tf.Tensor, t: Timesteps): tf.Tensor {
    return addNoise(this.schedule, x0, noise, t);
  }

  abstract step(modelOutput: tf.Tensor, t: number, sample: tf.Tensor, options?: StepOptions): StepOutput;

  protected checkStepInputs(modelOutput: tf.Tensor, sample: tf.Tensor, noise: tf.Tensor | undefined): void {
    const what = `${this.kind.toUpperCase()} step`;
    assertSameShape(modelOutput, sample, what, 'modelOutput', 'sample');
    if (noise) assertSameShape(noise, sample, what, 'noise', 'sample');
  }

  /** x̂₀ and ε̂ from the model output, x̂₀ thresholded or clipped as configured. Call inside tf.tidy. */
  protected predictOriginal(modelOutput: tf.Tensor, sample: tf.Tensor, alphaBar: number): { x0: tf.Tensor; eps: tf.Tensor } {
    if (alphaBar <= 0 && this.config.predictionType === 'epsilon') {
      throw new LdmError(
        'NUMERICAL_ERROR',
        `${this.kind.toUpperCase()} step: ᾱ_t = 0 (zero terminal SNR) makes x̂₀ undefined for prediction_type "epsilon"; use "v_prediction" or "sample" with rescale_betas_zero_snr`,
      );
    }
    const { x0: raw, eps } = predictionToX0AndEps(this.config.predictionType, modelOutput, sample, alphaBar);
    // The caller owns what step returns, so never hand back its own model output tensor.
    const x0 = raw === modelOutput ? tf.clone(raw) : raw;
    const c = this.config;
    if (c.thresholding) return { x0: dynamicThreshold(x0, c.dynamicThresholdingRatio, c.sampleMaxValue), eps };
    if (c.clipSample) return { x0: tf.clipByValue(x0, -c.clipSampleRange, c.clipSampleRange), eps };
    return { x0, eps };
  }

  /** The step's fresh noise: the given tensor, or randn from the generator; an error names what is missing. */
  protected stepNoise(sample: tf.Tensor, options: StepOptions, why: string): tf.Tensor {
    if (options.noise) return options.noise;
    if (options.generator) return randn(sample.shape, options.generator);
    throw new LdmError(
      'INVALID_ARGUMENT',
      `${this.kind.toUpperCase()} step: ${why} needs fresh noise; pass options.noise (a tensor shaped like the sample) or options.generator`,
    );
  }
}
