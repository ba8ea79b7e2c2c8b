import { LdmError } from '@ldm/backend';

/** Mean and covariance of a set of feature vectors, in float64. */
export interface FeatureStatistics {
  /** Length d. */
  mean: Float64Array;
  /** d×d, row-major, unbiased (divided by n − 1), as in the reference FID implementations. */
  cov: Float64Array;
  /** Feature dimension. */
  d: number;
  /** Number of vectors the statistics came from. */
  n: number;
}

/** Mean and unbiased covariance of n feature vectors of dimension d stored row-major in `features`. */
export function featureStatistics(features: Float64Array | Float32Array, n: number, d: number): FeatureStatistics {
  if (!Number.isInteger(n) || !Number.isInteger(d) || n < 2 || d < 1) {
    throw new LdmError('INVALID_ARGUMENT', `featureStatistics: need n ≥ 2 vectors of dimension d ≥ 1, got n=${n}, d=${d}`);
  }
  if (features.length !== n * d) {
    throw new LdmError('SHAPE_MISMATCH', `featureStatistics: expected n·d = ${n}·${d} = ${n * d} values, got ${features.length}`);
  }
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j]! += features[i * d + j]!;
  for (let j = 0; j < d; j++) mean[j]! /= n;
  // Two passes (centre, then accumulate) rather than E[xxᵀ] − μμᵀ: features have large means relative
  // to their spread, and the one-pass formula would cancel most significant digits.
  const cov = new Float64Array(d * d);
  const centred = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const x = features[i * d + j]!;
      if (!Number.isFinite(x)) {
        throw new LdmError('NUMERICAL_ERROR', `featureStatistics: non-finite feature at vector ${i}, component ${j}`);
      }
      centred[j] = x - mean[j]!;
    }
    for (let j = 0; j < d; j++) {
      const cj = centred[j]!;
      if (cj === 0) continue;
      for (let k = j; k < d; k++) cov[j * d + k]! += cj * centred[k]!;
    }
  }
  for (let j = 0; j < d; j++) {
    for (let k = j; k < d; k++) {
      const c = cov[j * d + k]! / (n - 1);
      cov[j * d + k] = c;
      cov[k * d + j] = c;
    }
  }
  return { mean, cov, d, n };
}
