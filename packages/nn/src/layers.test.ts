import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, Generator, randn } from '@ldm/backend';
import { Conv2d, Dropout, GroupNorm, Linear, matMulFastGrad, sinusoidalEmbedding, upsampleNearest2x } from './index';

describe.each(['wasm', 'cpu'] as const)('layers on %s', (backend) => {
  beforeAll(async () => {
    await initBackend({ backend });
  });

  it('GroupNorm equals the two-pass definition per (sample, group), with affine', () => {
    const gen = new Generator(1);
    const gn = new GroupNorm(2, 4, 1e-5);
    gn.weight.assign(tf.tensor1d([1, 2, 3, 4]));
    gn.bias.assign(tf.tensor1d([0.5, 0, -1, 0]));
    const x = randn([2, 3, 3, 4], gen) as tf.Tensor4D;
    const y = gn.forward(x).arraySync() as number[][][][];
    const xs = x.arraySync() as number[][][][];
    const gamma = [1, 2, 3, 4];
    const beta = [0.5, 0, -1, 0];
    for (let b = 0; b < 2; b++) {
      for (let g = 0; g < 2; g++) {
        const vals: number[] = [];
        for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let c = 2 * g; c < 2 * g + 2; c++) vals.push(xs[b]![i]![j]![c]!);
        const mean = vals.reduce((a, v) => a + v, 0) / vals.length;
        const variance = vals.reduce((a, v) => a + (v - mean) ** 2, 0) / vals.length;
        for (let i = 0; i < 3; i++)
          for (let j = 0; j < 3; j++)
            for (let c = 2 * g; c < 2 * g + 2; c++) {
              const ref = ((xs[b]![i]![j]![c]! - mean) / Math.sqrt(variance + 1e-5)) * gamma[c]! + beta[c]!;
              expect(Math.abs(y[b]![i]![j]![c]! - ref)).toBeLessThan(1e-5);
            }
      }
    }
    x.dispose();
    gn.dispose();
  });

  it('Conv2d with PyTorch padding: stride-2 pad-1 output matches a direct sum', () => {
    const gen = new Generator(2);
    const conv = new Conv2d(2, 3, { kernelSize: 3, stride: 2, padding: 1 }, gen);
    const x = randn([1, 4, 4, 2], gen) as tf.Tensor4D;
    const y = conv.forward(x);
    expect(y.shape).toEqual([1, 2, 2, 3]);
    const xs = x.arraySync()[0]!;
    const k = conv.weight.arraySync() as number[][][][];
    const bias = conv.bias!.arraySync() as number[];
    const ys = y.arraySync()[0]!;
    for (let oi = 0; oi < 2; oi++)
      for (let oj = 0; oj < 2; oj++)
        for (let o = 0; o < 3; o++) {
          let s = bias[o]!;
          for (let di = 0; di < 3; di++)
            for (let dj = 0; dj < 3; dj++) {
              const i = oi * 2 - 1 + di;
              const j = oj * 2 - 1 + dj;
              if (i < 0 || j < 0 || i >= 4 || j >= 4) continue;
              for (let c = 0; c < 2; c++) s += xs[i]![j]![c]! * k[di]![dj]![c]![o]!;
            }
          expect(Math.abs(ys[oi]![oj]![o]! - s)).toBeLessThan(1e-5);
        }
    expect(conv.flops(4, 4)).toBe(2 * 2 * 2 * 9 * 2 * 3);
    tf.dispose([x, y]);
    conv.dispose();
  });

  it('init follows PyTorch: |W| ≤ 1/√fan_in with the uniform variance, seeded', () => {
    const a = new Linear(64, 256, new Generator(3));
    const b = new Linear(64, 256, new Generator(3));
    const w = a.weight.dataSync();
    const bound = 1 / 8;
    let sq = 0;
    let max = 0;
    for (const v of w) {
      max = Math.max(max, Math.abs(v));
      sq += v * v;
    }
    expect(max).toBeLessThanOrEqual(bound);
    expect(max).toBeGreaterThan(0.99 * bound);
    expect(sq / w.length).toBeCloseTo(bound ** 2 / 3, 4);
    expect(Array.from(b.weight.dataSync())).toEqual(Array.from(w));
    a.dispose();
    b.dispose();
  });

  it('sinusoidal embedding: diffusers formula, flip_sin_to_cos and freq_shift', () => {
    const t = tf.tensor1d([0, 3]);
    const e = sinusoidalEmbedding(t, 8, { flipSinToCos: false, freqShift: 1 }).arraySync();
    const f = [0, 1, 2, 3].map((k) => Math.exp((-Math.log(10000) * k) / (4 - 1)));
    f.forEach((fk, k) => {
      expect(e[1]![k]!).toBeCloseTo(Math.sin(3 * fk), 5);
      expect(e[1]![k + 4]!).toBeCloseTo(Math.cos(3 * fk), 5);
    });
    const flipped = sinusoidalEmbedding(t, 8, { flipSinToCos: true, freqShift: 1 }).arraySync();
    expect(flipped[1]!.slice(0, 4)).toEqual(e[1]!.slice(4));
    expect(e[0]!).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    t.dispose();
  });

  it('nearest ×2 upsampling matches resizeNearestNeighbor and its gradient sums 2×2 blocks', () => {
    const x = randn([2, 3, 4, 5], new Generator(4)) as tf.Tensor4D;
    const ours = upsampleNearest2x(x);
    const ref = tf.image.resizeNearestNeighbor(x, [6, 8]);
    expect(Array.from(ours.dataSync())).toEqual(Array.from(ref.dataSync()));
    const w = randn([2, 6, 8, 5], new Generator(5));
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(upsampleNearest2x(v as tf.Tensor4D), w)))(x);
    const gRef = tf.sum(tf.reshape(w, [2, 3, 2, 4, 2, 5]), [2, 4]);
    expect(tf.max(tf.abs(tf.sub(g, gRef))).dataSync()[0]).toBeLessThan(1e-6);
    tf.dispose([x, ours, ref, w, g, gRef]);
  });

  it('Dropout is identity in eval, seeded inverted dropout in training', () => {
    const d = new Dropout(0.5, new Generator(6));
    const x = tf.ones([1000]);
    d.eval();
    expect(d.forward(x)).toBe(x);
    d.train();
    const y = d.forward(x).dataSync();
    const kept = Array.from(y).filter((v) => v !== 0);
    expect(kept.every((v) => v === 2)).toBe(true);
    expect(kept.length).toBeGreaterThan(430);
    expect(kept.length).toBeLessThan(570);
    x.dispose();
  });

  it('matMulFastGrad has the value and gradients of tf.matMul (rank 2 and 3, with and without bᵀ)', () => {
    const gen = new Generator(7);
    for (const [sa, sb, tb] of [
      [[5, 3], [3, 4], false],
      [[2, 5, 3], [2, 4, 3], true],
      [[2, 5, 3], [2, 3, 4], false],
    ] as const) {
      const a = randn([...sa], gen);
      const b = randn([...sb], gen);
      const ours = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(matMulFastGrad(x as tf.Tensor3D, y as tf.Tensor3D, tb))))([a, b]);
      const ref = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(tf.matMul(x as tf.Tensor3D, y as tf.Tensor3D, false, tb))))([a, b]);
      for (let i = 0; i < 2; i++) expect(tf.max(tf.abs(tf.sub(ours[i]!, ref[i]!))).dataSync()[0]).toBeLessThan(1e-4);
      tf.dispose([a, b, ...ours, ...ref]);
    }
  });

  it('GroupNorm gradients (input, weight, bias) equal autodiff of the two-pass definition', () => {
    const gen = new Generator(8);
    const gn = new GroupNorm(4, 8, 1e-5);
    gn.weight.assign(randn([8], gen));
    gn.bias.assign(randn([8], gen));
    const x = tf.tidy(() => tf.add(tf.mul(randn([2, 3, 5, 8], gen), 2), 0.5)) as tf.Tensor4D;
    const w = randn([2, 3, 5, 8], gen);
    const reference = (v: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => {
      const r = tf.reshape(v, [2, 15, 4, 2]);
      const { mean, variance } = tf.moments(r, [1, 3], true);
      const normed = tf.reshape(tf.div(tf.sub(r, mean), tf.sqrt(tf.add(variance, 1e-5))), [2, 3, 5, 8]);
      return tf.sum(tf.mul(tf.add(tf.mul(normed, gamma), beta), w));
    };
    const ours = tf.grads((v: tf.Tensor) => tf.sum(tf.mul(gn.forward(v as tf.Tensor4D), w)))([x]);
    const ref = tf.grads(reference)([x, gn.weight, gn.bias]);
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(gn.forward(x), w)) as tf.Scalar, [gn.weight, gn.bias]);
    const pairs: [tf.Tensor, tf.Tensor][] = [
      [ours[0]!, ref[0]!],
      [grads[gn.weight.name]!, ref[1]!],
      [grads[gn.bias.name]!, ref[2]!],
    ];
    for (const [a, b] of pairs) expect(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]).toBeLessThan(2e-4);
    tf.dispose([x, w, ...ours, ...ref, ...Object.values(grads)]);
    gn.dispose();
  });
});
