import { LdmError } from '@ldm/backend';

/** A symmetric matrix's eigenvalues and orthonormal eigenvectors (columns of `vectors`, row-major n×n). */
export interface SymmetricEigen {
  values: Float64Array;
  vectors: Float64Array;
}

/**
 * Eigendecomposition of a real symmetric n×n matrix (row-major, float64) by cyclic Jacobi rotations.
 * Jacobi is chosen over tridiagonal QL because it is short enough to verify by reading, is accurate to
 * full relative precision for the small eigenvalues of PSD covariance matrices, and d ≤ a few hundred here.
 */
export function symmetricEigen(matrix: ArrayLike<number>, n: number): SymmetricEigen {
  if (matrix.length !== n * n) {
    throw new LdmError('SHAPE_MISMATCH', `symmetricEigen: expected ${n}×${n} = ${n * n} values, got ${matrix.length}`);
  }
  const a = Float64Array.from(matrix);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const x = a[i * n + j]!;
      const y = a[j * n + i]!;
      if (!Number.isFinite(x) || !Number.isFinite(y)) {
        throw new LdmError('NUMERICAL_ERROR', `symmetricEigen: non-finite entry at (${i}, ${j})`);
      }
      // Symmetrise: covariances computed in floating point can differ in the last bit.
      a[i * n + j] = a[j * n + i] = 0.5 * (x + y);
    }
  }
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;

  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += Math.abs(a[p * n + q]!);
    if (off === 0) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (apq === 0) continue;
        const app = a[p * n + p]!;
        const aqq = a[q * n + q]!;
        // Once an element is below the rounding of both diagonal entries it no longer matters: zero it
        // (Numerical Recipes' rule), which is what lets the sweep loop end with an exactly diagonal matrix.
        const g = 100 * Math.abs(apq);
        if (sweep > 3 && Math.abs(app) + g === Math.abs(app) && Math.abs(aqq) + g === Math.abs(aqq)) {
          a[p * n + q] = a[q * n + p] = 0;
          continue;
        }
        const theta = (aqq - app) / (2 * apq);
        // The smaller root of t² + 2θt − 1 = 0 keeps the rotation angle ≤ π/4, which is what makes it stable.
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p]!;
          const akq = a[k * n + q]!;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!;
          const aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        a[p * n + q] = a[q * n + p] = 0;
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = a[i * n + i]!;
  return { values, vectors: v };
}

/** C = A·B for row-major n×n matrices. */
export function matmulSquare(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k]!;
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) c[i * n + j]! += aik * b[k * n + j]!;
    }
  }
  return c;
}

/**
 * The PSD square root V·diag(√max(λ,0))·Vᵀ of a symmetric matrix. Eigenvalues a little below zero
 * come from rounding in a covariance estimate, so they are clamped rather than rejected.
 */
export function sqrtmPsd(matrix: ArrayLike<number>, n: number): Float64Array {
  const { values, vectors } = symmetricEigen(matrix, n);
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const r = Math.sqrt(Math.max(values[k]!, 0));
    if (r === 0) continue;
    for (let i = 0; i < n; i++) {
      const vik = vectors[i * n + k]! * r;
      if (vik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j]! += vik * vectors[j * n + k]!;
    }
  }
  return out;
}
