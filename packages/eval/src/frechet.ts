import { LdmError } from '@ldm/backend';
import { matmulSquare, sqrtmPsd, symmetricEigen } from './linalg';

/**
 * Squared Fréchet (2-Wasserstein) distance between N(mu1, cov1) and N(mu2, cov2), in float64:
 * ‖μ₁−μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁Σ₂)^{1/2}.
 *
 * Σ₁Σ₂ is not symmetric, so its square root is not taken directly (scipy's sqrtm on it is where the
 * reference implementations pick up complex parts). tr (Σ₁Σ₂)^{1/2} = tr (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2}, and
 * the right-hand matrix is symmetric PSD, so two symmetric eigendecompositions give it exactly.
 * A result a little below zero (rounding) is returned as 0.
 */
export function frechetDistance(mu1: ArrayLike<number>, cov1: ArrayLike<number>, mu2: ArrayLike<number>, cov2: ArrayLike<number>): number {
  const d = mu1.length;
  if (mu2.length !== d || cov1.length !== d * d || cov2.length !== d * d) {
    throw new LdmError(
      'SHAPE_MISMATCH',
      `frechetDistance: expected means of length d and d×d covariances; got mu1 ${mu1.length}, mu2 ${mu2.length}, cov1 ${cov1.length}, cov2 ${cov2.length} values`,
    );
  }
  let meanTerm = 0;
  for (let i = 0; i < d; i++) meanTerm += (mu1[i]! - mu2[i]!) ** 2;
  let trace1 = 0;
  let trace2 = 0;
  for (let i = 0; i < d; i++) {
    trace1 += cov1[i * d + i]!;
    trace2 += cov2[i * d + i]!;
  }
  const s1 = sqrtmPsd(cov1, d);
  const middle = matmulSquare(matmulSquare(s1, Float64Array.from(cov2), d), s1, d);
  const { values } = symmetricEigen(middle, d);
  let traceSqrt = 0;
  for (const lambda of values) traceSqrt += Math.sqrt(Math.max(lambda, 0));
  const result = meanTerm + trace1 + trace2 - 2 * traceSqrt;
  if (!Number.isFinite(result)) {
    throw new LdmError('NUMERICAL_ERROR', 'frechetDistance: result is not finite (non-finite means or covariances?)');
  }
  return Math.max(result, 0);
}
