import * as tf from '@tensorflow/tfjs-core';
import type { Generator } from '@ldm/backend';
import { Downsample2D, Module, ModuleList, ResnetBlock2D, SpatialSelfAttention } from '@ldm/nn';

export interface DownBlockOptions {
  inChannels: number;
  outChannels: number;
  tembChannels: number | null;
  numLayers: number;
  numGroups: number;
  eps: number;
  dropout: number;
  /** null: DownBlock2D; a number: AttnDownBlock2D with heads of this size. */
  attentionHeadDim: number | null;
  addDownsample: boolean;
  downsamplePadding: number;
}

/**
 * diffusers' `DownBlock2D` / `AttnDownBlock2D` (and the VAE's `DownEncoderBlock2D`, which is DownBlock2D
 * without a time embedding). Returns the hidden state and every intermediate output, which the UNet
 * keeps as skip connections.
 */
export class DownBlock2D extends Module {
  readonly attentions: ModuleList<SpatialSelfAttention> | null;
  readonly resnets: ModuleList<ResnetBlock2D>;
  readonly downsamplers: ModuleList<Downsample2D> | null;

  constructor(o: DownBlockOptions, generator: Generator) {
    super();
    this.attentions = o.attentionHeadDim != null ? this.addModule('attentions', new ModuleList<SpatialSelfAttention>()) : null;
    this.resnets = this.addModule('resnets', new ModuleList<ResnetBlock2D>());
    for (let i = 0; i < o.numLayers; i++) {
      this.resnets.push(
        new ResnetBlock2D(
          {
            inChannels: i === 0 ? o.inChannels : o.outChannels,
            outChannels: o.outChannels,
            tembChannels: o.tembChannels,
            numGroups: o.numGroups,
            eps: o.eps,
            dropout: o.dropout,
          },
          generator,
        ),
      );
      this.attentions?.push(new SpatialSelfAttention(o.outChannels, { headDim: o.attentionHeadDim!, numGroups: o.numGroups, eps: o.eps }, generator));
    }
    this.downsamplers = o.addDownsample
      ? this.addModule('downsamplers', new ModuleList([new Downsample2D(o.outChannels, { padding: o.downsamplePadding }, generator)]))
      : null;
  }

  /** Returns [hidden, skips]; the caller owns every returned tensor (hidden is the last skip). */
  forward(x: tf.Tensor4D, temb: tf.Tensor2D | null): [tf.Tensor4D, tf.Tensor4D[]] {
    const skips: tf.Tensor4D[] = [];
    let h = x;
    for (let i = 0; i < this.resnets.length; i++) {
      h = tf.tidy(() => {
        const r = this.resnets.items[i]!.forward(h, temb);
        return this.attentions ? this.attentions.items[i]!.forward(r) : r;
      });
      skips.push(h);
    }
    if (this.downsamplers) {
      h = this.downsamplers.items[0]!.forward(h);
      skips.push(h);
    }
    return [h, skips];
  }

  /** FLOPs for one h×w image, and the output size. */
  flops(h: number, w: number): { flops: number; h: number; w: number } {
    let f = 0;
    for (const r of this.resnets) f += r.flops(h, w);
    for (const a of this.attentions ?? []) f += a.flops(h, w);
    if (this.downsamplers) {
      const d = this.downsamplers.items[0]!;
      f += d.flops(h, w);
      [h, w] = d.conv.outputSize(h + (d.padding === 0 ? 1 : 0), w + (d.padding === 0 ? 1 : 0));
    }
    return { flops: f, h, w };
  }
}
