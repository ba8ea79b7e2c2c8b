import * as tf from '@tensorflow/tfjs-core';
import { LdmError } from '@ldm/backend';
import type { Generator } from '@ldm/backend';
import { symmetricEigen } from '@ldm/eval';

/**
 * GAN-free single-step baselines for `ldm compare`:
 * - a Gaussian over pixels through its top principal components (what "a Gaussian fitted to the data" gives), and
 * - a diagonal-covariance GMM fitted to a VAE's training latents, sampled instead of N(0, I)
 *   ("ex-post density estimation", Ghosh et al. 2020).
 * Every array is row-major float32 [n, dim]; fitting runs in float64.
 */

function checkData(x: Float32Array, n: number, dim: number, where: string): void {
  if (!Number.isInteger(n) || n < 2 || !Number.isInteger(dim) || dim < 1) {
    throw new LdmError('INVALID_ARGUMENT', `${where}: n must be an integer ≥ 2 and dim ≥ 1, got n = ${n}, dim = ${dim}`);
  }
  if (x.length !== n * dim) throw new LdmError('SHAPE_MISMATCH', `${where}: expected n·dim = ${n * dim} values, got ${x.length}`);
}

function checkCount(count: number, where: string): void {
  if (!Number.isInteger(count) || count < 1) throw new LdmError('INVALID_ARGUMENT', `${where}: count must be a positive integer, got ${count}`);
}

// ---------------------------------------------------------------------------------------------------------------
// PCA Gaussian
// ---------------------------------------------------------------------------------------------------------------

export interface PcaGaussianFit {
  mean: Float32Array;
  /** [components, dim], orthonormal rows, by decreasing variance. */
  basis: Float32Array;
  /** Variance of the data along each basis row (eigenvalues of the sample covariance, n − 1 denominator). */
  variances: Float32Array;
  /** Mean variance per dimension left outside the basis: (trace − Σ λ) / (dim − components). */
  residualVariance: number;
  dim: number;
  components: number;
}

export interface PcaFitOptions {
  /** Subspace (power) iterations; default 4. */
  iterations?: number;
  /** Extra columns beyond `components` in the random subspace; default 10. */
  oversample?: number;
}

/**
 * Orthonormalises the p columns of a row-major [rows, p] float64 matrix in place (modified Gram–Schmidt, two
 * passes for float64-level orthogonality). A column that vanishes (rank deficiency) is replaced by a random one.
 */
function orthonormaliseColumns(a: Float64Array, rows: number, p: number, generator: Generator): void {
  for (let j = 0; j < p; j++) {
    for (let attempt = 0; attempt < 3; attempt++) {
      let before = 0;
      for (let r = 0; r < rows; r++) before += a[r * p + j]! ** 2;
      for (let pass = 0; pass < 2; pass++) {
        for (let i = 0; i < j; i++) {
          let dot = 0;
          for (let r = 0; r < rows; r++) dot += a[r * p + i]! * a[r * p + j]!;
          for (let r = 0; r < rows; r++) a[r * p + j]! -= dot * a[r * p + i]!;
        }
      }
      let norm = 0;
      for (let r = 0; r < rows; r++) norm += a[r * p + j]! ** 2;
      norm = Math.sqrt(norm);
      if (norm > 1e-10 * Math.sqrt(before) && norm > 0) {
        for (let r = 0; r < rows; r++) a[r * p + j]! /= norm;
        break;
      }
      const z = generator.normal(rows);
      for (let r = 0; r < rows; r++) a[r * p + j] = z[r]!;
    }
  }
}

/**
 * Fits N(mean, V diag(λ) Vᵀ) with V the top `components` principal directions, by randomized subspace iteration
 * (Halko, Martinsson & Tropp 2011): Q ← orth(Xᵀ(X Q)) a few times with tf.matMul on the centred data, then the exact
 * eigendecomposition of the small projected covariance QᵀΣQ. Never forms the dim × dim covariance.
 */
export function fitPcaGaussian(images: Float32Array, n: number, dim: number, components = 32, generator: Generator, options: PcaFitOptions = {}): PcaGaussianFit {
  checkData(images, n, dim, 'fitPcaGaussian');
  if (!Number.isInteger(components) || components < 1 || components > Math.min(dim, n - 1)) {
    throw new LdmError('INVALID_ARGUMENT', `fitPcaGaussian: components must be an integer in [1, ${Math.min(dim, n - 1)}], got ${components}`);
  }
  const iterations = options.iterations ?? 4;
  const p = Math.min(components + (options.oversample ?? 10), dim, n - 1);

  const mean64 = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean64[d]! += images[i * dim + d]!;
  for (let d = 0; d < dim; d++) mean64[d]! /= n;
  const centred = new Float32Array(n * dim);
  let trace = 0;
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dim; d++) {
      const v = images[i * dim + d]! - mean64[d]!;
      centred[i * dim + d] = v;
      trace += v * v;
    }
  }
  trace /= n - 1;

  const q = Float64Array.from(generator.normal(dim * p));
  orthonormaliseColumns(q, dim, p, generator);
  const x = tf.tensor2d(centred, [n, dim]);
  let projectedCov: Float64Array;
  try {
    for (let it = 0; it < iterations; it++) {
      const y = tf.tidy(() => tf.matMul(x, tf.matMul(x, tf.tensor2d(Float32Array.from(q), [dim, p])), true, false));
      const values = y.dataSync();
      y.dispose();
      for (let i = 0; i < values.length; i++) q[i] = values[i]!;
      orthonormaliseColumns(q, dim, p, generator);
    }
    // B = X Q [n, p]; QᵀΣQ = BᵀB / (n − 1), accumulated in float64 from B.
    const bT = tf.tidy(() => tf.matMul(x, tf.tensor2d(Float32Array.from(q), [dim, p])));
    const b = bT.dataSync();
    bT.dispose();
    projectedCov = new Float64Array(p * p);
    const row = new Float64Array(p);
    for (let i = 0; i < n; i++) {
      for (let a = 0; a < p; a++) row[a] = b[i * p + a]!;
      for (let a = 0; a < p; a++) {
        const ra = row[a]!;
        for (let c = a; c < p; c++) projectedCov[a * p + c]! += ra * row[c]!;
      }
    }
    for (let a = 0; a < p; a++) {
      for (let c = a; c < p; c++) {
        const v = projectedCov[a * p + c]! / (n - 1);
        projectedCov[a * p + c] = v;
        projectedCov[c * p + a] = v;
      }
    }
  } finally {
    x.dispose();
  }

  const eig = symmetricEigen(projectedCov, p);
  const order = Array.from({ length: p }, (_, i) => i).sort((i, j) => eig.values[j]! - eig.values[i]!);
  const basis = new Float32Array(components * dim);
  const variances = new Float32Array(components);
  let kept = 0;
  for (let c = 0; c < components; c++) {
    const e = order[c]!;
    const lambda = Math.max(0, eig.values[e]!);
    variances[c] = lambda;
    kept += lambda;
    // v = Q u_e (u_e is column e of the eigenvector matrix).
    for (let d = 0; d < dim; d++) {
      let s = 0;
      for (let a = 0; a < p; a++) s += q[d * p + a]! * eig.vectors[a * p + e]!;
      basis[c * dim + d] = s;
    }
  }
  const residualVariance = dim > components ? Math.max(0, (trace - kept) / (dim - components)) : 0;
  return { mean: Float32Array.from(mean64), basis, variances, residualVariance, dim, components };
}

export interface PcaSampleOptions {
  /** Add isotropic N(0, residualVariance·I) noise for the variance outside the basis; default false. */
  residualNoise?: boolean;
  /** Clip to [−1, 1] (the pixel range); default true. */
  clip?: boolean;
}

/** count samples mean + Σ_i sqrt(λ_i) z_i v_i, as row-major [count, dim]. */
export function samplePcaGaussian(fit: PcaGaussianFit, count: number, generator: Generator, options: PcaSampleOptions = {}): Float32Array {
  checkCount(count, 'samplePcaGaussian');
  const { dim, components } = fit;
  const { residualNoise = false, clip = true } = options;
  const z = generator.normal(count * components);
  for (let i = 0; i < count; i++) for (let c = 0; c < components; c++) z[i * components + c]! *= Math.sqrt(fit.variances[c]!);
  const out = tf.tidy(() => {
    let s: tf.Tensor = tf.add(tf.matMul(tf.tensor2d(z, [count, components]), tf.tensor2d(fit.basis, [components, dim])), tf.tensor2d(fit.mean, [1, dim]));
    if (residualNoise && fit.residualVariance > 0) s = tf.add(s, tf.mul(tf.tensor2d(generator.normal(count * dim), [count, dim]), Math.sqrt(fit.residualVariance)));
    if (clip) s = tf.clipByValue(s, -1, 1);
    return s;
  });
  const values = out.dataSync() as Float32Array;
  out.dispose();
  return Float32Array.from(values);
}

// ---------------------------------------------------------------------------------------------------------------
// Diagonal GMM (ex-post density estimation)
// ---------------------------------------------------------------------------------------------------------------

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
function expectation(x: Float32Array, n: number, dim: number, fit: { weights: Float64Array; means: Float64Array; variances: Float64Array }, k: number, resp: Float64Array): number {
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
function maximisation(x: Float32Array, n: number, dim: number, k: number, resp: Float64Array, fit: { weights: Float64Array; means: Float64Array; variances: Float64Array }, floor: number): void {
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
  if (!Number.isInteger(iterations) || iterations < 1) throw new LdmError('INVALID_ARGUMENT', `fitDiagonalGmm: iterations must be a positive integer, got ${iterations}`);
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
