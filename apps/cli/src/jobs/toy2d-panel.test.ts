import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Generator, initBackend } from '@ldm/backend';
import { ringOfGaussians } from '@ldm/data';
import { modeShares, slicedWasserstein } from '@ldm/eval';
import { buildToyPanel } from './toy2d-panel';
import type { ToyPanelTimings } from './toy2d-panel';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

describe('buildToyPanel (quick)', () => {
  it('returns the four methods with finite metrics; exact-denoiser DDIM matches the data; no tensors leak', async () => {
    const before = tf.memory().numTensors;
    const timings: ToyPanelTimings = { vaeTrainSeconds: 0, ddpmTrainSeconds: 0, sampleSeconds: {}, vaeLoss: NaN, ddpmLoss: NaN };
    const panel = await buildToyPanel({ seed: 3, quick: true, timings });
    expect(tf.memory().numTensors).toBe(before);

    expect(panel.dataset).toBe('ring of 8 Gaussians');
    expect(panel.modeMeans).toHaveLength(16);
    expect(Math.hypot(panel.modeMeans[0]!, panel.modeMeans[1]!)).toBeCloseTo(2, 6);
    expect(panel.modeRadius).toBeGreaterThan(0);
    const count = panel.reference!.length / 2;
    expect(count).toBeGreaterThanOrEqual(100);
    expect(panel.methods.map((m) => m.name)).toEqual(['vae-1-step', 'ddpm-1000', 'ddim-50', 'ddim-50-exact']);
    for (const m of panel.methods) {
      expect(m.points).toHaveLength(2 * count);
      expect(m.points.every(Number.isFinite)).toBe(true);
      for (const v of [m.slicedWasserstein, m.mmd, m.betweenModes]) expect(Number.isFinite(v)).toBe(true);
      expect(m.modeShares).toHaveLength(8);
      const total = m.modeShares!.reduce((a, b) => a + b, 0) + m.betweenModes!;
      expect(total).toBeCloseTo(1, 9);
    }
    expect(timings.vaeTrainSeconds).toBeGreaterThan(0);
    expect(timings.ddpmTrainSeconds).toBeGreaterThan(0);
    expect(Number.isFinite(timings.ddpmLoss)).toBe(true);

    // Real vs real at the same sample size: the floor of the sliced Wasserstein distance.
    const fresh = ringOfGaussians({ n: count, generator: new Generator(99) });
    const floor = slicedWasserstein(fresh.points, panel.reference!);
    const exact = panel.methods.find((m) => m.name === 'ddim-50-exact')!;
    expect(exact.slicedWasserstein!).toBeLessThan(2 * floor + 0.05);
    const covered = modeShares(exact.points, panel.modeMeans, panel.modeRadius!).modesCovered;
    expect(covered).toBeGreaterThanOrEqual(7);
    expect(exact.betweenModes!).toBeLessThan(0.1);

    // Seeded: the same seed gives the same exact-denoiser samples.
    const again = await buildToyPanel({ seed: 3, quick: true, samples: 50, vaeSteps: 2, ddpmSteps: 2 });
    const once = await buildToyPanel({ seed: 3, quick: true, samples: 50, vaeSteps: 2, ddpmSteps: 2 });
    expect(again.methods.map((m) => m.points)).toEqual(once.methods.map((m) => m.points));
    expect(tf.memory().numTensors).toBe(before);
  });
});
