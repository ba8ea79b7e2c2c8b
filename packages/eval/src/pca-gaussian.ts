import * as tf from '@tensorflow/tfjs-core';
import { LdmError } from '@ldm/backend';
import type { Generator } from '@ldm/backend';
import { checkCount, checkData } from './baseline-checks';
import { symmetricEigen } from './linalg';

/**
 * A single-step baseline for `ldm compare`: a Gaussian over pixels through its top principal components (what
 * "a Gaussian fitted to the data" gives). Arrays are row-major float32 [n, dim]; fitting runs in float64.
 */
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
export function fitPcaGaussian(
  images: Float32Array,
  n: number,
  dim: number,
  components = 32,
  generator: Generator,
  options: PcaFitOptions = {},
): PcaGaussianFit {
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
    if (residualNoise && fit.residualVariance > 0)
      s = tf.add(s, tf.mul(tf.tensor2d(generator.normal(count * dim), [count, dim]), Math.sqrt(fit.residualVariance)));
    if (clip) s = tf.clipByValue(s, -1, 1);
    return s;
  });
  const values = out.dataSync() as Float32Array;
  out.dispose();
  return Float32Array.from(values);
}
