import * as tf from '@tensorflow/tfjs-core';
import { Generator, LdmError, rand } from '@ldm/backend';
import { Module } from './module';

/**
 * Inverted dropout, active only in training mode. The mask comes from a seeded Generator (not
 * tf.randomUniform) so a training run is reproducible on every backend.
 */
export class Dropout extends Module {
  constructor(
    readonly p = 0,
    private readonly generator: Generator = new Generator(0),
  ) {
    super();
    if (!(p >= 0 && p < 1)) throw new LdmError('INVALID_CONFIG', `Dropout: p must be in [0, 1), got ${p}`);
  }

  forward<T extends tf.Tensor>(x: T): T {
    if (!this.training || this.p === 0) return x;
    return tf.tidy(() => {
      const keep = tf.cast(tf.greaterEqual(rand(x.shape, this.generator), this.p), 'float32');
      return tf.mul(x, tf.mul(keep, 1 / (1 - this.p))) as T;
    });
  }
}
