import { describe, expect, it } from 'vitest';
import { Generator } from '@ldm/backend';
import { gaussianMixtureLogDensity, ringOfGaussians, ringOfGaussiansDensity, swissRoll, twoMoons } from './toy-2d';

describe('2-D toy distributions', () => {
  it('ring of 8 Gaussians: means on the circle, each point near its labelled mode, balanced modes, empirical std matches', () => {
    const n = 40000;
    const { points, labels, density } = ringOfGaussians({ n, generator: new Generator(0), radius: 2, std: 0.05 });
    expect(density.means.length).toBe(16);
    for (let k = 0; k < 8; k++) {
      expect(Math.hypot(density.means[2 * k]!, density.means[2 * k + 1]!)).toBeCloseTo(2, 12);
      expect(density.weights[k]).toBe(1 / 8);
    }
    expect(density.means[2]).toBeCloseTo(Math.SQRT2, 12);
    const counts = new Array<number>(8).fill(0);
    let sq = 0;
    for (let i = 0; i < n; i++) {
      const k = labels![i]!;
      counts[k]!++;
      const dx = points[2 * i]! - density.means[2 * k]!;
      const dy = points[2 * i + 1]! - density.means[2 * k + 1]!;
      sq += dx * dx + dy * dy;
    }
    // Each count ~ Binomial(n, 1/8): sd ≈ 66.
    for (const c of counts) expect(Math.abs(c - n / 8)).toBeLessThan(5 * 66);
    // E|x - mu|² = 2σ²; relative sd of the estimate ≈ 1/sqrt(n).
    expect(Math.sqrt(sq / (2 * n))).toBeCloseTo(0.05, 3);
  });

  it('the mixture log-density matches the closed form at a mode and far away', () => {
    const d = ringOfGaussiansDensity({ modes: 8, radius: 2, std: 0.1 });
    // At a mean the other modes (distance ≥ 1.53) contribute nothing measurable.
    expect(gaussianMixtureLogDensity(d, 2, 0)).toBeCloseTo(Math.log(1 / 8) - Math.log(2 * Math.PI * 0.01), 10);
    // At the centre all 8 modes are at distance 2: log p = -log(2πσ²) - 2²/(2σ²).
    expect(gaussianMixtureLogDensity(d, 0, 0)).toBeCloseTo(-Math.log(2 * Math.PI * 0.01) - 4 / 0.02, 8);
  });

  it('is seeded: same seed same points, different seed different points', () => {
    const a = ringOfGaussians({ n: 100, generator: new Generator(1) }).points;
    const b = ringOfGaussians({ n: 100, generator: new Generator(1) }).points;
    const c = ringOfGaussians({ n: 100, generator: new Generator(2) }).points;
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    expect(Array.from(twoMoons({ n: 50, generator: new Generator(1) }).points)).toEqual(Array.from(twoMoons({ n: 50, generator: new Generator(1) }).points));
  });

  it('swiss roll without noise lies on the spiral r = θ·scale, within [-2, 2]', () => {
    const { points } = swissRoll({ n: 2000, generator: new Generator(3), noise: 0 });
    const scale = 2 / (4.5 * Math.PI);
    for (let i = 0; i < 2000; i++) {
      const x = points[2 * i]!;
      const y = points[2 * i + 1]!;
      const t = Math.hypot(x, y) / scale;
      expect(t).toBeGreaterThanOrEqual(1.5 * Math.PI - 1e-4);
      expect(t).toBeLessThanOrEqual(4.5 * Math.PI + 1e-4);
      // The angle of the point equals t modulo 2π.
      const diff = Math.atan2(y, x) - t;
      expect(Math.abs(Math.atan2(Math.sin(diff), Math.cos(diff)))).toBeLessThan(1e-4);
    }
  });

  it('two moons without noise lie on two unit half circles, centred, with both labels', () => {
    const { points, labels } = twoMoons({ n: 2000, generator: new Generator(4), noise: 0 });
    let sx = 0;
    let sy = 0;
    for (let i = 0; i < 2000; i++) {
      const x = points[2 * i]! + 0.5;
      const y = points[2 * i + 1]! + 0.25;
      sx += points[2 * i]!;
      sy += points[2 * i + 1]!;
      if (labels![i] === 0) {
        expect(Math.hypot(x, y)).toBeCloseTo(1, 5);
        expect(y).toBeGreaterThanOrEqual(-1e-6);
      } else {
        expect(Math.hypot(x - 1, y - 0.5)).toBeCloseTo(1, 5);
        expect(y).toBeLessThanOrEqual(0.5 + 1e-6);
      }
    }
    expect(new Set(labels).size).toBe(2);
    // Means: upper moon (0, 2/π), lower (1, 1/2 - 2/π); their average (1/2, 1/4) is what the shift removes.
    expect(Math.abs(sx / 2000)).toBeLessThan(0.05);
    expect(Math.abs(sy / 2000)).toBeLessThan(0.05);
  });

  it('rejects bad counts and parameters', () => {
    expect(() => ringOfGaussians({ n: 0, generator: new Generator(0) })).toThrow(/n must be a positive integer/);
    expect(() => ringOfGaussians({ n: 5, generator: new Generator(0), std: 0 })).toThrow(/std must be positive/);
  });
});
