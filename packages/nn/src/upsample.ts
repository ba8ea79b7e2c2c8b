import * as tf from '@tensorflow/tfjs-core';
import { Generator } from '@ldm/backend';
import { Module } from './module';
import { Conv2d } from './conv2d';

/**
 * Nearest-neighbour ×2 upsampling of NHWC input (PyTorch's `interpolate(scale_factor=2, mode="nearest")`),
 * with the gradient written out as 4·avgPool(dy, 2×2). A broadcast/tile formulation was 3–6× slower on wasm
 * and rank-6 Tile has no gradient. Against the stock ResizeNearestNeighborGrad the measurements disagree
 * (one micro-benchmark: 105 vs 214 ms fwd+bwd at [32,16,16,64]; the bench under load: 139 vs 137 ms), so the
 * custom gradient is kept for being a plain pooling kernel on every backend, not for a proven speed-up.
 */
export const upsampleNearest2x: (x: tf.Tensor4D) => tf.Tensor4D = tf.customGrad((x) => {
  const input = x as tf.Tensor4D;
  const [, h, w] = input.shape;
  return {
    value: tf.image.resizeNearestNeighbor(input, [2 * h, 2 * w]),
    gradFunc: (dy: tf.Tensor) => tf.mul(tf.avgPool(dy as tf.Tensor4D, 2, 2, 'valid'), 4),
  };
}) as (x: tf.Tensor4D) => tf.Tensor4D;

/** diffusers' `Upsample2D` with `use_conv=True`: nearest ×2, then a 3×3 conv with padding 1. */
export class Upsample2D extends Module {
  readonly conv: Conv2d;

  constructor(channels: number, options: { outChannels?: number } = {}, generator: Generator = new Generator(0)) {
    super();
    this.conv = this.addModule('conv', new Conv2d(channels, options.outChannels ?? channels, { kernelSize: 3, padding: 1 }, generator));
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => this.conv.forward(upsampleNearest2x(x)));
  }

  flops(h: number, w: number): number {
    return this.conv.flops(2 * h, 2 * w);
  }
}
