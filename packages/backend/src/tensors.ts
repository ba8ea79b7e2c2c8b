import * as tf from '@tensorflow/tfjs-core';
import type { Generator } from './random';

/** Standard-normal noise of `shape` from a seeded generator: identical on every backend. */
export function randn(shape: number[], generator: Generator): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(generator.normal(size), shape, 'float32');
}

/** Uniform (0, 1) noise of `shape` from a seeded generator. */
export function rand(shape: number[], generator: Generator): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(generator.uniform(size), shape, 'float32');
}
