import { describe, expect, it } from 'vitest';
import { loadMnist } from './mnist';

describe('loadMnist', () => {
  it('loads the 10,000 embedded digits, about 1,000 a class, in [-1, 1], padded to 32×32 with background', () => {
    const t0 = performance.now();
    const ds = loadMnist();
    const firstLoadMs = performance.now() - t0;
    expect(ds.shape).toEqual([10000, 32, 32, 1]);
    expect(ds.images.length).toBe(10000 * 32 * 32);
    expect(ds.numClasses).toBe(10);
    const counts = new Array<number>(10).fill(0);
    for (const l of ds.labels!) counts[l]!++;
    for (const c of counts) expect(c).toBeGreaterThan(850);
    expect(counts.reduce((a, b) => a + b)).toBe(10000);
    let min = Infinity;
    let max = -Infinity;
    for (const v of ds.images) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect(min).toBe(-1);
    expect(max).toBe(1);
    // The 2-px border is background everywhere.
    for (let i = 0; i < 10000; i += 997) {
      const img = ds.images.subarray(i * 1024, (i + 1) * 1024);
      for (let x = 0; x < 32; x++) {
        expect(img[x]).toBe(-1);
        expect(img[32 + x]).toBe(-1);
        expect(img[31 * 32 + x]).toBe(-1);
        expect(img[x * 32]).toBe(-1);
        expect(img[x * 32 + 31]).toBe(-1);
      }
    }
    expect(firstLoadMs).toBeLessThan(5000);
    const t1 = performance.now();
    loadMnist();
    expect(performance.now() - t1).toBeLessThan(firstLoadMs);
  });

  it('keeps labels right: class mean images differ, and each image is nearest its own class mean far more often than chance', () => {
    const ds = loadMnist({ padTo32: false });
    expect(ds.shape).toEqual([10000, 28, 28, 1]);
    const means = Array.from({ length: 10 }, () => new Float64Array(784));
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 10000; i++) {
      const l = ds.labels![i]!;
      counts[l]!++;
      for (let k = 0; k < 784; k++) means[l]![k]! += ds.images[i * 784 + k]!;
    }
    means.forEach((m, l) => m.forEach((v, k) => (m[k] = v / counts[l]!)));
    let correct = 0;
    for (let i = 0; i < 10000; i += 7) {
      let best = -1;
      let bestD = Infinity;
      for (let l = 0; l < 10; l++) {
        let d = 0;
        for (let k = 0; k < 784; k++) d += (ds.images[i * 784 + k]! - means[l]![k]!) ** 2;
        if (d < bestD) [best, bestD] = [l, d];
      }
      if (best === ds.labels![i]) correct++;
    }
    // Nearest class mean classifies MNIST at about 80%; wrong labels would give about 10%.
    expect(correct / Math.ceil(10000 / 7)).toBeGreaterThan(0.7);
  });

  it('limit keeps a class-balanced prefix and the first image matches the unlimited load', () => {
    const small = loadMnist({ limit: 50 });
    expect(small.shape).toEqual([50, 32, 32, 1]);
    expect(new Set(small.labels).size).toBe(10);
    expect(Array.from(small.images.subarray(0, 1024))).toEqual(Array.from(loadMnist().images.subarray(0, 1024)));
    expect(() => loadMnist({ limit: 0 })).toThrow(/limit/);
  });
});
