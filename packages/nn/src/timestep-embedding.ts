import * as tf from '@tensorflow/tfjs-core';
import { Generator } from '@ldm/backend';
import { Module } from './module';
import { Linear } from './linear';
import { silu } from './activations';

export interface SinusoidalEmbeddingOptions {
  /** diffusers' `flip_sin_to_cos`: put the cos half first. */
  flipSinToCos?: boolean;
  /** diffusers' `freq_shift` (`downscale_freq_shift`): frequencies are exp(−ln(maxPeriod)·k / (half − shift)). */
  freqShift?: number;
  scale?: number;
  maxPeriod?: number;
}

/**
 * diffusers' `get_timestep_embedding`: [sin(t·f), cos(t·f)] with f_k = exp(−ln(maxPeriod)·k/(dim/2 − shift)).
 * Frequencies are computed in float32 like torch so that large t (≈1000 rad) lands on the same angles.
 */
export function sinusoidalEmbedding(timesteps: tf.Tensor1D, dim: number, options: SinusoidalEmbeddingOptions = {}): tf.Tensor2D {
  const { flipSinToCos = false, freqShift = 1, scale = 1, maxPeriod = 10000 } = options;
  const half = Math.floor(dim / 2);
  const freqs = new Float32Array(half);
  const negLog = Math.fround(-Math.log(maxPeriod));
  for (let k = 0; k < half; k++) {
    const exponent = Math.fround(Math.fround(negLog * k) / Math.fround(half - freqShift));
    freqs[k] = Math.exp(exponent);
  }
  return tf.tidy(() => {
    let args = tf.mul(tf.reshape(tf.cast(timesteps, 'float32'), [-1, 1]), tf.tensor2d(freqs, [1, half]));
    if (scale !== 1) args = tf.mul(args, scale);
    const sin = tf.sin(args);
    const cos = tf.cos(args);
    let emb = flipSinToCos ? tf.concat([cos, sin], 1) : tf.concat([sin, cos], 1);
    if (dim % 2 === 1)
      emb = tf.pad(emb, [
        [0, 0],
        [0, 1],
      ]);
    return emb as tf.Tensor2D;
  });
}

/** diffusers' `TimestepEmbedding`: linear_1 → SiLU → linear_2. */
export class TimestepEmbedding extends Module {
  readonly linear1: Linear;
  readonly linear2: Linear;

  constructor(inChannels: number, timeEmbedDim: number, generator: Generator = new Generator(0)) {
    super();
    this.linear1 = this.addModule('linear_1', new Linear(inChannels, timeEmbedDim, generator));
    this.linear2 = this.addModule('linear_2', new Linear(timeEmbedDim, timeEmbedDim, generator));
  }

  forward(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => this.linear2.forward(silu(this.linear1.forward(x))) as tf.Tensor2D);
  }

  flops(batch: number): number {
    return this.linear1.flops(batch) + this.linear2.flops(batch);
  }
}
