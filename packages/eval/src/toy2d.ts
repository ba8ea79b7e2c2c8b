import { Generator, LdmError } from '@ldm/backend';

/** Points are row-major [n, dim] (dim 2 for the toy mixtures). */
type Points = ArrayLike<number>;

function countPoints(points: Points, dim: number, what: string): number {
  if (points.length === 0 || points.length % dim !== 0) {
    throw new LdmError('SHAPE_MISMATCH', `${what}: expected a non-empty [n, ${dim}] array, got ${points.length} values`);
  }
  return points.length / dim;
}

/**
 * Exact squared 2-Wasserstein distance between two 1-D empirical distributions with uniform weights,
 * sizes allowed to differ: walk both sorted samples along the quantile axis.
 */
export function wasserstein1dSquared(a: Float64Array, b: Float64Array): number {
  const x = Float64Array.from(a).sort();
  const y = Float64Array.from(b).sort();
  const n = x.length;
  const m = y.length;
  let i = 0;
  let j = 0;
  let q = 0;
  let total = 0;
  while (i < n && j < m) {
    const nextX = (i + 1) / n;
    const nextY = (j + 1) / m;
    const next = Math.min(nextX, nextY);
    total += (next - q) * (x[i]! - y[j]!) ** 2;
    q = next;
    if (nextX <= next) i++;
    if (nextY <= next) j++;
  }
  return total;
}

export interface SlicedWassersteinOptions {
  /** Number of random directions (default 256). */
  projections?: number;
  /** Source of the directions; fixed seed 0 if not given, so the metric is deterministic. */
  generator?: Generator;
  /** Point dimension (default 2). */
  dim?: number;
}

/**
 * Sliced 2-Wasserstein distance: sqrt of the mean over random unit directions of the exact 1-D
 * squared W2 between the projections. Zero only when the distributions match; in the units of the data.
 */
export function slicedWasserstein(a: Points, b: Points, options: SlicedWassersteinOptions = {}): number {
  const dim = options.dim ?? 2;
  const projections = options.projections ?? 256;
  const generator = options.generator ?? new Generator(0);
  const n = countPoints(a, dim, 'slicedWasserstein (a)');
  const m = countPoints(b, dim, 'slicedWasserstein (b)');
  const pa = new Float64Array(n);
  const pb = new Float64Array(m);
  let sum = 0;
  for (let p = 0; p < projections; p++) {
    const dir = Float64Array.from(generator.normal(dim));
    const norm = Math.hypot(...dir);
    for (let c = 0; c < dim; c++) dir[c]! /= norm;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let c = 0; c < dim; c++) s += a[i * dim + c]! * dir[c]!;
      pa[i] = s;
    }
    for (let i = 0; i < m; i++) {
      let s = 0;
      for (let c = 0; c < dim; c++) s += b[i * dim + c]! * dir[c]!;
      pb[i] = s;
    }
    sum += wasserstein1dSquared(pa, pb);
  }
  return Math.sqrt(sum / projections);
}

/**
 * Unbiased estimate of the squared maximum mean discrepancy with a sum of Gaussian kernels
 * k(x,y) = Σ_σ exp(−‖x−y‖²/(2σ²)). Near zero (and may be slightly negative) when both samples come
 * from one distribution. O((n+m)²·dim).
 */
export function mmdRbf(a: Points, b: Points, bandwidths: readonly number[] = [0.1, 0.5, 1, 2], dim = 2): number {
  if (bandwidths.length === 0 || bandwidths.some((s) => !(s > 0))) {
    throw new LdmError('INVALID_ARGUMENT', `mmdRbf: bandwidths must be positive numbers, got [${bandwidths.join(', ')}]`);
  }
  const n = countPoints(a, dim, 'mmdRbf (a)');
  const m = countPoints(b, dim, 'mmdRbf (b)');
  if (n < 2 || m < 2) throw new LdmError('INVALID_ARGUMENT', 'mmdRbf: the unbiased estimate needs at least 2 points a set');
  const gammas = bandwidths.map((s) => 1 / (2 * s * s));
  const kernel = (x: Points, i: number, y: Points, j: number): number => {
    let d2 = 0;
    for (let c = 0; c < dim; c++) d2 += (x[i * dim + c]! - y[j * dim + c]!) ** 2;
    let k = 0;
    for (const g of gammas) k += Math.exp(-g * d2);
    return k;
  };
  let kaa = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) kaa += kernel(a, i, a, j);
  let kbb = 0;
  for (let i = 0; i < m; i++) for (let j = i + 1; j < m; j++) kbb += kernel(b, i, b, j);
  let kab = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) kab += kernel(a, i, b, j);
  return (2 * kaa) / (n * (n - 1)) + (2 * kbb) / (m * (m - 1)) - (2 * kab) / (n * m);
}

export interface ModeShares {
  /** Share of points within `radius` of each mode (a point counts for its nearest mode only). */
  perMode: Float64Array;
  /** Share of points farther than `radius` from every mode: mass a sampler put between the modes. */
  between: number;
  /** Modes holding at least half their uniform share (0.5 / number of modes). */
  modesCovered: number;
}

/** Where samples of a mixture landed relative to its known mode centres. */
export function modeShares(points: Points, means: Points, radius: number, dim = 2): ModeShares {
  if (!(radius > 0)) throw new LdmError('INVALID_ARGUMENT', `modeShares: radius must be positive, got ${radius}`);
  const n = countPoints(points, dim, 'modeShares (points)');
  const k = countPoints(means, dim, 'modeShares (means)');
  const perMode = new Float64Array(k);
  let between = 0;
  const r2 = radius * radius;
  for (let i = 0; i < n; i++) {
    let best = Infinity;
    let bestMode = 0;
    for (let j = 0; j < k; j++) {
      let d2 = 0;
      for (let c = 0; c < dim; c++) d2 += (points[i * dim + c]! - means[j * dim + c]!) ** 2;
      if (d2 < best) {
        best = d2;
        bestMode = j;
      }
    }
    if (best <= r2) perMode[bestMode]! += 1;
    else between++;
  }
  for (let j = 0; j < k; j++) perMode[j]! /= n;
  let modesCovered = 0;
  for (const s of perMode) if (s >= 0.5 / k) modesCovered++;
  return { perMode, between: between / n, modesCovered };
}

export interface ToyQuality {
  slicedWasserstein: number;
  mmd: number;
  /** Per-mode shares, the between-modes share, and how many modes hold half their fair share. */
  modeShares: number[];
  betweenModes: number;
  modesCovered: number;
}

/**
 * Every 2-D number the report's multimodality panel shows for one sampler: distances from `samples`
 * to `reference` (samples of the true distribution) and where samples landed relative to the true modes.
 */
export function toyQuality(samples: Points, reference: Points, means: Points, radius: number, generator?: Generator): ToyQuality {
  const shares = modeShares(samples, means, radius);
  return {
    slicedWasserstein: slicedWasserstein(samples, reference, generator ? { generator } : {}),
    mmd: mmdRbf(samples, reference),
    modeShares: [...shares.perMode],
    betweenModes: shares.between,
    modesCovered: shares.modesCovered,
  };
}
