import * as tf from '@tensorflow/tfjs-core';
import type { Generator } from '@ldm/backend';
import { Conv2d, Downsample2D, GroupNorm, Module, ModuleList, ResnetBlock2D, UNetMidBlock2D } from '@ldm/nn';
import { VAE_NORM_EPS } from './config';
import type { ActivationTrace, AutoencoderKLConfig } from './config';

/** diffusers' `DownEncoderBlock2D`: resnets without a time embedding, then an asymmetric-padding downsample. */
export class DownEncoderBlock2D extends Module {
  readonly resnets: ModuleList<ResnetBlock2D>;
  readonly downsamplers: ModuleList<Downsample2D> | null;

  constructor(inChannels: number, outChannels: number, numLayers: number, numGroups: number, addDownsample: boolean, generator: Generator) {
    super();
    this.resnets = this.addModule('resnets', new ModuleList<ResnetBlock2D>());
    for (let i = 0; i < numLayers; i++) {
      this.resnets.push(
        new ResnetBlock2D({ inChannels: i === 0 ? inChannels : outChannels, outChannels, tembChannels: null, numGroups, eps: VAE_NORM_EPS }, generator),
      );
    }
    this.downsamplers = addDownsample ? this.addModule('downsamplers', new ModuleList([new Downsample2D(outChannels, { padding: 0 }, generator)])) : null;
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      let h = x;
      for (const r of this.resnets) h = r.forward(h);
      return this.downsamplers ? this.downsamplers.items[0]!.forward(h) : h;
    });
  }

  flops(h: number, w: number): { flops: number; h: number; w: number } {
    let f = 0;
    for (const r of this.resnets) f += r.flops(h, w);
    if (this.downsamplers) {
      f += this.downsamplers.items[0]!.flops(h, w);
      return { flops: f, h: Math.floor(h / 2), w: Math.floor(w / 2) };
    }
    return { flops: f, h, w };
  }
}

/** diffusers' VAE `Encoder` (double_z): image → 2·latentChannels moments (mean, logvar). */
export class Encoder extends Module {
  readonly convIn: Conv2d;
  readonly downBlocks: ModuleList<DownEncoderBlock2D>;
  readonly midBlock: UNetMidBlock2D;
  readonly convNormOut: GroupNorm;
  readonly convOut: Conv2d;

  constructor(c: AutoencoderKLConfig, generator: Generator) {
    super();
    const boc = c.blockOutChannels;
    const n = boc.length;
    const last = boc[n - 1]!;
    this.convIn = this.addModule('conv_in', new Conv2d(c.inChannels, boc[0]!, { kernelSize: 3, padding: 1 }, generator));
    this.downBlocks = this.addModule('down_blocks', new ModuleList<DownEncoderBlock2D>());
    let outCh = boc[0]!;
    for (let i = 0; i < n; i++) {
      const inCh = outCh;
      outCh = boc[i]!;
      this.downBlocks.push(new DownEncoderBlock2D(inCh, outCh, c.layersPerBlock, c.normNumGroups, i < n - 1, generator));
    }
    this.midBlock = this.addModule(
      'mid_block',
      new UNetMidBlock2D(
        { channels: last, tembChannels: null, numGroups: c.normNumGroups, eps: VAE_NORM_EPS, headDim: last, addAttention: c.midBlockAddAttention },
        generator,
      ),
    );
    this.convNormOut = this.addModule('conv_norm_out', new GroupNorm(c.normNumGroups, last, VAE_NORM_EPS));
    this.convOut = this.addModule('conv_out', new Conv2d(last, 2 * c.latentChannels, { kernelSize: 3, padding: 1 }, generator));
  }

  forward(x: tf.Tensor4D, trace?: ActivationTrace): tf.Tensor4D {
    return tf.tidy(() => {
      let h = this.convIn.forward(x);
      trace?.('encoder.conv_in', h);
      this.downBlocks.items.forEach((b, i) => {
        h = b.forward(h);
        trace?.(`encoder.down_blocks.${i}`, h);
      });
      h = this.midBlock.forward(h);
      trace?.('encoder.mid_block', h);
      h = this.convOut.forward(this.convNormOut.forwardSilu(h));
      trace?.('encoder', h);
      return h;
    });
  }

  flops(h: number, w: number): { flops: number; h: number; w: number } {
    let f = this.convIn.flops(h, w);
    for (const b of this.downBlocks) {
      const r = b.flops(h, w);
      f += r.flops;
      ({ h, w } = r);
    }
    f += this.midBlock.flops(h, w) + this.convOut.flops(h, w);
    return { flops: f, h, w };
  }
}
