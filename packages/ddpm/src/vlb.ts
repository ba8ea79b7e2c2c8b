import * as tf from '@tensorflow/tfjs-core';
import { Generator, LdmError, randn } from '@ldm/backend';
import { discretizedGaussianLogLikelihood } from '@ldm/nn';
import type { PredictionType, VarianceType } from './config';
import { addNoise } from './forward';
import { predictionToX0AndEps } from './prediction';
import type { Denoiser } from './sample';
import type { NoiseSchedule } from './schedule';

/** How the reconstruction term −log p(x₀ | x₁) is scored. */
export type VlbDecoder = 'discretized' | 'gaussian';

export interface VlbOptions {
  denoiser: Denoiser;
  schedule: NoiseSchedule;
  predictionType: PredictionType;
  /** Data [B, …]; for the discretized decoder, values in [−1, 1] on a 256-level grid. */
  x0: tf.Tensor;
  generator?: Generator;
  seed?: number;
  /** Reverse-process variance: β̃_t ('fixed_small') or β_t ('fixed_large'); at t = 0 both use β̃₁ (Ho et al.). */
  varianceType?: VarianceType;
  /**
   * 'discretized' (default): Ho et al.'s decoder, the probability mass of the 1/127.5-wide bin around x₀ (images in
   * [−1, 1] with 256 levels; the edge bins extend to ±∞). 'gaussian': the continuous density N(x₀; μ_θ, σ₁²),
   * which gives a bound on a continuous negative log-density instead.
   */
  decoder?: VlbDecoder;
  /** Clip x̂₀ to [−1, 1] before forming the reverse mean (image models). */
  clipDenoised?: boolean;
  /**
   * 'all' (default): every one of the T terms. `{ count, strategy }`: an unbiased estimate of Σ_{t≥1} L_t from `count`
   * timesteps: 'stratified' picks one uniformly in each of `count` log-spaced strata of 1 … T−1 (weighted by the
   * stratum's size), 'uniform' draws with replacement. L_0 and the prior are always exact.
   */
  timesteps?: 'all' | { count: number; strategy?: 'stratified' | 'uniform' };
}

export interface VlbResult {
  /** The bound in bits per dimension, batch mean. */
  bitsPerDim: number;
  /** The bound per example, bits/dim. */
  perExample: Float64Array;
  /** L_T = KL(q(x_T | x₀) ‖ N(0, I)), bits/dim (batch mean). */
  prior: number;
  /** L_0 = −log p(x₀ | x₁), bits/dim (batch mean). */
  decoder: number;
  /** The timesteps evaluated (1 … T−1 or the subset) with each term L_t in bits/dim (batch mean) and its weight in the sum. */
  perTimestep: { t: number[]; bitsPerDim: Float64Array; weight: Float64Array };
}

const LOG2 = Math.LN2;

function pickTimesteps(T: number, spec: VlbOptions['timesteps'], generator: Generator): { t: number[]; weight: number[] } {
  const all = Array.from({ length: T - 1 }, (_, i) => i + 1);
  if (spec === undefined || spec === 'all') return { t: all, weight: all.map(() => 1) };
  const { count, strategy = 'stratified' } = spec;
  if (!Number.isInteger(count) || count < 1 || count > T - 1) {
    throw new LdmError('INVALID_ARGUMENT', `variationalBound: timesteps.count must be an integer in [1, ${T - 1}], got ${count}`);
  }
  const u = generator.uniform(count);
  if (strategy === 'uniform') {
    return { t: Array.from(u, (v) => 1 + Math.min(Math.floor(v * (T - 1)), T - 2)), weight: new Array<number>(count).fill((T - 1) / count) };
  }
  if (strategy !== 'stratified')
    throw new LdmError('INVALID_ARGUMENT', `variationalBound: timesteps.strategy must be "stratified" or "uniform", got "${String(strategy)}"`);
  // Strata are log-spaced in t: the terms fall roughly like 1/t² at small t (where β̃_t ≪ the data variance), so
  // the first strata are single timesteps evaluated exactly and the wide, flat tail is sampled.
  const bounds = [1];
  for (let k = 1; k < count; k++) {
    const remaining = count - k;
    const geometric = Math.floor(Math.exp((k / count) * Math.log(T)));
    bounds.push(Math.min(Math.max((bounds[k - 1] as number) + 1, geometric), T - remaining));
  }
  bounds.push(T);
  const t: number[] = [];
  const weight: number[] = [];
  for (let k = 0; k < count; k++) {
    const lo = bounds[k] as number;
    const hi = bounds[k + 1] as number; // exclusive
    t.push(lo + Math.min(Math.floor((u[k] as number) * (hi - lo)), hi - lo - 1));
    weight.push(hi - lo);
  }
  return { t, weight };
}

/**
 * The variational bound on −log p(x₀) of Ho et al. 2020 (eq. 5): L_T + Σ_{t>1} L_{t−1} + L_0, each L_{t−1} the KL
 * between Gaussians q(x_{t−1} | x_t, x₀) and p_θ(x_{t−1} | x_t), with one x_t ~ q(x_t | x₀) per term and example.
 * Returned in bits per dimension. Reads back to the host once, at the end.
 */
export function variationalBound(options: VlbOptions): VlbResult {
  const { denoiser, schedule, predictionType, x0, clipDenoised = false, decoder = 'discretized', varianceType = 'fixed_small' } = options;
  if (options.generator !== undefined && options.seed !== undefined)
    throw new LdmError('INVALID_ARGUMENT', 'variationalBound: pass either generator or seed, not both');
  const generator = options.generator ?? new Generator(options.seed ?? 0);
  const T = schedule.numTrainTimesteps;
  if (T < 2) throw new LdmError('INVALID_ARGUMENT', 'variationalBound: needs at least 2 timesteps');
  const batch = x0.shape[0] ?? 1;
  const dims = x0.size / batch;
  const ac = schedule.alphasCumprod;
  const modelLogVar = (t: number): number =>
    t === 0 || varianceType === 'fixed_small' ? (schedule.posteriorLogVarianceClipped[t] as number) : Math.log(schedule.betas[t] as number);

  /** The means of q(x_{t−1} | x_t, x₀) and p_θ(x_{t−1} | x_t) (shape of x₀), with a fresh x_t ~ q(x_t | x₀). */
  const reverseMeans = (t: number): { xt: tf.Tensor; modelMean: tf.Tensor; trueMean: tf.Tensor } => {
    const a = ac[t] as number;
    const xt = addNoise(schedule, x0, randn(x0.shape, generator), t);
    const out = denoiser(xt, t);
    let { x0: x0hat } = predictionToX0AndEps(predictionType, out, xt, a);
    if (clipDenoised) x0hat = tf.clipByValue(x0hat, -1, 1);
    const c0 = schedule.posteriorMeanCoefX0[t] as number;
    const ct = schedule.posteriorMeanCoefXt[t] as number;
    return {
      xt,
      modelMean: tf.add(tf.mul(x0hat, c0), tf.mul(xt, ct)),
      trueMean: tf.add(tf.mul(x0, c0), tf.mul(xt, ct)),
    };
  };
  /** Sum over every dimension but the batch: [B]. */
  const perExampleSum = (x: tf.Tensor): tf.Tensor => tf.sum(tf.reshape(x, [batch, -1]), 1);

  const { t: ts, weight } = pickTimesteps(T, options.timesteps, generator);
  const terms: tf.Tensor[] = [];
  try {
    // Prior L_T: KL(N(√ᾱ_T x₀, 1 − ᾱ_T) ‖ N(0, 1)) per dim.
    terms.push(
      tf.tidy(() => {
        const aT = ac[T - 1] as number;
        const meanSq = tf.mul(tf.square(x0), aT);
        return perExampleSum(tf.mul(tf.add(meanSq, -1 - Math.log(1 - aT) + (1 - aT)), 0.5));
      }),
    );
    // Decoder L_0.
    terms.push(
      tf.tidy(() => {
        const { modelMean } = reverseMeans(0);
        const logVar = modelLogVar(0);
        if (decoder === 'discretized') return tf.neg(perExampleSum(discretizedGaussianLogLikelihood(x0, modelMean, 0.5 * logVar)));
        const sq = tf.squaredDifference(x0, modelMean);
        return perExampleSum(tf.add(tf.mul(sq, 0.5 * Math.exp(-logVar)), 0.5 * (Math.log(2 * Math.PI) + logVar)));
      }),
    );
    for (const t of ts) {
      terms.push(
        tf.tidy(() => {
          const { modelMean, trueMean } = reverseMeans(t);
          const logVarQ = Math.log(schedule.posteriorVariance[t] as number);
          const logVarP = modelLogVar(t);
          const constant = 0.5 * (-1 + logVarP - logVarQ + Math.exp(logVarQ - logVarP));
          return perExampleSum(tf.add(tf.mul(tf.squaredDifference(trueMean, modelMean), 0.5 * Math.exp(-logVarP)), constant));
        }),
      );
    }
    const stacked = tf.stack(terms); // [2 + n, B], nats summed over dims
    const values = stacked.dataSync();
    stacked.dispose();
    const toBpd = 1 / (dims * LOG2);
    const perExample = new Float64Array(batch);
    const termMean = (row: number): number => {
      let s = 0;
      for (let b = 0; b < batch; b++) s += values[row * batch + b] as number;
      return (s / batch) * toBpd;
    };
    for (let row = 0; row < terms.length; row++) {
      const w = row < 2 ? 1 : (weight[row - 2] as number);
      for (let b = 0; b < batch; b++) perExample[b] = (perExample[b] as number) + w * (values[row * batch + b] as number) * toBpd;
    }
    const bitsPerDim = perExample.reduce((a, b) => a + b, 0) / batch;
    if (!Number.isFinite(bitsPerDim))
      throw new LdmError('NUMERICAL_ERROR', `variationalBound: the bound is ${bitsPerDim}; check the denoiser output and the data range`);
    return {
      bitsPerDim,
      perExample,
      prior: termMean(0),
      decoder: termMean(1),
      perTimestep: { t: ts, bitsPerDim: Float64Array.from(ts, (_, i) => termMean(i + 2)), weight: Float64Array.from(weight) },
    };
  } finally {
    for (const term of terms) term.dispose();
  }
}
