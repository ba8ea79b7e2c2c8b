import * as tf from '@tensorflow/tfjs-core';
import type { Generator } from '@ldm/backend';

/** Uniform(−bound, bound) values of `shape`, drawn from `generator` so a model's initialisation is seeded. */
export function uniformInit(shape: number[], bound: number, generator: Generator): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const u = generator.uniform(size);
  for (let i = 0; i < size; i++) u[i] = (2 * u[i]! - 1) * bound;
  return tf.tensor(u, shape, 'float32');
}

/**
 * PyTorch's default weight init for Conv2d and Linear: kaiming_uniform_ with a = √5, whose gain
 * √(2 / (1 + a²)) = 1/√3 times √(3 / fan_in) collapses to a bound of 1/√fan_in.
 */
export function kaimingUniformInit(shape: number[], fanIn: number, generator: Generator): tf.Tensor {
  return uniformInit(shape, 1 / Math.sqrt(fanIn), generator);
}

/** PyTorch's default bias init for Conv2d and Linear: uniform(±1/√fan_in). */
export function biasInit(size: number, fanIn: number, generator: Generator): tf.Tensor {
  return uniformInit([size], fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0, generator);
}
