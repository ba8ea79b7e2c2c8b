import { describe, expect, it } from 'vitest';
import { Generator } from '@ldm/backend';
import { frechetDistance } from './frechet';
import { matmulSquare, sqrtmPsd, symmetricEigen } from './linalg';
import { featureStatistics } from './statistics';

/** A random SPD matrix A·Aᵀ + εI, row-major. */
function randomSpd(d: number, g: Generator, eps = 0.1): Float64Array {
  const a = Float64Array.from(g.normal(d * d));
  const at = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) at[j * d + i] = a[i * d + j]!;
  const m = matmulSquare(a, at, d);
  for (let i = 0; i < d; i++) m[i * d + i]! += eps;
  return m;
}

function diag(values: number[]): Float64Array {
  const d = values.length;
  const m = new Float64Array(d * d);
  values.forEach((v, i) => (m[i * d + i] = v));
  return m;
}

describe('symmetricEigen', () => {
  it('reconstructs a random symmetric matrix with orthonormal vectors', () => {
    const d = 24;
    const m = randomSpd(d, new Generator(1));
    const { values, vectors } = symmetricEigen(m, d);
    let maxErr = 0;
    let maxOrth = 0;
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) {
        let rec = 0;
        let dot = 0;
        for (let k = 0; k < d; k++) {
          rec += vectors[i * d + k]! * values[k]! * vectors[j * d + k]!;
          dot += vectors[k * d + i]! * vectors[k * d + j]!;
        }
        maxErr = Math.max(maxErr, Math.abs(rec - m[i * d + j]!));
        maxOrth = Math.max(maxOrth, Math.abs(dot - (i === j ? 1 : 0)));
      }
    }
    expect(maxErr).toBeLessThan(1e-10);
    expect(maxOrth).toBeLessThan(1e-12);
  });

  it('finds the eigenvalues of a known 2×2 matrix', () => {
    // [[2,1],[1,2]] has eigenvalues 1 and 3.
    const { values } = symmetricEigen([2, 1, 1, 2], 2);
    expect([...values].sort()).toEqual([expect.closeTo(1, 14), expect.closeTo(3, 14)]);
  });

  it('squares back: sqrtm(A)² = A', () => {
    const d = 16;
    const m = randomSpd(d, new Generator(2));
    const s = sqrtmPsd(m, d);
    const s2 = matmulSquare(s, s, d);
    for (let i = 0; i < d * d; i++) expect(s2[i]!).toBeCloseTo(m[i]!, 9);
  });
});

describe('frechetDistance', () => {
  it('is (μ₁−μ₂)² + (σ₁−σ₂)² in 1-D', () => {
    expect(frechetDistance([1], [4], [-2], [9])).toBeCloseTo(9 + 1, 12);
  });

  it('is Σ (μ diff)² + Σ (√a − √b)² for diagonal covariances', () => {
    const a = [1, 4, 0.25, 9];
    const b = [2, 1, 1, 16];
    const mu1 = [0, 1, 2, 3];
    const mu2 = [1, 1, 0, 3];
    let expected = 0;
    for (let i = 0; i < 4; i++) expected += (mu1[i]! - mu2[i]!) ** 2 + (Math.sqrt(a[i]!) - Math.sqrt(b[i]!)) ** 2;
    expect(frechetDistance(mu1, diag(a), mu2, diag(b))).toBeCloseTo(expected, 12);
  });

  it('is 0 for identical distributions and (1−k)²·tr Σ for a covariance scaled by k²', () => {
    const d = 32;
    const cov = randomSpd(d, new Generator(3));
    const mu = new Float64Array(d).fill(0.5);
    let trace = 0;
    for (let i = 0; i < d; i++) trace += cov[i * d + i]!;
    expect(frechetDistance(mu, cov, mu, cov)).toBeLessThan(1e-9 * trace);
    const k = 1.7;
    const scaled = cov.map((x) => x * k * k);
    expect(frechetDistance(mu, cov, mu, scaled)).toBeCloseTo((1 - k) ** 2 * trace, 8);
  });

  it('is symmetric and invariant under a common rotation, with non-commuting covariances', () => {
    const d = 12;
    const g = new Generator(4);
    const c1 = randomSpd(d, g);
    const c2 = randomSpd(d, g);
    const mu1 = Float64Array.from(g.normal(d));
    const mu2 = Float64Array.from(g.normal(d));
    const forward = frechetDistance(mu1, c1, mu2, c2);
    expect(frechetDistance(mu2, c2, mu1, c1)).toBeCloseTo(forward, 8);
    // Orthogonal Q from the eigenvectors of a third matrix.
    const q = symmetricEigen(randomSpd(d, g), d).vectors;
    const qt = new Float64Array(d * d);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) qt[j * d + i] = q[i * d + j]!;
    const rot = (c: Float64Array): Float64Array => matmulSquare(matmulSquare(q, c, d), qt, d);
    const rotMu = (m: Float64Array): Float64Array => {
      const out = new Float64Array(d);
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) out[i]! += q[i * d + j]! * m[j]!;
      return out;
    };
    expect(frechetDistance(rotMu(mu1), rot(c1), rotMu(mu2), rot(c2))).toBeCloseTo(forward, 8);
    expect(forward).toBeGreaterThan(1);
  });

  it('rejects mismatched shapes with a typed error', () => {
    expect(() => frechetDistance([0, 0], [1, 0, 0, 1], [0], [1])).toThrow(/SHAPE_MISMATCH|expected means/);
  });
});

describe('featureStatistics', () => {
  it('gives the mean and the unbiased covariance', () => {
    // Vectors (1,2), (3,6), (5,10): second coordinate is twice the first.
    const { mean, cov } = featureStatistics(Float32Array.from([1, 2, 3, 6, 5, 10]), 3, 2);
    expect([...mean]).toEqual([3, 6]);
    expect([...cov]).toEqual([4, 8, 8, 16]);
  });

  it('keeps precision when the mean is large relative to the spread', () => {
    const x = Float64Array.from([1e8 + 1, 1e8 - 1, 1e8 + 1, 1e8 - 1]);
    expect(featureStatistics(x, 4, 1).cov[0]).toBeCloseTo(4 / 3, 12);
  });
});
