import * as tf from '@tensorflow/tfjs-core';
import { LdmError } from '@ldm/backend';
import { Module } from './module';

/**
 * Group normalisation over NHWC input (tfjs has none). Statistics are per sample and per group of
 * C/G adjacent channels, as torch.nn.GroupNorm. The affine parameters are folded into one per-(sample,
 * channel) scale and shift, so after tf.moments the full-size work is a single multiply and add.
 */
export class GroupNorm extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;

  constructor(
    readonly numGroups: number,
    readonly numChannels: number,
    readonly eps = 1e-5,
  ) {
    super();
    if (numChannels % numGroups !== 0) {
      throw new LdmError('INVALID_CONFIG', `GroupNorm: ${numChannels} channels are not divisible into ${numGroups} groups`);
    }
    this.weight = this.addParameter('weight', tf.ones([numChannels]));
    this.bias = this.addParameter('bias', tf.zeros([numChannels]));
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const [b, h, w, c] = x.shape;
      if (c !== this.numChannels) {
        throw new LdmError('SHAPE_MISMATCH', `GroupNorm expects ${this.numChannels} channels, got [${x.shape}]`);
      }
      const g = this.numGroups;
      const grouped = tf.reshape(x, [b, h * w, g, c / g]);
      const { mean, variance } = tf.moments(grouped, [1, 3], true);
      const inv = tf.rsqrt(tf.add(variance, this.eps)); // [b,1,g,1]
      const gamma = tf.reshape(this.weight, [1, 1, g, c / g]);
      const beta = tf.reshape(this.bias, [1, 1, g, c / g]);
      const scale = tf.mul(inv, gamma); // [b,1,g,c/g]
      const shift = tf.sub(beta, tf.mul(mean, scale));
      return tf.reshape(tf.add(tf.mul(grouped, scale), shift), [b, h, w, c]);
    });
  }
}
