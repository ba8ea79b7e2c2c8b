import { describe, expect, it } from 'vitest';
import { NoiseSchedule, makeBetas, rescaleZeroTerminalSnr } from './schedule';
import { minSnrWeights } from './loss';

const linear = NoiseSchedule.fromOptions({ numTrainTimesteps: 1000, betaSchedule: 'linear', betaStart: 0.0001, betaEnd: 0.02 });

describe('NoiseSchedule', () => {
  it('matches the numpy reference values of anchors b5 (linear 1e-4…0.02)', () => {
    expect(linear.alphasCumprod[0]).toBeCloseTo(0.9999, 10);
    expect(Math.abs((linear.alphasCumprod[499] as number) - 0.0785872)).toBeLessThan(1e-6);
    expect(Math.abs((linear.alphasCumprod[999] as number) - 4.0358e-5) / 4.0358e-5).toBeLessThan(1e-4);
    // b5 quotes SNR₀ = 9997.3 from float32 (1 − ᾱ₀ loses digits there); float64 gives the closed form 0.9999/0.0001.
    expect(linear.snr[0]).toBeCloseTo(0.9999 / 0.0001, 6);
    expect(Math.abs((linear.snr[0] as number) - 9997.3) / 9997.3).toBeLessThan(2e-4);
    expect(Math.abs((linear.snr[249] as number) - 1.1012)).toBeLessThan(1e-4);
    expect(Math.abs((linear.snr[499] as number) - 0.08529)).toBeLessThan(1e-5);
    expect(Array.from(linear.snr).findIndex((s) => s < 5)).toBe(130);
    const w = minSnrWeights(linear, 'epsilon', 5);
    expect(Math.abs((w[0] as number) - 0.0005)).toBeLessThan(1e-5);
    expect(Math.abs((w[100] as number) - 0.5857)).toBeLessThan(1e-4);
    const sd = NoiseSchedule.fromOptions({ numTrainTimesteps: 1000, betaSchedule: 'scaled_linear', betaStart: 0.00085, betaEnd: 0.012 });
    expect(Math.abs((sd.alphasCumprod[999] as number) - 0.00466)).toBeLessThan(1e-5);
  });

  it('posterior q(x_{t-1}|x_t,x_0): coefficients and variance satisfy the Gaussian identities', () => {
    for (const t of [1, 10, 500, 999]) {
      const ab = linear.alphasCumprod[t] as number;
      const abPrev = linear.alphasCumprod[t - 1] as number;
      const beta = linear.betas[t] as number;
      // Marginalising x_t out of the posterior must give back q(x_{t−1}|x_0): mean √ᾱ_{t−1} x_0, variance 1 − ᾱ_{t−1}.
      const c0 = linear.posteriorMeanCoefX0[t] as number;
      const ct = linear.posteriorMeanCoefXt[t] as number;
      expect(c0 + ct * Math.sqrt(ab)).toBeCloseTo(Math.sqrt(abPrev), 12);
      expect(ct * ct * (1 - ab) + (linear.posteriorVariance[t] as number)).toBeCloseTo(1 - abPrev, 12);
      expect(linear.posteriorVariance[t]).toBeCloseTo(((1 - abPrev) / (1 - ab)) * beta, 15);
    }
    expect(linear.posteriorVariance[0]).toBe(0);
    expect(linear.posteriorLogVarianceClipped[0]).toBe(Math.log(linear.posteriorVariance[1] as number));
  });

  it('sigmoid: σ(linspace(−6, 6)) rescaled to [β_start, β_end], symmetric about the midpoint', () => {
    const b = makeBetas({ numTrainTimesteps: 1000, betaSchedule: 'sigmoid', betaStart: 0.0001, betaEnd: 0.02 });
    expect(b[0]).toBeCloseTo(0.0001 + 0.0199 / (1 + Math.exp(6)), 12);
    expect((b[0] as number) + (b[999] as number)).toBeCloseTo(0.0201, 12);
  });

  it('zero-terminal-SNR rescale: last ᾱ = 0, first unchanged, SNR still decreasing', () => {
    const betas = makeBetas({ numTrainTimesteps: 1000, betaSchedule: 'scaled_linear', betaStart: 0.00085, betaEnd: 0.012 });
    const before = new NoiseSchedule(betas);
    const after = new NoiseSchedule(rescaleZeroTerminalSnr(betas));
    expect(after.alphasCumprod[999]).toBeLessThan(1e-12);
    expect(after.betas[999]).toBeCloseTo(1, 12);
    expect(after.alphasCumprod[0]).toBeCloseTo(before.alphasCumprod[0] as number, 12);
    for (let t = 1; t < 1000; t++) expect(after.snr[t] as number).toBeLessThan(after.snr[t - 1] as number);
  });

  it('trained betas are used as given; invalid betas are rejected', () => {
    const s = new NoiseSchedule([0.1, 0.2, 0.3]);
    expect(Array.from(s.alphasCumprod)).toEqual([0.9, 0.9 * 0.8, 0.9 * 0.8 * 0.7]);
    expect(() => new NoiseSchedule([0.1, 0])).toThrow(/beta\[1\]/);
    expect(() => new NoiseSchedule([0.1, 1.5])).toThrow(/\(0, 1\]/);
  });
});
