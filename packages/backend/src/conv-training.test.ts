import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend';
import { Generator } from './random';
import { randn } from './tensors';

/** A 3-layer conv net (3×3 stride 1, 3×3 stride 2, 1×1) with SiLU, learning a fixed random target. */
function makeNet(g: Generator) {
  const scaled = (shape: number[], fanIn: number) => tf.variable(tf.tidy(() => tf.mul(randn(shape, g), 1 / Math.sqrt(fanIn)))) as tf.Variable<tf.Rank.R4>;
  const w1 = scaled([3, 3, 1, 8], 9);
  const w2 = scaled([3, 3, 8, 8], 72);
  const w3 = scaled([1, 1, 8, 1], 8);
  const b1 = tf.variable(tf.zeros([8]));
  const silu = (t: tf.Tensor) => tf.mul(t, tf.sigmoid(t));
  const forward = (x: tf.Tensor4D) => {
    const h1 = silu(tf.add(tf.conv2d(x, w1, 1, 'same'), b1)) as tf.Tensor4D;
    const h2 = silu(tf.conv2d(h1, w2, 2, 'same')) as tf.Tensor4D;
    return tf.conv2d(h2, w3, 1, 'valid');
  };
  return { forward, variables: [w1, w2, w3, b1], dispose: () => tf.dispose([w1, w2, w3, b1]) };
}

describe('conv training on wasm', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm' });
  });

  it('loss falls over 30 Adam steps and no tensor leaks across steps', () => {
    const g = new Generator(11);
    const x = randn([16, 12, 12, 1], g) as tf.Tensor4D;
    // A target the net can fit: a smooth function of the input at half resolution.
    const target = tf.tidy(() => tf.tanh(tf.avgPool(x, 2, 2, 'same')));
    const net = makeNet(g);
    const optimizer = tf.train.adam(0.02);
    const losses: number[] = [];
    let tensorsAfterWarmup = 0;
    for (let step = 0; step < 30; step++) {
      const loss = optimizer.minimize(() => tf.mean(tf.squaredDifference(net.forward(x), target)) as tf.Scalar, true, net.variables)!;
      losses.push(loss.dataSync()[0]!);
      loss.dispose();
      // Adam creates its moment slots on the first step; from then on the count must not move.
      if (step === 1) tensorsAfterWarmup = tf.memory().numTensors;
    }
    expect(tf.memory().numTensors).toBe(tensorsAfterWarmup);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(0.5 * losses[0]!);
    optimizer.dispose();
    net.dispose();
    tf.dispose([x, target]);
  });
});
