import { describe, expect, it } from 'vitest';
import { Generator, philox4x32 } from './random';

describe('philox4x32', () => {
  it('matches the Random123 known-answer tests', () => {
    const o = new Uint32Array(4);
    philox4x32(0, 0, 0, 0, 0, 0, o);
    expect([...o]).toEqual([0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
    philox4x32(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, o);
    expect([...o]).toEqual([0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]);
  });
});

describe('Generator', () => {
  it('gives the same numbers for the same seed and different ones for another', () => {
    expect(new Generator(7).normal(10)).toEqual(new Generator(7).normal(10));
    expect(new Generator(7).normal(10)).not.toEqual(new Generator(8).normal(10));
  });
  it('continues exactly from a saved state', () => {
    const g = new Generator(3);
    g.normal(13);
    const saved = g.state();
    const a = g.uniform(9);
    const h = new Generator(saved);
    expect(h.uniform(9)).toEqual(a);
  });
  it('splits into independent, reproducible streams', () => {
    const g = new Generator(5);
    expect(g.split('data').uniform(4)).toEqual(new Generator(5).split('data').uniform(4));
    expect(g.split('data').uniform(4)).not.toEqual(g.split('noise').uniform(4));
  });
  it('draws normals with mean 0 and variance 1 within statistical bounds', () => {
    const n = 200_000;
    const x = new Generator(11).normal(n);
    let s = 0;
    let s2 = 0;
    for (const v of x) {
      s += v;
      s2 += v * v;
    }
    const mean = s / n;
    const variance = s2 / n - mean * mean;
    // 5 standard errors: sd(mean) = 1/sqrt(n), sd(var) = sqrt(2/n).
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(variance - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
  });
  it('draws uniforms strictly inside (0, 1) with mean 1/2', () => {
    const u = new Generator(2).uniform(100_000);
    let s = 0;
    for (const v of u) {
      expect(v > 0 && v < 1).toBe(true);
      s += v;
    }
    expect(Math.abs(s / u.length - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / u.length));
  });
  it('permutes every index exactly once', () => {
    const p = new Generator(4).permutation(1000);
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });
});
