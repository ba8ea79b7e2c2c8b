import * as tf from '@tensorflow/tfjs-core';
import { LdmError } from '@ldm/backend';
import { toTensor } from '@ldm/nn';
import type { TrainableModel, TrainingLoss } from '@ldm/nn';
import { resolveSchedulerConfig } from './config';
import type { PredictionType, SchedulerOptions } from './config';
import { assertSameShape, coefficientAt } from './coefficients';
import type { Timesteps } from './coefficients';
import { addNoise, trainingTarget } from './forward';
import { NoiseSchedule } from './schedule';

/**
 * Min-SNR-γ loss weights (Hang et al. 2023; diffusers' train_text_to_image, lucidrains): min(SNR, γ)/SNR for ε,
 * min(SNR, γ) for x₀, min(SNR, γ)/(SNR + 1) for v. They make every prediction type weigh x₀ errors by min(SNR, γ).
 */
export function minSnrWeights(schedule: NoiseSchedule, predictionType: PredictionType, gamma: number): Float64Array {
  if (!(gamma > 0)) throw new LdmError('INVALID_ARGUMENT', `minSnrGamma must be a positive number, got ${gamma}`);
  return schedule.snr.map((snr) => {
    const clipped = Math.min(snr, gamma);
    switch (predictionType) {
      case 'epsilon':
        return clipped / snr;
      case 'sample':
        return clipped;
      case 'v_prediction':
        return clipped / (snr + 1);
    }
  });
}

export interface DiffusionLossOptions {
  prediction: tf.Tensor;
  target: tf.Tensor;
  /** Per-element timesteps; needed only for Min-SNR weighting. */
  t?: Timesteps;
  schedule?: NoiseSchedule;
  predictionType?: PredictionType;
  /** Min-SNR-γ weighting (γ = 5 in the paper); off when undefined. */
  minSnrGamma?: number;
}

/** Mean over the batch of the (optionally Min-SNR-weighted) per-element mean squared error ‖target − prediction‖²/D. A scalar. */
export function diffusionLoss(options: DiffusionLossOptions): tf.Scalar {
  const { prediction, target, minSnrGamma } = options;
  assertSameShape(prediction, target, 'diffusionLoss', 'prediction', 'target');
  return tf.tidy(() => {
    const batch = prediction.shape[0] ?? 1;
    const perElement = tf.mean(tf.reshape(tf.squaredDifference(prediction, target), [batch, -1]), 1);
    if (minSnrGamma === undefined) return tf.mean(perElement);
    const { schedule, predictionType, t } = options;
    if (!schedule || !predictionType || t === undefined) {
      throw new LdmError('INVALID_ARGUMENT', 'diffusionLoss: minSnrGamma needs schedule, predictionType and t');
    }
    const w = coefficientAt(minSnrWeights(schedule, predictionType, minSnrGamma), t, batch, 1, 'diffusionLoss');
    return tf.mean(tf.mul(perElement, w));
  }) as tf.Scalar;
}

/** The network a DDPM trains: ε_θ(x_t, t) (or x̂₀, or v, per the prediction type). A UNet2DModel fits. */
export interface DenoisingModel extends TrainableModel {
  forward(sample: tf.Tensor4D, timesteps: tf.Tensor1D): tf.Tensor4D;
}

/** What `ddpmLoss` needs (plain JSON, so a data-parallel worker can rebuild the same loss). */
export interface DdpmLossConfig {
  /** The noise schedule and prediction type (diffusers' DDPMScheduler options, camelCase). */
  scheduler: SchedulerOptions;
  /** Min-SNR-γ loss weighting; off when undefined. */
  minSnrGamma?: number;
}

/**
 * The loss of Algorithm 1, once for every caller: for a batch {x0, t, noise} it forms
 * x_t = √ᾱ_t·x₀ + √(1 − ᾱ_t)·ε (q(x_t | x₀), `addNoise`) and returns ‖target − model(x_t, t)‖² averaged over
 * the batch, where the target is ε for the ε-loss (x₀ or v for the other prediction types).
 */
export function ddpmLoss(config: DdpmLossConfig): TrainingLoss<DenoisingModel> {
  const scheduler = resolveSchedulerConfig(config.scheduler, 'ddpm');
  const schedule = NoiseSchedule.fromOptions(scheduler);
  const { predictionType } = scheduler;
  return {
    recipe: { module: import.meta.url, export: 'ddpmLoss', config },
    compute(model, batch) {
      const x0 = toTensor(batch.x0!) as tf.Tensor4D;
      const noise = toTensor(batch.noise!) as tf.Tensor4D;
      const t = batch.t!.data as Int32Array;
      const xt = addNoise(schedule, x0, noise, t) as tf.Tensor4D;
      const target = trainingTarget(schedule, predictionType, x0, noise, t);
      const prediction = model.forward(xt, tf.tensor1d(t, 'int32'));
      const minSnr = config.minSnrGamma !== undefined ? { minSnrGamma: config.minSnrGamma } : {};
      return { loss: diffusionLoss({ prediction, target, t, schedule, predictionType, ...minSnr }) };
    },
  };
}
