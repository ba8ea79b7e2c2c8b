import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Generator, initBackend } from '@ldm/backend';
import { fitDiagonalGmm, sampleDiagonalGmm } from './diagonal-gmm';
import { fitPcaGaussian, samplePcaGaussian } from './pca-gaussian';

beforeAll(async () => {
  await initBackend({ backend: 'cpu' });
});

/** Random orthonormal rows [r, dim] (Gram–Schmidt of Gaussian rows). */
function orthonormalRows(r: number, dim: number, g: Generator): Float64Array {
  const v = Float64Array.from(g.normal(r * dim));
  for (let i = 0; i < r; i++) {
    for (let j = 0; j < i; j++) {
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += v[i * dim + d]! * v[j * dim + d]!;
      for (let d = 0; d < dim; d++) v[i * dim + d]! -= dot * v[j * dim + d]!;
    }
    let norm = 0;
    for (let d = 0; d < dim; d++) norm += v[i * dim + d]! ** 2;
    for (let d = 0; d < dim; d++) v[i * dim + d]! /= Math.sqrt(norm);
  }
  return v;
}

/** x = mean + Σ_i sqrt(λ_i) z_i u_i + σ ε: covariance U diag(λ) Uᵀ + σ² I. */
function plantedLowRank(n: number, dim: number, lambdas: number[], noiseStd: number, g: Generator) {
  const r = lambdas.length;
  const u = orthonormalRows(r, dim, g);
  const mean = Float64Array.from(g.normal(dim), (v) => 0.1 * v);
  const z = g.normal(n * r);
  const e = g.normal(n * dim);
  const x = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dim; d++) {
      let s = mean[d]! + noiseStd * e[i * dim + d]!;
      for (let c = 0; c < r; c++) s += Math.sqrt(lambdas[c]!) * z[i * r + c]! * u[c * dim + d]!;
      x[i * dim + d] = s;
    }
  }
  return { x, u, mean };
}

/** Variance of the rows of x [n, dim] projected on unit vector v. */
function varianceAlong(x: Float32Array, n: number, dim: number, v: ArrayLike<number>): number {
  const p = new Float64Array(n);
  let m = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += x[i * dim + d]! * v[d]!;
    p[i] = s;
    m += s;
  }
  m /= n;
  let v2 = 0;
  for (const s of p) v2 += (s - m) ** 2;
  return v2 / (n - 1);
}

describe('fitPcaGaussian', () => {
  const n = 3000;
  const dim = 96;
  const lambdas = [0.04, 0.02, 0.01, 0.005];
  const noiseStd = 0.01;

  it('recovers the planted top directions and variances; the basis is orthonormal', () => {
    const { x, u } = plantedLowRank(n, dim, lambdas, noiseStd, new Generator(1));
    const before = tf.memory().numTensors;
    const fit = fitPcaGaussian(x, n, dim, 4, new Generator(2));
    expect(tf.memory().numTensors).toBe(before);
    expect(fit.basis.length).toBe(4 * dim);
    // Orthonormal rows.
    for (let a = 0; a < 4; a++) {
      for (let b = 0; b < 4; b++) {
        let dot = 0;
        for (let d = 0; d < dim; d++) dot += fit.basis[a * dim + d]! * fit.basis[b * dim + d]!;
        expect(dot).toBeCloseTo(a === b ? 1 : 0, 4);
      }
    }
    // Each planted direction lies in the fitted span, and each fitted row matches its planted row up to sign.
    for (let c = 0; c < 4; c++) {
      let inSpan = 0;
      for (let a = 0; a < 4; a++) {
        let dot = 0;
        for (let d = 0; d < dim; d++) dot += u[c * dim + d]! * fit.basis[a * dim + d]!;
        inSpan += dot * dot;
        if (a === c) expect(Math.abs(dot)).toBeGreaterThan(0.97);
      }
      expect(inSpan).toBeGreaterThan(0.98);
      // Eigenvalue = λ + σ², within sampling error (√(2/n) ≈ 2.6% relative).
      const expected = lambdas[c]! + noiseStd ** 2;
      expect(Math.abs(fit.variances[c]! - expected) / expected).toBeLessThan(0.1);
    }
    // The residual is the isotropic noise.
    expect(fit.residualVariance).toBeGreaterThan(0.8 * noiseStd ** 2);
    expect(fit.residualVariance).toBeLessThan(1.2 * noiseStd ** 2);
  });

  it('samples have the fitted mean and variance along each basis row, are clipped, and are seeded', () => {
    const { x } = plantedLowRank(n, dim, lambdas, noiseStd, new Generator(3));
    const fit = fitPcaGaussian(x, n, dim, 4, new Generator(4));
    const count = 4000;
    const s = samplePcaGaussian(fit, count, new Generator(5), { clip: false });
    expect(s.length).toBe(count * dim);
    for (let c = 0; c < 4; c++) {
      const v = varianceAlong(s, count, dim, fit.basis.subarray(c * dim, (c + 1) * dim));
      expect(Math.abs(v - fit.variances[c]!) / fit.variances[c]!).toBeLessThan(0.1);
    }
    let maxMeanErr = 0;
    for (let d = 0; d < dim; d++) {
      let m = 0;
      for (let i = 0; i < count; i++) m += s[i * dim + d]!;
      maxMeanErr = Math.max(maxMeanErr, Math.abs(m / count - fit.mean[d]!));
    }
    expect(maxMeanErr).toBeLessThan(0.02);
    // Without residual noise the samples lie in the affine span of the basis.
    const withNoise = samplePcaGaussian(fit, count, new Generator(5), { clip: false, residualNoise: true });
    const offBasis = (arr: Float32Array): number => {
      let total = 0;
      for (let i = 0; i < 50; i++) {
        const r = Float64Array.from(arr.subarray(i * dim, (i + 1) * dim), (v, d) => v - fit.mean[d]!);
        for (let c = 0; c < 4; c++) {
          let dot = 0;
          for (let d = 0; d < dim; d++) dot += r[d]! * fit.basis[c * dim + d]!;
          for (let d = 0; d < dim; d++) r[d]! -= dot * fit.basis[c * dim + d]!;
        }
        for (const v of r) total += v * v;
      }
      return total / (50 * (dim - 4));
    };
    expect(offBasis(s)).toBeLessThan(1e-8);
    expect(offBasis(withNoise) / fit.residualVariance).toBeGreaterThan(0.8);
    expect(offBasis(withNoise) / fit.residualVariance).toBeLessThan(1.2);
    // Clipping to the pixel range, and seeded reproducibility.
    const wide = { ...fit, variances: fit.variances.map((v) => v * 1e4) };
    const clipped = samplePcaGaussian(wide, 200, new Generator(6));
    expect(Math.max(...clipped)).toBeLessThanOrEqual(1);
    expect(Math.min(...clipped)).toBeGreaterThanOrEqual(-1);
    expect(samplePcaGaussian(fit, 10, new Generator(9))).toEqual(samplePcaGaussian(fit, 10, new Generator(9)));
    expect(fitPcaGaussian(x, n, dim, 4, new Generator(7)).basis).toEqual(fitPcaGaussian(x, n, dim, 4, new Generator(7)).basis);
  });
});

describe('fitDiagonalGmm', () => {
  const dim = 4;
  const trueWeights = [0.5, 0.3, 0.2];
  const trueMeans = [
    [0, 0, 0, 0],
    [6, -6, 6, 0],
    [-6, 6, 0, 6],
  ];
  const trueStd = [
    [0.5, 1, 0.3, 0.8],
    [1, 0.4, 0.6, 0.5],
    [0.7, 0.7, 1.2, 0.3],
  ];

  function mixtureSample(n: number, g: Generator): Float32Array {
    const u = g.uniform(n);
    const z = g.normal(n * dim);
    const x = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) {
      const c = u[i]! < 0.5 ? 0 : u[i]! < 0.8 ? 1 : 2;
      for (let d = 0; d < dim; d++) x[i * dim + d] = trueMeans[c]![d]! + trueStd[c]![d]! * z[i * dim + d]!;
    }
    return x;
  }

  function nearestTrue(point: ArrayLike<number>, offset: number): number {
    let best = 0;
    let bestD = Infinity;
    for (let c = 0; c < 3; c++) {
      let d2 = 0;
      for (let d = 0; d < dim; d++) d2 += (point[offset + d]! - trueMeans[c]![d]!) ** 2;
      if (d2 < bestD) {
        bestD = d2;
        best = c;
      }
    }
    return best;
  }

  it('recovers the means, variances and weights of a well-separated mixture; the log-likelihood never decreases', () => {
    const n = 3000;
    const x = mixtureSample(n, new Generator(11));
    const fit = fitDiagonalGmm(x, n, dim, { components: 3, iterations: 30, generator: new Generator(12) });
    expect(fit.logLikelihood).toHaveLength(30);
    for (let i = 1; i < fit.logLikelihood.length; i++) expect(fit.logLikelihood[i]!).toBeGreaterThanOrEqual(fit.logLikelihood[i - 1]! - 1e-9);
    const matched = new Set<number>();
    for (let c = 0; c < 3; c++) {
      const t = nearestTrue(fit.means, c * dim);
      matched.add(t);
      for (let d = 0; d < dim; d++) {
        expect(Math.abs(fit.means[c * dim + d]! - trueMeans[t]![d]!)).toBeLessThan(0.1);
        expect(Math.sqrt(fit.variances[c * dim + d]!) / trueStd[t]![d]!).toBeGreaterThan(0.9);
        expect(Math.sqrt(fit.variances[c * dim + d]!) / trueStd[t]![d]!).toBeLessThan(1.1);
      }
      expect(Math.abs(fit.weights[c]! - trueWeights[t]!)).toBeLessThan(0.04);
    }
    expect(matched.size).toBe(3);
  });

  it('sampling reproduces the weights within statistical error, floors variances, and is seeded', () => {
    const n = 2000;
    const x = mixtureSample(n, new Generator(21));
    const fit = fitDiagonalGmm(x, n, dim, { components: 3, iterations: 20, generator: new Generator(22) });
    const count = 20000;
    const s = sampleDiagonalGmm(fit, count, new Generator(23));
    const counts = [0, 0, 0];
    for (let i = 0; i < count; i++) counts[nearestTrue(s, i * dim)]!++;
    for (let c = 0; c < 3; c++) {
      const t = nearestTrue(fit.means, c * dim);
      const w = fit.weights[c]!;
      const se = Math.sqrt((w * (1 - w)) / count);
      expect(Math.abs(counts[t]! / count - w)).toBeLessThan(4 * se);
    }
    expect(sampleDiagonalGmm(fit, 5, new Generator(1))).toEqual(sampleDiagonalGmm(fit, 5, new Generator(1)));
    const again = fitDiagonalGmm(x, n, dim, { components: 3, iterations: 20, generator: new Generator(22) });
    expect(again.means).toEqual(fit.means);
    expect(again.logLikelihood).toEqual(fit.logLikelihood);
    // A constant coordinate hits the variance floor instead of collapsing to zero.
    const flat = Float32Array.from(x, (v, i) => (i % dim === 0 ? 1 : v));
    const floored = fitDiagonalGmm(flat, n, dim, { components: 3, iterations: 5, generator: new Generator(22) });
    for (let c = 0; c < 3; c++) expect(floored.variances[c * dim]).toBeCloseTo(1e-4, 10);
  });

  // Its speed is not asserted here (a timed test fails on a busy machine, not on slow code); `ldm compare` logs the fit.
  it('fits at the compare job’s size (9000 × 256, k = 10): finite, and EM never lowers the log-likelihood', () => {
    const n = 9000;
    const d = 256;
    const x = new Generator(31).normal(n * d);
    const fit = fitDiagonalGmm(x, n, d, { components: 10, iterations: 3, generator: new Generator(32) });
    expect(fit.logLikelihood.length).toBeGreaterThanOrEqual(3);
    expect(fit.logLikelihood.every(Number.isFinite)).toBe(true);
    for (let i = 1; i < fit.logLikelihood.length; i++)
      expect(fit.logLikelihood[i]!).toBeGreaterThanOrEqual(fit.logLikelihood[i - 1]! - 1e-6 * Math.abs(fit.logLikelihood[i - 1]!));
  });
});
