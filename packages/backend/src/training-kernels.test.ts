import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend';
import { Generator } from './random';

/**
 * Every op a UNet, a VAE and a small classifier differentiate through, with its gradient taken on
 * wasm and compared with the cpu backend's. Inputs are plain arrays so each backend builds its own
 * tensors; each case is a scalar loss Σ f(inputs)·r with a random r, so every output element counts.
 */
interface GradCase {
  name: string;
  shapes: number[][];
  /** Keeps inputs in the op's domain (log, sqrt, rsqrt need positive numbers). */
  positive?: boolean;
  f: (...xs: tf.Tensor[]) => tf.Tensor;
}

const silu = (x: tf.Tensor) => tf.mul(x, tf.sigmoid(x));
function groupNorm(x: tf.Tensor, groups: number): tf.Tensor {
  const [b, h, w, c] = x.shape as [number, number, number, number];
  const grouped = tf.reshape(x, [b, h, w, groups, c / groups]);
  const { mean, variance } = tf.moments(grouped, [1, 2, 4], true);
  return tf.reshape(tf.mul(tf.sub(grouped, mean), tf.rsqrt(tf.add(variance, 1e-5))), [b, h, w, c]);
}

const cases: GradCase[] = [
  {
    name: 'conv2d 3×3 stride 2',
    shapes: [
      [2, 7, 7, 3],
      [3, 3, 3, 4],
    ],
    f: (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'same'),
  },
  {
    name: 'matMul',
    shapes: [
      [5, 7],
      [7, 3],
    ],
    f: (a, b) => tf.matMul(a!, b!),
  },
  {
    name: 'batched matMul, transposeB (attention scores)',
    shapes: [
      [2, 6, 4],
      [2, 6, 4],
    ],
    f: (q, k) => tf.matMul(q!, k!, false, true),
  },
  { name: 'softmax', shapes: [[3, 8]], f: (x) => tf.softmax(x!) },
  { name: 'logSoftmax', shapes: [[3, 8]], f: (x) => tf.logSoftmax(x!) },
  { name: 'moments (GroupNorm)', shapes: [[2, 4, 4, 8]], f: (x) => groupNorm(x!, 2) },
  { name: 'mean / variance', shapes: [[3, 5]], f: (x) => tf.concat([tf.mean(x!, 1), tf.moments(x!, 0).variance]) },
  { name: 'sigmoid · mul (SiLU)', shapes: [[4, 6]], f: (x) => silu(x!) },
  { name: 'resizeNearestNeighbor ×2', shapes: [[2, 3, 5, 4]], f: (x) => tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [6, 10]) },
  {
    name: 'pad',
    shapes: [[2, 3, 3, 2]],
    f: (x) =>
      tf.pad(x!, [
        [0, 0],
        [1, 2],
        [2, 1],
        [0, 0],
      ]),
  },
  { name: 'slice', shapes: [[2, 5, 5, 3]], f: (x) => tf.slice(x!, [0, 1, 2, 0], [2, 3, 2, 2]) },
  {
    name: 'concat (skip connection)',
    shapes: [
      [2, 3, 3, 2],
      [2, 3, 3, 5],
    ],
    f: (a, b) => tf.concat([a!, b!], 3),
  },
  { name: 'transpose', shapes: [[2, 3, 4, 5]], f: (x) => tf.transpose(x!, [0, 3, 1, 2]) },
  { name: 'reshape · broadcast add', shapes: [[2, 12], [4]], f: (x, b) => tf.add(tf.reshape(x!, [2, 3, 4]), b!) },
  { name: 'exp', shapes: [[4, 5]], f: (x) => tf.exp(x!) },
  { name: 'log', shapes: [[4, 5]], positive: true, f: (x) => tf.log(x!) },
  { name: 'sqrt', shapes: [[4, 5]], positive: true, f: (x) => tf.sqrt(x!) },
  { name: 'rsqrt', shapes: [[4, 5]], positive: true, f: (x) => tf.rsqrt(x!) },
  { name: 'square', shapes: [[4, 5]], f: (x) => tf.square(x!) },
  { name: 'clipByValue', shapes: [[4, 5]], f: (x) => tf.clipByValue(x!, -0.5, 0.7) },
  { name: 'avgPool 2×2', shapes: [[2, 6, 6, 3]], f: (x) => tf.avgPool(x as tf.Tensor4D, 2, 2, 'valid') },
  { name: 'tanh · sin · cos (time embedding)', shapes: [[3, 4]], f: (x) => tf.add(tf.tanh(x!), tf.mul(tf.sin(x!), tf.cos(x!))) },
  {
    name: 'div · sub · squaredDifference',
    shapes: [
      [3, 4],
      [3, 4],
    ],
    positive: true,
    f: (a, b) => tf.add(tf.div(a!, b!), tf.squaredDifference(a!, b!)),
  },
  {
    name: 'gather · oneHot cross-entropy',
    shapes: [
      [6, 6],
      [4, 6],
    ],
    f: (table, logits) => {
      const scores = tf.add(logits!, tf.gather(table!, tf.tensor1d([3, 0, 5, 3], 'int32')));
      return tf.neg(tf.mul(tf.oneHot(tf.tensor1d([1, 4, 0, 2], 'int32'), 6), tf.logSoftmax(scores)));
    },
  },
];

function inputsFor(c: GradCase, seed: number): { values: Float32Array[]; weights: Float32Array } {
  const g = new Generator(seed);
  const values = c.shapes.map((shape) => {
    const v = g.normal(shape.reduce((a, b) => a * b, 1));
    return c.positive ? v.map((x) => 0.5 + Math.abs(x)) : v;
  });
  return { values, weights: g.normal(4096) };
}

function gradients(c: GradCase, values: Float32Array[], weights: Float32Array): Float32Array[] {
  return tf.tidy(() => {
    const xs = values.map((v, i) => tf.tensor(v, c.shapes[i]!));
    const loss = (...args: tf.Tensor[]) => {
      const y = c.f(...args);
      const r = tf.reshape(tf.tensor1d(weights.subarray(0, y.size)), y.shape);
      return tf.sum(tf.mul(y, r));
    };
    return tf
      .grads(loss)(xs)
      .map((g) => g.dataSync() as Float32Array);
  });
}

function relativeError(actual: Float32Array, expected: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return diff / Math.max(scale, 1e-30);
}

describe('gradients of the ops UNet/VAE training uses, wasm against cpu', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm' });
  });

  it.each(cases.map((c, i) => [c.name, c, i] as const))('%s', async (_name, c, i) => {
    const { values, weights } = inputsFor(c, 100 + i);
    await tf.setBackend('cpu');
    const expected = gradients(c, values, weights);
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const actual = gradients(c, values, weights);
    expect(tf.memory().numTensors).toBe(before);
    expect(actual.length).toBe(c.shapes.length);
    actual.forEach((grad, k) => {
      expect(grad.length).toBe(expected[k]!.length);
      // A gradient of all zeros would pass any tolerance; each of these ops has a non-zero one.
      expect(expected[k]!.some((v) => v !== 0)).toBe(true);
      expect(relativeError(grad, expected[k]!), `input ${k}`).toBeLessThanOrEqual(1e-4);
    });
  });
});
