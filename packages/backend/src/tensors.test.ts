import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend';
import { Generator } from './random';
import { rand, randn } from './tensors';

describe('seeded noise tensors', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm' });
  });

  it('are bit-identical on cpu and wasm, and across runs with the same seed', async () => {
    const draws: Record<string, Float32Array[]> = {};
    for (const backend of ['cpu', 'wasm', 'cpu'] as const) {
      await tf.setBackend(backend);
      const g = new Generator(2024);
      const a = randn([2, 5, 5, 3], g);
      const b = rand([7], g);
      expect(a.shape).toEqual([2, 5, 5, 3]);
      draws[backend] ??= [];
      draws[backend].push(a.dataSync() as Float32Array, b.dataSync() as Float32Array);
      tf.dispose([a, b]);
    }
    expect(draws.wasm).toEqual(draws.cpu!.slice(0, 2));
    expect(draws.cpu!.slice(2)).toEqual(draws.cpu!.slice(0, 2));
  });

  it('have the moments of their distributions', () => {
    const g = new Generator(1);
    const n = tf.tidy(() => {
      const { mean, variance } = tf.moments(randn([20000], g));
      return [mean.dataSync()[0]!, variance.dataSync()[0]!];
    });
    // Standard errors for 20000 draws: mean 0.007, variance 0.01.
    expect(Math.abs(n[0]!)).toBeLessThan(0.03);
    expect(Math.abs(n[1]! - 1)).toBeLessThan(0.04);
    const u = rand([20000], g).dataSync();
    expect(Math.min(...u)).toBeGreaterThan(0);
    expect(Math.max(...u)).toBeLessThan(1);
  });
});
