import * as tf from '@tensorflow/tfjs-core';
import type { Generator } from '@ldm/backend';
import { Conv2d, GroupNorm, Module, ModuleList, ResnetBlock2D, UNetMidBlock2D, Upsample2D } from '@ldm/nn';
import { VAE_NORM_EPS } from './config';
import type { ActivationTrace, AutoencoderKLConfig } from './config';

/** diffusers' `UpDecoderBlock2D`: resnets without a time embedding or skips, then nearest ×2 + conv. */
export class UpDecoderBlock2D extends Module {
  readonly resnets: ModuleList<ResnetBlock2D>;
  readonly upsamplers: ModuleList<Upsample2D> | null;

  constructor(inChannels: number, outChannels: number, numLayers: number, numGroups: number, addUpsample: boolean, generator: Generator) {
    super();
    this.resnets = this.addModule('resnets', new ModuleList<ResnetBlock2D>());
    for (let i = 0; i < numLayers; i++) {
      this.resnets.push(
        new ResnetBlock2D({ inChannels: i === 0 ? inChannels : outChannels, outChannels, tembChannels: null, numGroups, eps: VAE_NORM_EPS }, generator),
      );
    }
    this.upsamplers = addUpsample ? this.addModule('upsamplers', new ModuleList([new Upsample2D(outChannels, {}, generator)])) : null;
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      let h = x;
      for (const r of this.resnets) h = r.forward(h);
      return this.upsamplers ? this.upsamplers.items[0]!.forward(h) : h;
    });
  }

  flops(h: number, w: number): { flops: number; h: number; w: number } {
    let f = 0;
    for (const r of this.resnets) f += r.flops(h, w);
    if (this.upsamplers) {
      f += this.upsamplers.items[0]!.flops(h, w);
      return { flops: f, h: 2 * h, w: 2 * w };
    }
    return { flops: f, h, w };
  }
}

/** diffusers' VAE `Decoder`: latents → image (the Gaussian/discretized decoder's mean). */
export class Decoder extends Module {
  readonly convIn: Conv2d;
  readonly midBlock: UNetMidBlock2D;
  readonly upBlocks: ModuleList<UpDecoderBlock2D>;
  readonly convNormOut: GroupNorm;
  readonly convOut: Conv2d;

  constructor(c: AutoencoderKLConfig, generator: Generator) {
    super();
    const rev = [...c.blockOutChannels].reverse();
    const n = rev.length;
    this.convIn = this.addModule('conv_in', new Conv2d(c.latentChannels, rev[0]!, { kernelSize: 3, padding: 1 }, generator));
    this.midBlock = this.addModule(
      'mid_block',
      new UNetMidBlock2D(
        { channels: rev[0]!, tembChannels: null, numGroups: c.normNumGroups, eps: VAE_NORM_EPS, headDim: rev[0]!, addAttention: c.midBlockAddAttention },
        generator,
      ),
    );
    this.upBlocks = this.addModule('up_blocks', new ModuleList<UpDecoderBlock2D>());
    let outCh = rev[0]!;
    for (let i = 0; i < n; i++) {
      const prev = outCh;
      outCh = rev[i]!;
      this.upBlocks.push(new UpDecoderBlock2D(prev, outCh, c.layersPerBlock + 1, c.normNumGroups, i < n - 1, generator));
    }
    this.convNormOut = this.addModule('conv_norm_out', new GroupNorm(c.normNumGroups, rev[n - 1]!, VAE_NORM_EPS));
    this.convOut = this.addModule('conv_out', new Conv2d(rev[n - 1]!, c.outChannels, { kernelSize: 3, padding: 1 }, generator));
  }

  forward(z: tf.Tensor4D, trace?: ActivationTrace): tf.Tensor4D {
    return tf.tidy(() => {
      let h = this.convIn.forward(z);
      trace?.('decoder.conv_in', h);
      h = this.midBlock.forward(h);
      trace?.('decoder.mid_block', h);
      this.upBlocks.items.forEach((b, i) => {
        h = b.forward(h);
        trace?.(`decoder.up_blocks.${i}`, h);
      });
      return this.convOut.forward(this.convNormOut.forwardSilu(h));
    });
  }

  flops(h: number, w: number): { flops: number; h: number; w: number } {
    let f = this.convIn.flops(h, w) + this.midBlock.flops(h, w);
    for (const b of this.upBlocks) {
      const r = b.flops(h, w);
      f += r.flops;
      ({ h, w } = r);
    }
    f += this.convOut.flops(h, w);
    return { flops: f, h, w };
  }
}
