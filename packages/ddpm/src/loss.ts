import * as tf from '@tensorflow/tfjs-core';
import { LdmError } from '@ldm/backend';
import type { PredictionType } from './config';
import { assertSameShape, coefficientAt } from './coefficients';
import type { Timesteps } from './coefficients';
import type { NoiseSchedule } from './schedule';

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
