import * as tf from '@tensorflow/tfjs-core';
import { Generator, LdmError } from '@ldm/backend';
import { Module } from './module';
import { biasInit, kaimingUniformInit } from './init';
import { matMulFastGrad } from './matmul';

/**
 * y = x·W + b over the last axis. `weight` is stored [in, out] (tfjs dense layout); PyTorch's
 * [out, in] is transposed at the file boundary.
 */
export class Linear extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    generator: Generator = new Generator(0),
    useBias = true,
  ) {
    super();
    this.weight = this.addParameter('weight', kaimingUniformInit([inFeatures, outFeatures], inFeatures, generator));
    this.bias = useBias ? this.addParameter('bias', biasInit(outFeatures, inFeatures, generator)) : null;
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const last = x.shape[x.rank - 1];
      if (last !== this.inFeatures) {
        throw new LdmError('SHAPE_MISMATCH', `Linear expects ${this.inFeatures} input features, got shape [${x.shape}]`);
      }
      const flat = x.rank === 2 ? (x as tf.Tensor2D) : (tf.reshape(x, [-1, this.inFeatures]) as tf.Tensor2D);
      let y: tf.Tensor = matMulFastGrad(flat, this.weight as tf.Tensor2D);
      if (this.bias) y = tf.add(y, this.bias);
      return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), this.outFeatures]);
    });
  }

  /** Multiply-adds ×2 for `rows` input vectors. */
  flops(rows: number): number {
    return 2 * rows * this.inFeatures * this.outFeatures;
  }
}
