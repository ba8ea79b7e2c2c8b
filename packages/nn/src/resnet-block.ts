import * as tf from '@tensorflow/tfjs-core';
import { Generator } from '@ldm/backend';
import { Module } from './module';
import { Conv2d } from './conv2d';
import { Linear } from './linear';
import { GroupNorm } from './group-norm';
import { Dropout } from './dropout';
import { silu } from './activations';

export interface ResnetBlockOptions {
  inChannels: number;
  outChannels?: number;
  /** Width of the time embedding, or null for a block without one (the VAE's). */
  tembChannels: number | null;
  numGroups: number;
  eps?: number;
  dropout?: number;
  /** diffusers' `output_scale_factor`: (shortcut + h) / this. */
  outputScaleFactor?: number;
}

/**
 * diffusers' `ResnetBlock2D` ("default" time-embedding norm): conv1(silu(norm1(x))) + time_emb_proj(silu(temb)),
 * conv2(dropout(silu(norm2(h)))), plus a 1×1 `conv_shortcut` when the channel count changes.
 */
export class ResnetBlock2D extends Module {
  readonly norm1: GroupNorm;
  readonly conv1: Conv2d;
  readonly timeEmbProj: Linear | null;
  readonly norm2: GroupNorm;
  readonly dropout: Dropout;
  readonly conv2: Conv2d;
  readonly convShortcut: Conv2d | null;
  readonly inChannels: number;
  readonly outChannels: number;
  private readonly outputScaleFactor: number;

  constructor(options: ResnetBlockOptions, generator: Generator = new Generator(0)) {
    super();
    const inC = options.inChannels;
    const outC = options.outChannels ?? inC;
    const eps = options.eps ?? 1e-5;
    this.inChannels = inC;
    this.outChannels = outC;
    this.outputScaleFactor = options.outputScaleFactor ?? 1;
    this.norm1 = this.addModule('norm1', new GroupNorm(options.numGroups, inC, eps));
    this.conv1 = this.addModule('conv1', new Conv2d(inC, outC, { kernelSize: 3, padding: 1 }, generator));
    this.timeEmbProj = options.tembChannels != null ? this.addModule('time_emb_proj', new Linear(options.tembChannels, outC, generator)) : null;
    this.norm2 = this.addModule('norm2', new GroupNorm(options.numGroups, outC, eps));
    this.dropout = this.addModule('dropout', new Dropout(options.dropout ?? 0, generator.split('dropout')));
    this.conv2 = this.addModule('conv2', new Conv2d(outC, outC, { kernelSize: 3, padding: 1 }, generator));
    this.convShortcut = inC !== outC ? this.addModule('conv_shortcut', new Conv2d(inC, outC, { kernelSize: 1 }, generator)) : null;
  }

  forward(x: tf.Tensor4D, temb?: tf.Tensor2D | null): tf.Tensor4D {
    return tf.tidy(() => {
      let h = this.conv1.forward(this.norm1.forwardSilu(x));
      if (this.timeEmbProj && temb) {
        const t = this.timeEmbProj.forward(silu(temb));
        h = tf.add(h, tf.reshape(t, [t.shape[0]!, 1, 1, this.outChannels]));
      }
      h = this.conv2.forward(this.dropout.forward(this.norm2.forwardSilu(h)));
      const shortcut = this.convShortcut ? this.convShortcut.forward(x) : x;
      const y = tf.add(shortcut, h);
      return (this.outputScaleFactor === 1 ? y : tf.div(y, this.outputScaleFactor)) as tf.Tensor4D;
    });
  }

  flops(h: number, w: number): number {
    return this.conv1.flops(h, w) + this.conv2.flops(h, w) + (this.convShortcut?.flops(h, w) ?? 0) + (this.timeEmbProj?.flops(1) ?? 0);
  }
}
