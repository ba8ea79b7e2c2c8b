import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Generator, initBackend } from '@ldm/backend';
import { gaussianMixtureDenoiser, sample } from '@ldm/ddpm';
import type { GaussianMixture } from '@ldm/ddpm';
import { MIXTURE_1D, MIXTURE_2D, WIDE_MIXTURE_1D, WIDE_MIXTURE_2D, componentStats, worstZScore } from '../../ddpm/test/mixture-stats';
import type { ComponentStats } from '../../ddpm/test/mixture-stats';
import { DDIMScheduler } from './ddim-scheduler';
import { ddimInvert } from './inversion';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

function ddimSamples(mixture: GaussianMixture, steps: number, n: number, seed: number): Float32Array {
  const scheduler = new DDIMScheduler({ clipSample: false, timestepSpacing: 'linspace' });
  scheduler.setTimesteps(steps);
  const d = mixture.means[0]?.length ?? 1;
  const x = sample({ denoiser: gaussianMixtureDenoiser(mixture, scheduler.schedule.alphasCumprod), scheduler, shape: [n, d], seed, eta: 0 });
  const v = x.dataSync() as Float32Array;
  x.dispose();
  return v;
}

/** Exact draws from the mixture (for the inversion round trip). */
function drawMixture(mixture: GaussianMixture, n: number, generator: Generator): tf.Tensor {
  const d = mixture.means[0]?.length ?? 1;
  const u = generator.uniform(n);
  const z = generator.normal(n * d);
  const total = mixture.weights.reduce((a, b) => a + b, 0);
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    let c = 0;
    let acc = (mixture.weights[0] as number) / total;
    while ((u[i] as number) > acc && c < mixture.weights.length - 1) acc += (mixture.weights[++c] as number) / total;
    for (let j = 0; j < d; j++) out[i * d + j] = (mixture.means[c]?.[j] as number) + Math.sqrt(mixture.variances[c] as number) * (z[i * d + j] as number);
  }
  return tf.tensor(out, [n, d]);
}

const describeStats = (stats: ComponentStats[]): string =>
  stats.map((s) => `w ${s.weight.toFixed(3)} μ [${s.mean.map((m) => m.toFixed(3)).join(',')}] σ² ${s.variance.toFixed(4)}`).join(' | ');

describe('DDIM (η = 0) driven by ε* reproduces the mixture; drift at fewer steps', () => {
  const cases = [
    ['1-D wide', WIDE_MIXTURE_1D, true],
    ['2-D wide', WIDE_MIXTURE_2D, true],
    ['1-D narrow', MIXTURE_1D, false],
    ['2-D narrow', MIXTURE_2D, false],
  ] as const;
  for (const [name, mixture, mustMatchAt50] of cases) {
    it(`${name} (σ² ${mixture.variances.join(', ')}): ${mustMatchAt50 ? '50 steps within 4 standard errors; ' : ''}drift at 20 and 10 steps grows`, () => {
      const n = 2000;
      const rows: string[] = [];
      const worst: Record<number, number> = {};
      for (const steps of [50, 20, 10]) {
        const stats = componentStats(ddimSamples(mixture, steps, n, 11), mixture);
        worst[steps] = worstZScore(stats, mixture, n);
        const varErr = stats.map((s, c) => `${(100 * (s.variance / (mixture.variances[c] as number) - 1)).toFixed(1)}%`).join(' ');
        rows.push(
          `DDIM ${name} ${steps} steps: worst z ${(worst[steps] as number).toFixed(2)}, σ² rel. error per component ${varErr} :: ${describeStats(stats)}`,
        );
      }
      console.log(rows.join('\n'));
      if (mustMatchAt50) expect(worst[50]).toBeLessThan(4);
      // Same initial noise for every step count, so the comparison is paired.
      expect(worst[10]).toBeGreaterThan(worst[50] as number);
    });
  }

  it('the narrow-component variance loss is DDIM’s own discretisation: matches the closed form for one Gaussian', () => {
    // For N(μ, σ²) data the exact ε* is linear, and one η = 0 step from t to t' scales x − √ᾱ μ by
    // c = (√(ᾱᾱ')σ² + √((1−ᾱ)(1−ᾱ')))/(ᾱσ² + 1 − ᾱ) ≤ s'/s (Cauchy–Schwarz): the output variance is Π c² exactly.
    const sigma2 = 0.04;
    const gaussian: GaussianMixture = { weights: [1], means: [[0.5]], variances: [sigma2] };
    const scheduler = new DDIMScheduler({ clipSample: false, timestepSpacing: 'linspace' });
    scheduler.setTimesteps(50);
    let factor = 1;
    scheduler.timesteps.forEach((t) => {
      const a = scheduler.alphaBarAt(t);
      const ap = scheduler.alphaBarAt(scheduler.previousTimestep(t));
      factor *= ((Math.sqrt(a * ap) * sigma2 + Math.sqrt((1 - a) * (1 - ap))) / (a * sigma2 + 1 - a)) ** 2;
    });
    const n = 4000;
    const v = ddimSamples(gaussian, 50, n, 3);
    const mean = v.reduce((acc, x) => acc + x, 0) / n;
    const variance = v.reduce((acc, x) => acc + (x - mean) ** 2, 0) / (n - 1);
    console.log(`one Gaussian σ² = ${sigma2}, DDIM 50 linspace steps: sampled σ² ${variance.toFixed(5)}, closed form ${factor.toFixed(5)} (truth ${sigma2})`);
    expect(Math.abs(variance - factor)).toBeLessThan(4 * factor * Math.sqrt(2 / n));
    expect(Math.abs(mean - 0.5)).toBeLessThan(4 * Math.sqrt(factor / n));
  });

  it('zero terminal SNR (rescaled betas, v_prediction, trailing): x_T is pure noise and 50 steps still match (1-D wide)', () => {
    const scheduler = new DDIMScheduler({ clipSample: false, timestepSpacing: 'trailing', rescaleBetasZeroSnr: true, predictionType: 'v_prediction' });
    scheduler.setTimesteps(50);
    expect(scheduler.schedule.alphasCumprod[999]).toBeLessThan(1e-12);
    const mixture = WIDE_MIXTURE_1D;
    const x = sample({ denoiser: gaussianMixtureDenoiser(mixture, scheduler.schedule.alphasCumprod, 'v_prediction'), scheduler, shape: [2000, 1], seed: 4 });
    const v = x.dataSync() as Float32Array;
    x.dispose();
    expect(v.every(Number.isFinite)).toBe(true);
    const z = worstZScore(componentStats(v, mixture), mixture, 2000);
    console.log(`zero-SNR v_prediction DDIM 50 trailing steps, 1-D wide: worst z ${z.toFixed(2)}`);
    expect(z).toBeLessThan(4);
  });

  it('same seed → same samples, different seed → different; no tensors leak over the loop', () => {
    const before = tf.memory().numTensors;
    const a = ddimSamples(MIXTURE_2D, 10, 16, 1);
    expect(ddimSamples(MIXTURE_2D, 10, 16, 1)).toEqual(a);
    expect(ddimSamples(MIXTURE_2D, 10, 16, 2)).not.toEqual(a);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('DDIM inversion', () => {
  it('walks the schedule upwards: steps_offset=1, 5 steps → [1, 201, 401, 601, 801] (diffusers test_scheduler_ddim_inverse)', () => {
    const scheduler = new DDIMScheduler({ stepsOffset: 1, clipSample: false });
    scheduler.setTimesteps(5);
    const seen: number[] = [];
    const x0 = tf.zeros([2, 2]);
    const xT = ddimInvert({ denoiser: (x) => tf.zerosLike(x), scheduler, x0, onStep: ({ t }) => seen.push(t) });
    expect(seen).toEqual([1, 201, 401, 601, 801]);
    tf.dispose([x0, xT]);
  });

  for (const [name, mixture, bound] of [
    ['wide', WIDE_MIXTURE_2D, 2e-3],
    ['narrow', MIXTURE_2D, 5e-3],
  ] as const) {
    it(`${name} 2-D mixture: x₀ → x_T → x₀ reconstructs its input; the error falls as steps grow (DDIM Table 2 analogue)`, () => {
      const x0 = drawMixture(mixture, 500, new Generator(21));
      const before = tf.memory().numTensors;
      const table: { steps: number; mse: number; latentStd: number }[] = [];
      for (const steps of [10, 20, 50, 100, 200]) {
        const scheduler = new DDIMScheduler({ clipSample: false, timestepSpacing: 'linspace' });
        scheduler.setTimesteps(steps);
        const denoiser = gaussianMixtureDenoiser(mixture, scheduler.schedule.alphasCumprod);
        const xT = ddimInvert({ denoiser, scheduler, x0 });
        const back = sample({ denoiser, scheduler, shape: x0.shape, initialNoise: xT, eta: 0 });
        const [mse, variance] = tf.tidy(() => [
          tf.mean(tf.squaredDifference(back, x0)).dataSync()[0] as number,
          tf.moments(xT).variance.dataSync()[0] as number,
        ]);
        table.push({ steps, mse: mse as number, latentStd: Math.sqrt(variance as number) });
        tf.dispose([xT, back]);
      }
      expect(tf.memory().numTensors).toBe(before);
      console.log(
        `DDIM inversion round trip (${name} 2-D mixture, per-dim MSE in data units):\n${table.map((r) => `  S=${r.steps}: MSE ${r.mse.toExponential(2)}, std(x_T) ${r.latentStd.toFixed(3)}`).join('\n')}`,
      );
      for (let i = 1; i < table.length; i++) expect((table[i] as { mse: number }).mse).toBeLessThan((table[i - 1] as { mse: number }).mse);
      expect((table[table.length - 1] as { mse: number }).mse).toBeLessThan(bound);
      x0.dispose();
    });
  }
});
