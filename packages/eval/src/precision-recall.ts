import { LdmError } from '@ldm/backend';

export interface PrecisionRecall {
  /** Share of generated samples inside the real manifold (fidelity). */
  precision: number;
  /** Share of real samples inside the generated manifold (diversity, coverage). */
  recall: number;
}

export interface PrecisionRecallOptions {
  /** Neighbourhood size for the manifold radii; the paper's default is 3. */
  k?: number;
  /** Feature dimension; features are row-major n×d. */
  d: number;
}

function squaredDistance(a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number, d: number): number {
  let s = 0;
  const oi = i * d;
  const oj = j * d;
  for (let c = 0; c < d; c++) {
    const diff = a[oi + c]! - b[oj + c]!;
    s += diff * diff;
  }
  return s;
}

/**
 * Squared distance from each point to its k-th nearest other point of the same set: the radius of the
 * ball it contributes to the manifold. Neighbours are excluded by index, not by a zero distance, so
 * repeated points (a collapsed generator) really do get radius 0.
 */
export function kthNeighbourRadii(points: ArrayLike<number>, n: number, d: number, k: number): Float64Array {
  if (n <= k) {
    throw new LdmError('INVALID_ARGUMENT', `k-NN manifold: need more than k=${k} points, got ${n}`);
  }
  const radii = new Float64Array(n);
  const best = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    best.fill(Infinity);
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const dist = squaredDistance(points, i, points, j, d);
      if (dist >= best[k - 1]!) continue;
      // Insertion into the sorted list of the k smallest so far.
      let pos = k - 1;
      while (pos > 0 && best[pos - 1]! > dist) {
        best[pos] = best[pos - 1]!;
        pos--;
      }
      best[pos] = dist;
    }
    radii[i] = best[k - 1]!;
  }
  return radii;
}

/** Share of `queries` that fall inside at least one ball (centre from `centres`, squared radius from `radii`). */
function shareInside(queries: ArrayLike<number>, nq: number, centres: ArrayLike<number>, nc: number, radii: Float64Array, d: number): number {
  let inside = 0;
  for (let i = 0; i < nq; i++) {
    for (let j = 0; j < nc; j++) {
      if (squaredDistance(queries, i, centres, j, d) <= radii[j]!) {
        inside++;
        break;
      }
    }
  }
  return inside / nq;
}

/**
 * Improved precision and recall (Kynkäänniemi et al. 2019): each set's manifold is the union of balls
 * around its points reaching to their k-th nearest neighbour. Exact, O(n²·d) in float64; a few thousand
 * 128-d vectors a set take seconds.
 */
export function precisionRecall(realFeatures: ArrayLike<number>, fakeFeatures: ArrayLike<number>, options: PrecisionRecallOptions): PrecisionRecall {
  const k = options.k ?? 3;
  const d = options.d;
  if (!Number.isInteger(k) || k < 1) throw new LdmError('INVALID_ARGUMENT', `precisionRecall: k must be a positive integer, got ${k}`);
  if (realFeatures.length % d !== 0 || fakeFeatures.length % d !== 0) {
    throw new LdmError(
      'SHAPE_MISMATCH',
      `precisionRecall: feature arrays must hold whole vectors of d=${d}; got ${realFeatures.length} real and ${fakeFeatures.length} fake values`,
    );
  }
  const nr = realFeatures.length / d;
  const nf = fakeFeatures.length / d;
  const realRadii = kthNeighbourRadii(realFeatures, nr, d, k);
  const fakeRadii = kthNeighbourRadii(fakeFeatures, nf, d, k);
  return {
    precision: shareInside(fakeFeatures, nf, realFeatures, nr, realRadii, d),
    recall: shareInside(realFeatures, nr, fakeFeatures, nf, fakeRadii, d),
  };
}
