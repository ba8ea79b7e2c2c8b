import { LdmError } from '@ldm/backend';
import type { BetaSchedule } from './config';

/** Inputs that determine the betas; a subset of SchedulerConfig. */
export interface BetaScheduleOptions {
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  betaSchedule: BetaSchedule;
  trainedBetas?: ArrayLike<number> | null;
  rescaleBetasZeroSnr?: boolean;
}

function linspace(start: number, end: number, n: number): Float64Array {
  const out = new Float64Array(n);
  if (n === 1) {
    out[0] = start;
    return out;
  }
  const step = (end - start) / (n - 1);
  for (let i = 0; i < n; i++) out[i] = i === n - 1 ? end : start + i * step;
  return out;
}

/** Cosine schedule of Nichol & Dhariwal: ᾱ(t) = cos²((t + 0.008)/1.008 · π/2), betas capped at 0.999 (diffusers' betas_for_alpha_bar). */
function squaredcosCapV2(n: number): Float64Array {
  const alphaBar = (t: number): number => Math.cos(((t + 0.008) / 1.008) * Math.PI * 0.5) ** 2;
  const betas = new Float64Array(n);
  for (let i = 0; i < n; i++) betas[i] = Math.min(1 - alphaBar((i + 1) / n) / alphaBar(i / n), 0.999);
  return betas;
}

/**
 * Lin et al. 2023 (arXiv 2305.08891) Algorithm 1: shift √ᾱ so its last value is 0 and scale it so the first is
 * unchanged. The last beta becomes 1, so x_T is pure noise as it is at sampling time.
 */
export function rescaleZeroTerminalSnr(betas: ArrayLike<number>): Float64Array {
  const n = betas.length;
  const sqrtAlphaBar = new Float64Array(n);
  let prod = 1;
  for (let i = 0; i < n; i++) {
    prod *= 1 - (betas[i] as number);
    sqrtAlphaBar[i] = Math.sqrt(prod);
  }
  const first = sqrtAlphaBar[0] as number;
  const last = sqrtAlphaBar[n - 1] as number;
  const out = new Float64Array(n);
  let prevAlphaBar = 1;
  for (let i = 0; i < n; i++) {
    const s = (((sqrtAlphaBar[i] as number) - last) * first) / (first - last);
    const alphaBar = s * s;
    out[i] = 1 - (i === 0 ? alphaBar : alphaBar / prevAlphaBar);
    prevAlphaBar = alphaBar;
  }
  return out;
}

/** Betas in float64 for a named schedule (diffusers' formulas) or explicit trained betas. */
export function makeBetas(options: BetaScheduleOptions): Float64Array {
  const { numTrainTimesteps: n, betaStart, betaEnd } = options;
  let betas: Float64Array;
  if (options.trainedBetas) {
    betas = Float64Array.from(options.trainedBetas);
  } else {
    switch (options.betaSchedule) {
      case 'linear':
        betas = linspace(betaStart, betaEnd, n);
        break;
      case 'scaled_linear':
        betas = linspace(Math.sqrt(betaStart), Math.sqrt(betaEnd), n).map((b) => b * b);
        break;
      case 'squaredcos_cap_v2':
        betas = squaredcosCapV2(n);
        break;
      case 'sigmoid':
        betas = linspace(-6, 6, n).map((x) => (1 / (1 + Math.exp(-x))) * (betaEnd - betaStart) + betaStart);
        break;
      default:
        throw new LdmError(
          'INVALID_CONFIG',
          `beta_schedule: "${String(options.betaSchedule)}" is not one of linear, scaled_linear, squaredcos_cap_v2, sigmoid`,
        );
    }
  }
  return options.rescaleBetasZeroSnr ? rescaleZeroTerminalSnr(betas) : betas;
}

/**
 * A discrete noise schedule over training timesteps 0 … T−1, all in float64:
 * q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I) and the one-step posterior q(x_{t−1} | x_t, x_0).
 */
export class NoiseSchedule {
  readonly betas: Float64Array;
  readonly alphas: Float64Array;
  readonly alphasCumprod: Float64Array;
  /** ᾱ_{t−1}, with ᾱ_{−1} = 1. */
  readonly alphasCumprodPrev: Float64Array;
  /** Signal-to-noise ratio ᾱ_t / (1 − ᾱ_t). */
  readonly snr: Float64Array;
  /** β̃_t = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · β_t: the variance of q(x_{t−1} | x_t, x_0) (0 at t = 0). */
  readonly posteriorVariance: Float64Array;
  /** log β̃_t with t = 0 replaced by t = 1 (β̃_0 = 0), as Ho et al. use for the decoder. */
  readonly posteriorLogVarianceClipped: Float64Array;
  /** Posterior mean = posteriorMeanCoefX0[t] · x_0 + posteriorMeanCoefXt[t] · x_t. */
  readonly posteriorMeanCoefX0: Float64Array;
  readonly posteriorMeanCoefXt: Float64Array;

  constructor(betas: ArrayLike<number>) {
    const n = betas.length;
    if (n < 1) throw new LdmError('INVALID_CONFIG', 'noise schedule: betas must not be empty');
    for (let i = 0; i < n; i++) {
      const b = betas[i] as number;
      if (!(b > 0 && b <= 1)) throw new LdmError('INVALID_CONFIG', `noise schedule: beta[${i}] = ${b}; every beta must be in (0, 1]`);
    }
    this.betas = Float64Array.from(betas);
    this.alphas = this.betas.map((b) => 1 - b);
    this.alphasCumprod = new Float64Array(n);
    this.alphasCumprodPrev = new Float64Array(n);
    this.snr = new Float64Array(n);
    this.posteriorVariance = new Float64Array(n);
    this.posteriorLogVarianceClipped = new Float64Array(n);
    this.posteriorMeanCoefX0 = new Float64Array(n);
    this.posteriorMeanCoefXt = new Float64Array(n);
    let prod = 1;
    for (let t = 0; t < n; t++) {
      const prev = prod;
      prod *= this.alphas[t] as number;
      const beta = this.betas[t] as number;
      this.alphasCumprod[t] = prod;
      this.alphasCumprodPrev[t] = prev;
      this.snr[t] = prod / (1 - prod);
      this.posteriorVariance[t] = ((1 - prev) / (1 - prod)) * beta;
      this.posteriorMeanCoefX0[t] = (Math.sqrt(prev) * beta) / (1 - prod);
      this.posteriorMeanCoefXt[t] = (Math.sqrt(this.alphas[t] as number) * (1 - prev)) / (1 - prod);
    }
    for (let t = 0; t < n; t++) {
      const v = t === 0 && n > 1 ? (this.posteriorVariance[1] as number) : (this.posteriorVariance[t] as number);
      this.posteriorLogVarianceClipped[t] = Math.log(v);
    }
  }

  static fromOptions(options: BetaScheduleOptions): NoiseSchedule {
    return new NoiseSchedule(makeBetas(options));
  }

  get numTrainTimesteps(): number {
    return this.betas.length;
  }
}
