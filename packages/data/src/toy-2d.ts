import type { Generator } from '@ldm/backend';
import { LdmError } from '@ldm/backend';

/** n points in the plane, row-major [n, 2]. */
export interface PointCloud {
  points: Float32Array;
  n: number;
  /** Mixture component (ring), moon (two moons); absent for the swiss roll. */
  labels?: Int32Array;
}

/** The exact density of a ring of Gaussians: an isotropic mixture, so metrics can score samples against the truth. */
export interface GaussianMixture2d {
  /** [modes, 2] row-major, float64. */
  means: Float64Array;
  std: number;
  weights: Float64Array;
}

export interface RingOfGaussiansOptions {
  n: number;
  generator: Generator;
  /** Default 8. */
  modes?: number;
  /** Default 2 (the usual setting in the mode-collapse literature). */
  radius?: number;
  /** Default 0.05. */
  std?: number;
}

function checkCount(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 1) throw new LdmError('INVALID_ARGUMENT', `${what}: n must be a positive integer, got ${n}`);
}

/** The mixture `ringOfGaussians` samples from: equal weights, means on a circle starting at angle 0. */
export function ringOfGaussiansDensity(options: { modes?: number; radius?: number; std?: number } = {}): GaussianMixture2d {
  const { modes = 8, radius = 2, std = 0.05 } = options;
  if (!Number.isInteger(modes) || modes < 1) throw new LdmError('INVALID_ARGUMENT', `ringOfGaussians: modes must be a positive integer, got ${modes}`);
  if (!(std > 0)) throw new LdmError('INVALID_ARGUMENT', `ringOfGaussians: std must be positive, got ${std}`);
  const means = new Float64Array(modes * 2);
  for (let k = 0; k < modes; k++) {
    const angle = (2 * Math.PI * k) / modes;
    means[2 * k] = radius * Math.cos(angle);
    means[2 * k + 1] = radius * Math.sin(angle);
  }
  return { means, std, weights: new Float64Array(modes).fill(1 / modes) };
}

/** log p(x, y) under a 2-D isotropic Gaussian mixture (log-sum-exp, float64). */
export function gaussianMixtureLogDensity(mixture: GaussianMixture2d, x: number, y: number): number {
  const { means, std, weights } = mixture;
  const logNorm = -Math.log(2 * Math.PI * std * std);
  const terms: number[] = [];
  for (let k = 0; k < weights.length; k++) {
    const dx = x - means[2 * k]!;
    const dy = y - means[2 * k + 1]!;
    terms.push(Math.log(weights[k]!) + logNorm - (dx * dx + dy * dy) / (2 * std * std));
  }
  const m = Math.max(...terms);
  return m + Math.log(terms.reduce((s, t) => s + Math.exp(t - m), 0));
}

/** Samples of a ring of Gaussians (the mode-collapse test), with the mode of each point and the true density. */
export function ringOfGaussians(options: RingOfGaussiansOptions): PointCloud & { density: GaussianMixture2d } {
  const { n, generator } = options;
  checkCount(n, 'ringOfGaussians');
  const density = ringOfGaussiansDensity(options);
  const modes = density.weights.length;
  const u = generator.uniform(n);
  const z = generator.normal(2 * n);
  const points = new Float32Array(2 * n);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = Math.min(Math.floor(u[i]! * modes), modes - 1);
    labels[i] = k;
    points[2 * i] = density.means[2 * k]! + density.std * z[2 * i]!;
    points[2 * i + 1] = density.means[2 * k + 1]! + density.std * z[2 * i + 1]!;
  }
  return { points, n, labels, density };
}

export interface SwissRollOptions {
  n: number;
  generator: Generator;
  /** Std of Gaussian noise added to each coordinate, after scaling. Default 0.02. */
  noise?: number;
}

/** The 2-D swiss roll (t·cos t, t·sin t), t uniform in [1.5π, 4.5π] as scikit-learn, scaled into about [-2, 2]. */
export function swissRoll(options: SwissRollOptions): PointCloud {
  const { n, generator, noise = 0.02 } = options;
  checkCount(n, 'swissRoll');
  const scale = 2 / (4.5 * Math.PI);
  const u = generator.uniform(n);
  const z = generator.normal(2 * n);
  const points = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const t = 1.5 * Math.PI * (1 + 2 * u[i]!);
    points[2 * i] = t * Math.cos(t) * scale + noise * z[2 * i]!;
    points[2 * i + 1] = t * Math.sin(t) * scale + noise * z[2 * i + 1]!;
  }
  return { points, n };
}

export interface TwoMoonsOptions {
  n: number;
  generator: Generator;
  /** Std of Gaussian noise on each coordinate. Default 0.05. */
  noise?: number;
}

/** scikit-learn's two interleaved half circles (radius 1), centred on the origin; label 0 = upper moon, 1 = lower. */
export function twoMoons(options: TwoMoonsOptions): PointCloud {
  const { n, generator, noise = 0.05 } = options;
  checkCount(n, 'twoMoons');
  const u = generator.uniform(n);
  const which = generator.uniform(n);
  const z = generator.normal(2 * n);
  const points = new Float32Array(2 * n);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const theta = Math.PI * u[i]!;
    const lower = which[i]! >= 0.5;
    labels[i] = lower ? 1 : 0;
    // Centre of the pair is (0.5, 0.25) in scikit-learn's coordinates.
    const x = lower ? 1 - Math.cos(theta) : Math.cos(theta);
    const y = lower ? 0.5 - Math.sin(theta) : Math.sin(theta);
    points[2 * i] = x - 0.5 + noise * z[2 * i]!;
    points[2 * i + 1] = y - 0.25 + noise * z[2 * i + 1]!;
  }
  return { points, n, labels };
}
