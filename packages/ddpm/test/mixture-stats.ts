import type { GaussianMixture } from '../src/gaussian-mixture';

export interface ComponentStats {
  weight: number;
  mean: number[];
  /** Per-dimension variance pooled over dims (the components are isotropic). */
  variance: number;
  count: number;
}

/** Assigns each sample [N·D] to its most likely true component and measures weight, mean and variance per component. */
export function componentStats(samples: Float32Array, mixture: GaussianMixture): ComponentStats[] {
  const k = mixture.weights.length;
  const d = mixture.means[0]?.length ?? 1;
  const n = samples.length / d;
  const sums = Array.from({ length: k }, () => new Float64Array(d));
  const sq = Array.from({ length: k }, () => new Float64Array(d));
  const counts = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestLog = -Infinity;
    for (let c = 0; c < k; c++) {
      const v = mixture.variances[c] as number;
      let dist = 0;
      for (let j = 0; j < d; j++) dist += ((samples[i * d + j] as number) - (mixture.means[c]?.[j] as number)) ** 2;
      const log = Math.log(mixture.weights[c] as number) - 0.5 * d * Math.log(v) - dist / (2 * v);
      if (log > bestLog) {
        bestLog = log;
        best = c;
      }
    }
    counts[best] = (counts[best] as number) + 1;
    for (let j = 0; j < d; j++) {
      const x = samples[i * d + j] as number;
      (sums[best] as Float64Array)[j] = ((sums[best] as Float64Array)[j] as number) + x;
      (sq[best] as Float64Array)[j] = ((sq[best] as Float64Array)[j] as number) + x * x;
    }
  }
  return Array.from({ length: k }, (_, c) => {
    const m = counts[c] as number;
    const mean = Array.from(sums[c] as Float64Array, (s) => s / m);
    const variance = Array.from(sq[c] as Float64Array, (s, j) => (s - m * (mean[j] as number) ** 2) / (m - 1)).reduce((a, b) => a + b, 0) / d;
    return { weight: m / n, mean, variance, count: m };
  });
}

/**
 * The largest deviation from the truth in units of its standard error (weight: √(w(1−w)/N); mean: σ/√n per dim;
 * variance: σ²√(2/(n·D))). Below ~4 means "matches within statistical error".
 */
export function worstZScore(stats: ComponentStats[], mixture: GaussianMixture, n: number): number {
  const d = mixture.means[0]?.length ?? 1;
  let worst = 0;
  stats.forEach((s, c) => {
    const w = mixture.weights[c] as number;
    const v = mixture.variances[c] as number;
    worst = Math.max(worst, Math.abs(s.weight - w) / Math.sqrt((w * (1 - w)) / n));
    s.mean.forEach((m, j) => {
      worst = Math.max(worst, Math.abs(m - (mixture.means[c]?.[j] as number)) / Math.sqrt(v / s.count));
    });
    worst = Math.max(worst, Math.abs(s.variance - v) / (v * Math.sqrt(2 / (s.count * d))));
  });
  return worst;
}

export const MIXTURE_1D: GaussianMixture = { weights: [0.3, 0.7], means: [[-1.5], [1]], variances: [0.04, 0.25] };
export const MIXTURE_2D: GaussianMixture = {
  weights: [0.5, 0.3, 0.2],
  means: [
    [-1, -1],
    [1, 1],
    [1.5, -1],
  ],
  variances: [0.09, 0.04, 0.01],
};

/** Wider components (σ ≥ 0.4): DDIM at 50 uniform steps resolves them; the narrow ones above show its discretisation error. */
export const WIDE_MIXTURE_1D: GaussianMixture = { weights: [0.3, 0.7], means: [[-2], [1.5]], variances: [0.16, 0.36] };
export const WIDE_MIXTURE_2D: GaussianMixture = {
  weights: [0.5, 0.3, 0.2],
  means: [
    [-2, -2],
    [2, 2],
    [2, -2],
  ],
  variances: [0.36, 0.25, 0.16],
};
