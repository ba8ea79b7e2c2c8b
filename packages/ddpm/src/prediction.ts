import * as tf from '@tensorflow/tfjs-core';
import type { PredictionType } from './config';

/**
 * Reads a model output as (x̂₀, ε̂) at a noise level ᾱ (a host number: one timestep for the whole batch).
 * epsilon: x̂₀ = (x − √(1−ᾱ)·out)/√ᾱ; v: x̂₀ = √ᾱ·x − √(1−ᾱ)·out, ε̂ = √ᾱ·out + √(1−ᾱ)·x; sample: ε̂ = (x − √ᾱ·x̂₀)/√(1−ᾱ).
 * Call inside tf.tidy.
 */
export function predictionToX0AndEps(
  predictionType: PredictionType,
  modelOutput: tf.Tensor,
  sample: tf.Tensor,
  alphaBar: number,
): { x0: tf.Tensor; eps: tf.Tensor } {
  const a = Math.sqrt(alphaBar);
  const s = Math.sqrt(1 - alphaBar);
  switch (predictionType) {
    case 'epsilon':
      return { x0: tf.mul(tf.sub(sample, tf.mul(modelOutput, s)), 1 / a), eps: modelOutput };
    case 'sample':
      return { x0: modelOutput, eps: tf.mul(tf.sub(sample, tf.mul(modelOutput, a)), 1 / s) };
    case 'v_prediction':
      return { x0: tf.sub(tf.mul(sample, a), tf.mul(modelOutput, s)), eps: tf.add(tf.mul(modelOutput, a), tf.mul(sample, s)) };
  }
}

/** The prediction type's output for a known (x₀, ε) at noise level ᾱ: what an exact denoiser returns. Call inside tf.tidy. */
export function x0AndEpsToPrediction(predictionType: PredictionType, x0: tf.Tensor, eps: tf.Tensor, alphaBar: number): tf.Tensor {
  switch (predictionType) {
    case 'epsilon':
      return eps;
    case 'sample':
      return x0;
    case 'v_prediction':
      return tf.sub(tf.mul(eps, Math.sqrt(alphaBar)), tf.mul(x0, Math.sqrt(1 - alphaBar)));
  }
}
