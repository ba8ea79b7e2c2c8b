import { LdmError } from '@ldm/backend';
import type { Generator } from '@ldm/backend';
import { checkCount, checkData } from './baseline-checks';

/**
 * A single-step baseline for `ldm compare`: a diagonal-covariance GMM fitted to a VAE's training latents and
 * sampled instead of N(0, I) ("ex-post density estimation", Ghosh et al. 2020). Arrays are row-major float32
 * [n, dim]; fitting runs in float64.
 */
export interface DiagonalGmmFit {
  /** [k], summing to 1. */
  weights: Float64Array;
  /** [k, dim] row-major. */
  means: Float64Array;
  /** [k, dim] row-major, each ≥ the variance floor. */
  variances: Float64Array;
  /** Mean log-likelihood per point (nats) after each EM iteration: non-decreasing. */
  logLikelihood: number[];
  dim: number;
  components: number;
}

export interface DiagonalGmmOptions {
  components?: number;
  iterations?: number;
  generator: Generator;
  /** Floor on every variance; default 1e-4. */
  varianceFloor?: number;
}

const LOG_2PI = Math.log(2 * Math.PI);

/** k-means++ seeding: the first centre uniformly, each next one with probability ∝ squared distance to the nearest centre. */
function kMeansPlusPlus(x: Float32Array, n: number, dim: number, k: number, generator: Generator): Float64Array {
  const means = new Float64Array(k * dim);
  const nearest = new Float64Array(n).fill(Infinity);
  let chosen = generator.int(n);
  for (let c = 0; c < k; c++) {
    for (let d = 0; d < dim; d++) means[c * dim + d] = x[chosen * dim + d]!;
    let total = 0;
    for (let i = 0; i < n; i++) {
      let d2 = 0;
      for (let d = 0; d < dim; d++) d2 += (x[i * dim + d]! - means[c * dim + d]!) ** 2;
      if (d2 < nearest[i]!) nearest[i] = d2;
      total += nearest[i]!;
    }
    if (c === k - 1) break;
    const u = generator.uniform(1)[0]! * total;
    let acc = 0;
    chosen = n - 1;
    for (let i = 0; i < n; i++) {
      acc += nearest[i]!;
      if (acc >= u && nearest[i]! > 0) {
        chosen = i;
        break;
      }
    }
  }
  return means;
}

/**
 * E-step: fills `resp` [n, k] with responsibilities (log-sum-exp in float64) and returns the mean log-likelihood.
 */
function expectation(
  x: Float32Array,
  n: number,
  dim: number,
  fit: { weights: Float64Array; means: Float64Array; variances: Float64Array },
  k: number,
  resp: Float64Array,
): number {
  const constant = new Float64Array(k);
  const inv = new Float64Array(k * dim);
  for (let c = 0; c < k; c++) {
    let logDet = 0;
    for (let d = 0; d < dim; d++) {
      const v = fit.variances[c * dim + d]!;
      logDet += Math.log(v);
      inv[c * dim + d] = 1 / v;
    }
    constant[c] = Math.log(fit.weights[c]!) - 0.5 * (logDet + dim * LOG_2PI);
  }
  let total = 0;
  for (let i = 0; i < n; i++) {
    const base = i * dim;
    let max = -Infinity;
    for (let c = 0; c < k; c++) {
      let q = 0;
      const mb = c * dim;
      for (let d = 0; d < dim; d++) {
        const diff = x[base + d]! - fit.means[mb + d]!;
        q += diff * diff * inv[mb + d]!;
      }
      const l = constant[c]! - 0.5 * q;
      resp[i * k + c] = l;
      if (l > max) max = l;
    }
    let s = 0;
    for (let c = 0; c < k; c++) s += Math.exp(resp[i * k + c]! - max);
    const lse = max + Math.log(s);
    total += lse;
    for (let c = 0; c < k; c++) resp[i * k + c] = Math.exp(resp[i * k + c]! - lse);
  }
  return total / n;
}

/** M-step in place: weights, means and floored variances from the responsibilities. */
function maximisation(
  x: Float32Array,
  n: number,
  dim: number,
  k: number,
  resp: Float64Array,
  fit: { weights: Float64Array; means: Float64Array; variances: Float64Array },
  floor: number,
): void {
  const nk = new Float64Array(k);
  const sum = new Float64Array(k * dim);
  const sumSq = new Float64Array(k * dim);
  for (let i = 0; i < n; i++) {
    const base = i * dim;
    for (let c = 0; c < k; c++) {
      const r = resp[i * k + c]!;
      if (r < 1e-300) continue;
      nk[c]! += r;
      const mb = c * dim;
      for (let d = 0; d < dim; d++) {
        const v = x[base + d]!;
        sum[mb + d]! += r * v;
        sumSq[mb + d]! += r * v * v;
      }
    }
  }
  for (let c = 0; c < k; c++) {
    const count = nk[c]!;
    fit.weights[c] = Math.max(count, 1e-12) / n;
    if (count < 1e-8) continue; // an empty component keeps its mean and variance
    const mb = c * dim;
    for (let d = 0; d < dim; d++) {
      const mu = sum[mb + d]! / count;
      fit.means[mb + d] = mu;
      fit.variances[mb + d] = Math.max(floor, sumSq[mb + d]! / count - mu * mu);
    }
  }
  let wsum = 0;
  for (let c = 0; c < k; c++) wsum += fit.weights[c]!;
  for (let c = 0; c < k; c++) fit.weights[c]! /= wsum;
}

/** Fits a k-component diagonal-covariance Gaussian mixture by EM (float64), seeded by k-means++ from `generator`. */
export function fitDiagonalGmm(x: Float32Array, n: number, dim: number, options: DiagonalGmmOptions): DiagonalGmmFit {
  checkData(x, n, dim, 'fitDiagonalGmm');
  const { components: k = 10, iterations = 30, generator, varianceFloor = 1e-4 } = options;
  if (!Number.isInteger(k) || k < 1 || k > n) throw new LdmError('INVALID_ARGUMENT', `fitDiagonalGmm: components must be an integer in [1, ${n}], got ${k}`);
  if (!Number.isInteger(iterations) || iterations < 1)
    throw new LdmError('INVALID_ARGUMENT', `fitDiagonalGmm: iterations must be a positive integer, got ${iterations}`);
  if (!(varianceFloor > 0)) throw new LdmError('INVALID_ARGUMENT', `fitDiagonalGmm: varianceFloor must be positive, got ${varianceFloor}`);

  // Start: k-means++ centres, the global per-dimension variance for every component, equal weights.
  const means = kMeansPlusPlus(x, n, dim, k, generator);
  const globalMean = new Float64Array(dim);
  const globalVar = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) globalMean[d]! += x[i * dim + d]!;
  for (let d = 0; d < dim; d++) globalMean[d]! /= n;
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) globalVar[d]! += (x[i * dim + d]! - globalMean[d]!) ** 2;
  const variances = new Float64Array(k * dim);
  for (let c = 0; c < k; c++) for (let d = 0; d < dim; d++) variances[c * dim + d] = Math.max(varianceFloor, globalVar[d]! / n);
  const fit = { weights: new Float64Array(k).fill(1 / k), means, variances };

  const resp = new Float64Array(n * k);
  expectation(x, n, dim, fit, k, resp);
  const logLikelihood: number[] = [];
  for (let it = 0; it < iterations; it++) {
    maximisation(x, n, dim, k, resp, fit, varianceFloor);
    logLikelihood.push(expectation(x, n, dim, fit, k, resp));
  }
  return { ...fit, logLikelihood, dim, components: k };
}

/** count samples of the mixture as row-major float32 [count, dim]. */
export function sampleDiagonalGmm(fit: DiagonalGmmFit, count: number, generator: Generator): Float32Array {
  checkCount(count, 'sampleDiagonalGmm');
  const { dim, components: k } = fit;
  const u = generator.uniform(count);
  const z = generator.normal(count * dim);
  const cumulative = new Float64Array(k);
  let acc = 0;
  for (let c = 0; c < k; c++) cumulative[c] = acc += fit.weights[c]!;
  const out = new Float32Array(count * dim);
  for (let i = 0; i < count; i++) {
    const target = u[i]! * acc;
    let c = 0;
    while (c < k - 1 && cumulative[c]! < target) c++;
    for (let d = 0; d < dim; d++) {
      out[i * dim + d] = fit.means[c * dim + d]! + Math.sqrt(fit.variances[c * dim + d]!) * z[i * dim + d]!;
    }
  }
  return out;
}
