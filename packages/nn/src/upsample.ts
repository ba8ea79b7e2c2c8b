import * as tf from '@tensorflow/tfjs-core';
import { Generator } from '@ldm/backend';
import { Module } from './module';
import { Conv2d } from './conv2d';

/**
 * Nearest-neighbour ×2 upsampling of NHWC input, as a broadcast + reshape with its gradient written
 * out (the sum of each 2×2 block of dy). tfjs' Tile gradient stops at rank 4 and
 * ResizeNearestNeighborGrad is a scatter loop, so an explicit reshape + sum is the portable, fast route.
 */
export const upsampleNearest2x: (x: tf.Tensor4D) => tf.Tensor4D = tf.customGrad((x) => {
  const input = x as tf.Tensor4D;
  const [b, h, w, c] = input.shape;
  const expanded = tf.broadcastTo(tf.reshape(input, [b, h, 1, w, 1, c]), [b, h, 2, w, 2, c]);
  return {
    value: tf.reshape(expanded, [b, 2 * h, 2 * w, c]),
    gradFunc: (dy: tf.Tensor) => tf.sum(tf.reshape(dy, [b, h, 2, w, 2, c]), [2, 4]),
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
