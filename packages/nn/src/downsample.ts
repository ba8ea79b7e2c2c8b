import * as tf from '@tensorflow/tfjs-core';
import { Generator } from '@ldm/backend';
import { Module } from './module';
import { Conv2d } from './conv2d';

/**
 * diffusers' `Downsample2D` with `use_conv=True`: a 3×3 stride-2 conv. With `padding: 0` (the VAE
 * encoder) diffusers first zero-pads one row/column on the bottom/right only, then convolves unpadded.
 */
export class Downsample2D extends Module {
  readonly conv: Conv2d;
  readonly padding: number;

  constructor(channels: number, options: { outChannels?: number; padding?: number } = {}, generator: Generator = new Generator(0)) {
    super();
    this.padding = options.padding ?? 1;
    this.conv = this.addModule('conv', new Conv2d(channels, options.outChannels ?? channels, { kernelSize: 3, stride: 2, padding: this.padding }, generator));
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const input =
        this.padding === 0
          ? tf.pad(x, [
              [0, 0],
              [0, 1],
              [0, 1],
              [0, 0],
            ])
          : x;
      return this.conv.forward(input);
    });
  }

  flops(h: number, w: number): number {
    const extra = this.padding === 0 ? 1 : 0;
    return this.conv.flops(h + extra, w + extra);
  }
}
