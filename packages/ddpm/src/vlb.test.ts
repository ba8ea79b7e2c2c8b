import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Generator, initBackend } from '@ldm/backend';
import { gaussianMixtureDenoiser, gaussianMixtureLogDensity } from './gaussian-mixture';
import type { GaussianMixture } from './gaussian-mixture';
import { NoiseSchedule } from './schedule';
import { discretizedGaussianLogLikelihood } from '@ldm/nn';
import { variationalBound } from './vlb';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

const schedule = NoiseSchedule.fromOptions({ numTrainTimesteps: 1000, betaSchedule: 'linear', betaStart: 0.0001, betaEnd: 0.02 });

describe('discretized Gaussian decoder', () => {
  it('the 256 bin probabilities on [−1, 1] sum to 1 (edge bins open to ±∞)', () => {
    const grid = tf.linspace(-1, 1, 256);
    for (const [mean, logScale] of [
      [0.1, Math.log(0.05)],
      [-0.97, Math.log(0.01)],
      [0.5, Math.log(0.3)],
    ] as const) {
      const total = tf.tidy(() => tf.sum(tf.exp(discretizedGaussianLogLikelihood(grid, tf.fill([256], mean), logScale))).dataSync()[0] as number);
      expect(total).toBeCloseTo(1, 4);
    }
    grid.dispose();
  });
});

describe('variational bound with the exact denoiser', () => {
  const d = 4;
  const mu = 0.3;
  const sigma2 = 0.25;
  const gaussian: GaussianMixture = { weights: [1], means: [new Array<number>(d).fill(mu)], variances: [sigma2] };
  const denoiser = gaussianMixtureDenoiser(gaussian, schedule.alphasCumprod);
  let x0: tf.Tensor;
  beforeAll(() => {
    const g = new Generator(5);
    x0 = tf.tidy(() => tf.add(tf.mul(tf.tensor(g.normal(256 * d), [256, d]), Math.sqrt(sigma2)), mu));
  });

  /**
   * The expected bound in closed form for N(μ, σ²) data and the exact ε* (so μ_θ uses E[x₀ | x_t]): the KL terms are
   * ½(log σ_p²/β̃ + β̃/σ_p² − 1) + c₀²·Var(x₀ | x_t)/(2σ_p²) with Var(x₀ | x_t) = σ²(1−ᾱ)/(ᾱσ² + 1 − ᾱ). Nats per dim.
   */
  function expectedBoundNats(varianceType: 'fixed_small' | 'fixed_large'): { total: number; prior: number; decoder: number } {
    const ac = schedule.alphasCumprod;
    const T = schedule.numTrainTimesteps;
    const posteriorVar = (t: number): number => (sigma2 * (1 - (ac[t] as number))) / ((ac[t] as number) * sigma2 + 1 - (ac[t] as number));
    const aT = ac[T - 1] as number;
    const prior = 0.5 * (-1 - Math.log(1 - aT) + (1 - aT) + aT * (mu * mu + sigma2));
    const decVar = Math.exp(schedule.posteriorLogVarianceClipped[0] as number);
    const decoder = 0.5 * Math.log(2 * Math.PI * decVar) + posteriorVar(0) / (2 * decVar);
    let total = prior + decoder;
    for (let t = 1; t < T; t++) {
      const q = schedule.posteriorVariance[t] as number;
      const p = varianceType === 'fixed_small' ? q : (schedule.betas[t] as number);
      const c0 = schedule.posteriorMeanCoefX0[t] as number;
      total += 0.5 * (Math.log(p / q) + q / p - 1) + (c0 * c0 * posteriorVar(t)) / (2 * p);
    }
    return { total, prior, decoder };
  }

  it('Gaussian data, continuous decoder, all T terms: matches the closed-form expected bound, which is above the exact NLL', () => {
    const exactNats = 0.5 * Math.log(2 * Math.PI * Math.E * sigma2);
    const sampleNats = tf.tidy(() => -(tf.mean(gaussianMixtureLogDensity(gaussian, x0)).dataSync()[0] as number) / d);
    const rows: string[] = [];
    for (const varianceType of ['fixed_small', 'fixed_large'] as const) {
      const before = tf.memory().numTensors;
      const result = variationalBound({ denoiser, schedule, predictionType: 'epsilon', x0, seed: 1, decoder: 'gaussian', varianceType });
      expect(tf.memory().numTensors).toBe(before);
      const boundNats = result.bitsPerDim * Math.LN2;
      const expected = expectedBoundNats(varianceType);
      rows.push(
        `VLB ${varianceType} (N(${mu}, ${sigma2}) data, continuous decoder, T=1000, B=256×${d}): Monte Carlo ${boundNats.toFixed(4)} nats/dim, closed form ${expected.total.toFixed(4)}, exact NLL ${exactNats.toFixed(4)} (this batch ${sampleNats.toFixed(4)}), gap ${(expected.total - exactNats).toFixed(4)} nats/dim = ${((expected.total - exactNats) / Math.LN2).toFixed(4)} bits/dim`,
      );
      expect(result.perTimestep.t.length).toBe(999);
      expect(result.perExample.length).toBe(256);
      const sum = result.prior + result.decoder + result.perTimestep.bitsPerDim.reduce((a, b) => a + b, 0);
      expect(sum).toBeCloseTo(result.bitsPerDim, 6);
      expect(result.prior * Math.LN2).toBeCloseTo(expected.prior, 4);
      // Monte Carlo over x₀ and x_t: relative agreement to a few percent of the data-dependent part.
      expect(Math.abs(boundNats - expected.total)).toBeLessThan(0.05 * Math.abs(expected.total) + 0.05);
      expect(expected.total).toBeGreaterThan(exactNats);
      expect(boundNats).toBeGreaterThan(sampleNats);
    }
    console.log(rows.join('\n'));
    // A worse denoiser (ε* for the wrong variance) must give a larger bound.
    const best = variationalBound({ denoiser, schedule, predictionType: 'epsilon', x0, seed: 1, decoder: 'gaussian', timesteps: { count: 100 } });
    const wrong = gaussianMixtureDenoiser({ ...gaussian, variances: [1] }, schedule.alphasCumprod);
    const worse = variationalBound({ denoiser: wrong, schedule, predictionType: 'epsilon', x0, seed: 1, decoder: 'gaussian', timesteps: { count: 100 } });
    expect(worse.bitsPerDim).toBeGreaterThan(best.bitsPerDim + 0.05);
  });

  it('a subset of 100 timesteps estimates the full sum (stratified: log-spaced strata; uniform: printed only)', () => {
    const expected = expectedBoundNats('fixed_small').total / Math.LN2;
    for (const strategy of ['stratified', 'uniform'] as const) {
      const est = variationalBound({ denoiser, schedule, predictionType: 'epsilon', x0, seed: 2, decoder: 'gaussian', timesteps: { count: 100, strategy } });
      expect(est.perTimestep.t.length).toBe(100);
      expect(est.perTimestep.weight.reduce((a, b) => a + b, 0)).toBeCloseTo(999, 9);
      console.log(`VLB with 100 ${strategy} timesteps: ${est.bitsPerDim.toFixed(4)} bits/dim vs closed form over all 999: ${expected.toFixed(4)}`);
      if (strategy === 'stratified') expect(Math.abs(est.bitsPerDim - expected)).toBeLessThan(0.05 * Math.abs(expected) + 0.05);
    }
    expect(() => variationalBound({ denoiser, schedule, predictionType: 'epsilon', x0, timesteps: { count: 0 } })).toThrow(/count/);
  });

  it('discretized decoder on 8-bit data in [−1, 1]: L0 is a −log probability (≥ 0), prediction types agree', () => {
    const quantized = tf.tidy(() => tf.sub(tf.div(tf.round(tf.mul(tf.add(tf.clipByValue(x0, -1, 1), 1), 127.5)), 127.5), 1));
    const eps = variationalBound({ denoiser, schedule, predictionType: 'epsilon', x0: quantized, seed: 3, timesteps: { count: 100 } });
    const v = variationalBound({
      denoiser: gaussianMixtureDenoiser(gaussian, schedule.alphasCumprod, 'v_prediction'),
      schedule,
      predictionType: 'v_prediction',
      x0: quantized,
      seed: 3,
      timesteps: { count: 100 },
    });
    console.log(`VLB discretized decoder (8-bit Gaussian-ish data): ${eps.bitsPerDim.toFixed(4)} bits/dim, L0 ${eps.decoder.toFixed(4)}`);
    expect(eps.decoder).toBeGreaterThanOrEqual(0);
    expect(eps.bitsPerDim).toBeGreaterThan(0);
    expect(v.bitsPerDim).toBeCloseTo(eps.bitsPerDim, 2);
    quantized.dispose();
  });
});
