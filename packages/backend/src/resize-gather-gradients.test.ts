import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend';
import { gatherGradientInstalled } from './gather-gradient';
import { Generator } from './random';
import { resizeGradientInstalled } from './resize-gradient';

/**
 * Ground truth for linear ops: f is linear in x, so dL/dx[j] for L = Σ f(x)·dy is Σ f(e_j)·dy, one
 * forward call per input element. Independent of any gradient kernel.
 */
function transposedForward(f: (x: tf.Tensor) => tf.Tensor, shape: number[], dy: tf.Tensor): Float32Array {
  const size = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(size);
  for (let j = 0; j < size; j++) {
    out[j] = tf.tidy(() => {
      const basis = new Float32Array(size);
      basis[j] = 1;
      return tf.sum(tf.mul(f(tf.tensor(basis, shape)), dy)).dataSync()[0]!;
    });
  }
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
}

const resizeCases = [
  { size: [6, 10] as [number, number], alignCorners: false, halfPixelCenters: false },
  { size: [6, 10] as [number, number], alignCorners: false, halfPixelCenters: true },
  { size: [6, 10] as [number, number], alignCorners: true, halfPixelCenters: false },
  { size: [7, 8] as [number, number], alignCorners: false, halfPixelCenters: false },
  { size: [7, 8] as [number, number], alignCorners: false, halfPixelCenters: true },
  { size: [7, 8] as [number, number], alignCorners: true, halfPixelCenters: false },
  { size: [2, 3] as [number, number], alignCorners: false, halfPixelCenters: false },
];

describe('resizeNearestNeighbor gradient', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm' });
  });

  it('is installed by initBackend', () => {
    expect(resizeGradientInstalled()).toBe(true);
    expect(gatherGradientInstalled()).toBe(true);
  });

  for (const backend of ['cpu', 'wasm'] as const) {
    it.each(resizeCases)(`${backend}: equals the transposed forward map, batch 2, %o`, async (c) => {
      await tf.setBackend(backend);
      const g = new Generator(5);
      const shape = [2, 3, 5, 2];
      const x = tf.tensor(g.normal(60), shape);
      const dy = tf.tensor(g.normal(2 * c.size[0] * c.size[1] * 2), [2, ...c.size, 2]);
      const f = (t: tf.Tensor) => tf.image.resizeNearestNeighbor(t as tf.Tensor4D, c.size, c.alignCorners, c.halfPixelCenters);
      const expected = transposedForward(f, shape, dy);
      const before = tf.memory().numTensors;
      const actual = tf.tidy(
        () =>
          tf
            .grad((t: tf.Tensor) => tf.sum(tf.mul(f(t), dy)))(x)
            .dataSync() as Float32Array,
      );
      expect(tf.memory().numTensors).toBe(before);
      expect(maxAbsDiff(actual, expected)).toBeLessThan(1e-5);
      tf.dispose([x, dy]);
    });
  }
});

describe('gather gradient', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    it.each([0, 1, 2])(`${backend}: equals the transposed forward map along axis %i, repeated indices`, async (axis) => {
      await tf.setBackend(backend);
      const g = new Generator(9 + axis);
      const shape = [4, 5, 3];
      const indices = tf.tensor1d([2, 0, 2, 1], 'int32');
      const f = (t: tf.Tensor) => tf.gather(t, indices, axis);
      const outShape = [...shape];
      outShape[axis] = 4;
      const x = tf.tensor(g.normal(60), shape);
      const dy = tf.tensor(g.normal(outShape.reduce((a, b) => a * b, 1)), outShape);
      const expected = transposedForward(f, shape, dy);
      const actual = tf.tidy(
        () =>
          tf
            .grad((t: tf.Tensor) => tf.sum(tf.mul(f(t), dy)))(x)
            .dataSync() as Float32Array,
      );
      expect(maxAbsDiff(actual, expected)).toBeLessThan(1e-5);
      tf.dispose([x, dy, indices]);
    });
  }
});
