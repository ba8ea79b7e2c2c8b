import { describe, expect, it } from 'vitest';
import { Generator } from '@ldm/backend';
import { classShares, modeCoverage } from './class-shares';
import { precisionRecall } from './precision-recall';
import { mmdRbf, modeShares, slicedWasserstein, toyQuality, wasserstein1dSquared } from './toy2d';

/** n points of an 8-Gaussian ring (radius 2, std 0.05), optionally keeping only some modes or shifted. */
function ring(n: number, g: Generator, options: { modes?: number[]; shift?: number; balanced?: boolean } = {}): Float64Array {
  const modes = options.modes ?? [0, 1, 2, 3, 4, 5, 6, 7];
  const noise = g.normal(2 * n);
  const pick = g.uniform(n);
  const out = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    // Balanced sets give every mode the same count, removing the multinomial noise in the mode weights.
    const m = modes[options.balanced ? i % modes.length : Math.floor(pick[i]! * modes.length)]!;
    const angle = (2 * Math.PI * m) / 8;
    out[2 * i] = 2 * Math.cos(angle) + 0.05 * noise[2 * i]! + (options.shift ?? 0);
    out[2 * i + 1] = 2 * Math.sin(angle) + 0.05 * noise[2 * i + 1]!;
  }
  return out;
}

const ringMeans = Float64Array.from({ length: 16 }, (_, i) => {
  const angle = (2 * Math.PI * (i >> 1)) / 8;
  return 2 * (i % 2 ? Math.sin(angle) : Math.cos(angle));
});

describe('2-D distances', () => {
  it('1-D W2² matches the closed form for a shift and for unequal sizes', () => {
    expect(wasserstein1dSquared(Float64Array.from([0, 1, 2]), Float64Array.from([3, 4, 5]))).toBeCloseTo(9, 12);
    // Point mass at 0 against {−1, 1}: every quantile moves by 1.
    expect(wasserstein1dSquared(Float64Array.from([0]), Float64Array.from([-1, 1]))).toBeCloseTo(1, 12);
  });

  it('sliced Wasserstein: near 0 for exact samples, ≈ the shift for a shifted set, large when modes drop', () => {
    const g = new Generator(10);
    const real = ring(2000, g, { balanced: true });
    const opts = { projections: 64, generator: new Generator(0) };
    const exact = slicedWasserstein(real, ring(2000, g, { balanced: true }), opts);
    expect(exact).toBeLessThan(0.01);
    // With random mode counts, W2 also sees the multinomial noise of the weights (≈ √(1%)·distance).
    const sampled = slicedWasserstein(real, ring(2000, g), opts);
    expect(sampled).toBeLessThan(0.25);
    // A shift s along x projects to s·cosθ; sqrt(mean cos²) = 1/√2.
    const shifted = ring(2000, g, { shift: 1, balanced: true });
    expect(slicedWasserstein(real, shifted, { projections: 256 })).toBeCloseTo(1 / Math.SQRT2, 1);
    const dropped = ring(2000, g, { modes: [0, 1, 2] });
    expect(slicedWasserstein(real, dropped, opts)).toBeGreaterThan(4 * sampled);
  });

  it('MMD: near 0 for exact samples, clearly positive for shifted or mode-dropping samples', () => {
    const g = new Generator(11);
    const real = ring(400, g);
    const same = ring(400, g);
    const exact = mmdRbf(real, same);
    expect(Math.abs(exact)).toBeLessThan(0.02);
    expect(mmdRbf(real, ring(400, g, { shift: 0.5 }))).toBeGreaterThan(0.2);
    expect(mmdRbf(real, ring(400, g, { modes: [0, 4] }))).toBeGreaterThan(0.2);
  });

  it('mode shares: count each mode, and samples between modes', () => {
    const g = new Generator(12);
    const real = modeShares(ring(4000, g), ringMeans, 0.25);
    expect(real.between).toBeLessThan(0.01);
    expect(real.modesCovered).toBe(8);
    for (const s of real.perMode) expect(s).toBeCloseTo(1 / 8, 1);
    const dropped = modeShares(ring(4000, g, { modes: [2, 5] }), ringMeans, 0.25);
    expect(dropped.modesCovered).toBe(2);
    expect(dropped.perMode[2]! + dropped.perMode[5]!).toBeGreaterThan(0.99);
    // Points at the midpoints between neighbouring modes are "between".
    const mid = Float64Array.from([0, 0, 1.4, 1.4 * 0.41]);
    expect(modeShares(mid, ringMeans, 0.25).between).toBe(1);
  });
});

describe('toyQuality', () => {
  it('puts exact samples near zero and a mode-dropping sampler clearly above', () => {
    const g = new Generator(14);
    const reference = ring(600, g, { balanced: true });
    const exact = toyQuality(ring(600, g, { balanced: true }), reference, ringMeans, 0.25);
    const dropped = toyQuality(ring(600, g, { modes: [1, 3, 5, 7], balanced: true }), reference, ringMeans, 0.25);
    expect(exact.modesCovered).toBe(8);
    expect(dropped.modesCovered).toBe(4);
    expect(dropped.slicedWasserstein).toBeGreaterThan(10 * exact.slicedWasserstein);
    expect(dropped.mmd).toBeGreaterThan(0.05);
    expect(Math.abs(exact.mmd)).toBeLessThan(0.01);
  });
});

describe('precision and recall', () => {
  it('≈ 1 for two samples of one distribution; collapse keeps precision but loses recall; off-manifold loses precision', () => {
    const g = new Generator(13);
    const d = 8;
    const real = Float64Array.from(g.normal(500 * d));
    const same = Float64Array.from(g.normal(500 * d));
    const pr = precisionRecall(real, same, { d, k: 3 });
    expect(pr.precision).toBeGreaterThan(0.8);
    expect(pr.recall).toBeGreaterThan(0.8);
    // Every fake is one real-looking point repeated.
    const collapsed = new Float64Array(500 * d);
    for (let i = 0; i < 500; i++) collapsed.set(same.subarray(0, d), i * d);
    const prCollapsed = precisionRecall(real, collapsed, { d, k: 3 });
    expect(prCollapsed.recall).toBeLessThan(0.05);
    const far = same.map((x) => x + 10);
    expect(precisionRecall(real, far, { d, k: 3 }).precision).toBeLessThan(0.05);
  });
});

describe('class shares', () => {
  it('counts shares and flags a collapsed generator', () => {
    const shares = classShares(Int32Array.from([0, 1, 1, 2, 2, 2, 2, 2]), 4);
    expect([...shares]).toEqual([1 / 8, 2 / 8, 5 / 8, 0]);
    const cov = modeCoverage(shares);
    expect(cov.coveredClasses).toBe(3);
    expect(cov.dominantClass).toBe(2);
    expect(cov.maxShare).toBe(5 / 8);
    const uniform = modeCoverage(new Float64Array(10).fill(0.1));
    expect(uniform.normalizedEntropy).toBeCloseTo(1, 12);
    expect(uniform.coverage).toBe(1);
    expect(() => classShares([0, 10], 10)).toThrow(/outside/);
  });
});
