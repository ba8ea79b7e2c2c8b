import * as tf from '@tensorflow/tfjs-core';
import { Generator } from '@ldm/backend';
import { Module } from './module';
import { Conv2d } from './conv2d';

/**
 * Nearest-neighbour ×2 upsampling of NHWC input, as broadcast + reshape: its gradient is a sum over
 * the broadcast axes, which every backend has (ResizeNearestNeighborGrad is not guaranteed on wasm).
 */
export function upsampleNearest2x(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, h, w, c] = x.shape;
    const expanded = tf.broadcastTo(tf.reshape(x, [b, h, 1, w, 1, c]), [b, h, 2, w, 2, c]);
    return tf.reshape(expanded, [b, 2 * h, 2 * w, c]);
  });
}

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
