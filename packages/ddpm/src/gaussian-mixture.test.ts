import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ldm/backend';
import { MIXTURE_1D, MIXTURE_2D, componentStats, worstZScore } from '../test/mixture-stats';
import { DDPMScheduler } from './ddpm-scheduler';
import { gaussianMixtureDenoiser, gaussianMixtureLogDensity } from './gaussian-mixture';
import type { GaussianMixture } from './gaussian-mixture';
import { sample } from './sample';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

const scheduler = new DDPMScheduler({ clipSample: false });
const ac = scheduler.schedule.alphasCumprod;

describe('gaussianMixtureDenoiser', () => {
  it('ε* = −√(1−ᾱ)·∇log p_t, checked against central differences of the noisy mixture’s log-density', () => {
    const t = 300;
    const a = ac[t] as number;
    const noisy: GaussianMixture = {
      weights: MIXTURE_2D.weights,
      means: MIXTURE_2D.means.map((m) => m.map((v) => v * Math.sqrt(a))),
      variances: MIXTURE_2D.variances.map((v) => a * v + 1 - a),
    };
    const points = [
      [0.1, -0.4],
      [1.2, 0.9],
      [-2, 0.5],
    ];
    const eps = gaussianMixtureDenoiser(MIXTURE_2D, ac)(tf.tensor(points), t).arraySync() as number[][];
    const h = 1e-2;
    points.forEach((p, i) => {
      for (let j = 0; j < 2; j++) {
        const plus = [...p];
        const minus = [...p];
        plus[j] = (plus[j] as number) + h;
        minus[j] = (minus[j] as number) - h;
        const lp = gaussianMixtureLogDensity(noisy, tf.tensor([plus, minus])).dataSync();
        const grad = ((lp[0] as number) - (lp[1] as number)) / (2 * h);
        expect(eps[i]?.[j]).toBeCloseTo(-Math.sqrt(1 - a) * grad, 2);
      }
    });
  });

  it('x̂₀ and v outputs are the same prediction read another way', () => {
    const x = tf.tensor([
      [0.3, 0.2],
      [-1, 2],
    ]);
    const t = 600;
    const a = ac[t] as number;
    const eps = gaussianMixtureDenoiser(MIXTURE_2D, ac, 'epsilon')(x, t).dataSync();
    const x0 = gaussianMixtureDenoiser(MIXTURE_2D, ac, 'sample')(x, t).dataSync();
    const v = gaussianMixtureDenoiser(MIXTURE_2D, ac, 'v_prediction')(x, t).dataSync();
    const xs = x.dataSync();
    xs.forEach((xi, i) => {
      expect(x0[i]).toBeCloseTo((xi - Math.sqrt(1 - a) * (eps[i] as number)) / Math.sqrt(a), 4);
      expect(v[i]).toBeCloseTo(Math.sqrt(a) * (eps[i] as number) - Math.sqrt(1 - a) * (x0[i] as number), 4);
    });
    expect(() => gaussianMixtureDenoiser(MIXTURE_2D, ac)(tf.zeros([2, 3]), 5)).toThrow(/D = 2/);
  });
});

describe('DDPM sampling (1000 steps) driven by ε* reproduces the mixture', () => {
  for (const [name, mixture] of [
    ['1-D', MIXTURE_1D],
    ['2-D', MIXTURE_2D],
  ] as const) {
    it(`${name}: component weights, means and variances within 4 standard errors`, () => {
      const n = 2000;
      const d = mixture.means[0]?.length ?? 1;
      const before = tf.memory().numTensors;
      let progressCalls = 0;
      const x = sample({
        denoiser: gaussianMixtureDenoiser(mixture, ac),
        scheduler,
        shape: [n, d],
        seed: 7,
        onStep: ({ step, total, t }) => {
          progressCalls++;
          expect(t).toBe(scheduler.timesteps[step]);
          expect(total).toBe(1000);
        },
      });
      expect(progressCalls).toBe(1000);
      expect(tf.memory().numTensors).toBe(before + 1);
      const stats = componentStats(x.dataSync() as Float32Array, mixture);
      x.dispose();
      const z = worstZScore(stats, mixture, n);
      console.log(
        `DDPM 1000 steps ${name}: worst z = ${z.toFixed(2)}`,
        JSON.stringify(stats.map((s) => ({ w: +s.weight.toFixed(4), m: s.mean.map((m) => +m.toFixed(4)), v: +s.variance.toFixed(5) }))),
      );
      expect(z).toBeLessThan(4);
    });
  }

  it('same seed → same samples, different seed → different; Generator and seed agree', () => {
    const small = new DDPMScheduler({ clipSample: false });
    small.setTimesteps(20);
    const run = (seed: number): Float32Array => {
      const x = sample({ denoiser: gaussianMixtureDenoiser(MIXTURE_1D, ac), scheduler: small, shape: [8, 1], seed });
      const v = x.dataSync() as Float32Array;
      x.dispose();
      return v;
    };
    expect(run(3)).toEqual(run(3));
    expect(run(3)).not.toEqual(run(4));
    expect(() => sample({ denoiser: (x) => x, scheduler: small, shape: [0, 1] })).toThrow(/positive integers/);
  });
});
