import * as tf from '@tensorflow/tfjs-core';
import { LdmError } from '@ldm/backend';
import type { PredictionType } from './config';
import { x0AndEpsToPrediction } from './prediction';
import type { Denoiser } from './sample';

/** A mixture of isotropic Gaussians in D dimensions: Σ_k w_k N(μ_k, σ_k² I). */
export interface GaussianMixture {
  weights: number[];
  /** K means of D values each. */
  means: number[][];
  /** σ_k², one per component. */
  variances: number[];
}

function validate(m: GaussianMixture): number {
  const k = m.weights.length;
  if (k === 0 || m.means.length !== k || m.variances.length !== k) {
    throw new LdmError(
      'INVALID_ARGUMENT',
      `gaussianMixture: weights (${k}), means (${m.means.length}) and variances (${m.variances.length}) must have the same non-zero length`,
    );
  }
  const d = m.means[0]?.length ?? 0;
  if (d === 0 || m.means.some((mu) => mu.length !== d))
    throw new LdmError('INVALID_ARGUMENT', 'gaussianMixture: every mean must have the same non-zero length D');
  if (m.weights.some((w) => !(w > 0)) || m.variances.some((v) => !(v >= 0))) {
    throw new LdmError('INVALID_ARGUMENT', 'gaussianMixture: weights must be > 0 and variances ≥ 0');
  }
  return d;
}

/**
 * The exact optimal denoiser for data from `mixture`: the noisy marginal p_t is the mixture with means √ᾱ μ_k and
 * variances ᾱσ_k² + (1 − ᾱ), so ε*(x_t, t) = −√(1−ᾱ)·∇log p_t(x_t) = √(1−ᾱ) Σ_k r_k(x_t)(x_t − √ᾱ μ_k)/s_k²
 * with responsibilities r_k. Returned as ε, x̂₀ (= E[x₀ | x_t], Tweedie) or v per `predictionType`.
 * Inputs are [B, …] with D values per element, flattened in row-major order.
 */
export function gaussianMixtureDenoiser(mixture: GaussianMixture, alphasCumprod: ArrayLike<number>, predictionType: PredictionType = 'epsilon'): Denoiser {
  const d = validate(mixture);
  const k = mixture.weights.length;
  const totalWeight = mixture.weights.reduce((a, b) => a + b, 0);
  const logWeights = mixture.weights.map((w) => Math.log(w / totalWeight));
  return (xt: tf.Tensor, t: number): tf.Tensor => {
    if (!Number.isInteger(t) || t < 0 || t >= alphasCumprod.length) {
      throw new LdmError('INVALID_ARGUMENT', `gaussianMixtureDenoiser: timestep ${t} is not an integer in [0, ${alphasCumprod.length - 1}]`);
    }
    const batch = xt.shape[0] ?? 1;
    if (xt.size !== batch * d) {
      throw new LdmError(
        'SHAPE_MISMATCH',
        `gaussianMixtureDenoiser: input of shape [${xt.shape.join(', ')}] has ${xt.size / batch} values per element; the mixture has D = ${d}`,
      );
    }
    const alphaBar = alphasCumprod[t] as number;
    const signal = Math.sqrt(alphaBar);
    const noiseStd = Math.sqrt(1 - alphaBar);
    const s2 = mixture.variances.map((v) => alphaBar * v + (1 - alphaBar));
    return tf.tidy(() => {
      const x = tf.reshape(xt, [batch, 1, d]);
      const m = tf.tensor3d(
        mixture.means.flat().map((v) => v * signal),
        [1, k, d],
      );
      const diff = tf.sub(x, m); // [B, K, D]
      const invS2 = tf.tensor3d(
        s2.map((v) => 1 / v),
        [1, k, 1],
      );
      const logNorm = tf.tensor2d(
        s2.map((v, i) => (logWeights[i] as number) - 0.5 * d * Math.log(v)),
        [1, k],
      );
      const sq = tf.sum(tf.square(diff), 2); // [B, K]
      const logits = tf.sub(logNorm, tf.mul(tf.mul(sq, tf.reshape(invS2, [1, k])), 0.5));
      const r = tf.softmax(logits, 1); // [B, K]
      const score = tf.sum(tf.mul(tf.expandDims(r, 2), tf.mul(diff, invS2)), 1); // [B, D] = −∇log p_t
      const eps = tf.reshape(tf.mul(score, noiseStd), xt.shape);
      if (predictionType === 'epsilon') return eps;
      // E[x₀ | x_t] = Σ_k r_k (μ_k + √ᾱ σ_k²/s_k² (x_t − √ᾱ μ_k)), formed directly so it stays finite at ᾱ = 0 (zero terminal SNR).
      const gain = tf.tensor3d(
        s2.map((v, i) => (signal * (mixture.variances[i] as number)) / v),
        [1, k, 1],
      );
      const mu = tf.tensor3d(mixture.means.flat(), [1, k, d]);
      const perComponent = tf.add(mu, tf.mul(diff, gain)); // [B, K, D]
      const x0 = tf.reshape(tf.sum(tf.mul(tf.expandDims(r, 2), perComponent), 1), xt.shape);
      return x0AndEpsToPrediction(predictionType, x0, eps, alphaBar);
    });
  };
}

/** The mixture's log-density log p(x) per element of x [B, …] (nats): for exact-likelihood comparisons. */
export function gaussianMixtureLogDensity(mixture: GaussianMixture, x: tf.Tensor): tf.Tensor {
  const d = validate(mixture);
  const k = mixture.weights.length;
  const totalWeight = mixture.weights.reduce((a, b) => a + b, 0);
  return tf.tidy(() => {
    const batch = x.shape[0] ?? 1;
    const diff = tf.sub(tf.reshape(x, [batch, 1, d]), tf.tensor3d(mixture.means.flat(), [1, k, d]));
    const sq = tf.sum(tf.square(diff), 2);
    const invVar = tf.tensor2d(
      mixture.variances.map((v) => 1 / v),
      [1, k],
    );
    const logNorm = tf.tensor2d(
      mixture.variances.map((v, i) => Math.log((mixture.weights[i] as number) / totalWeight) - 0.5 * d * Math.log(2 * Math.PI * v)),
      [1, k],
    );
    return tf.logSumExp(tf.sub(logNorm, tf.mul(tf.mul(sq, invVar), 0.5)), 1);
  });
}
