import * as tf from '@tensorflow/tfjs-core';
import type { Generator } from '@ldm/backend';
import { Module, ModuleList, ResnetBlock2D, SpatialSelfAttention, Upsample2D } from '@ldm/nn';

export interface UpBlockOptions {
  inChannels: number;
  prevOutputChannels: number;
  outChannels: number;
  tembChannels: number | null;
  numLayers: number;
  numGroups: number;
  eps: number;
  dropout: number;
  /** null: UpBlock2D; a number: AttnUpBlock2D with heads of this size. */
  attentionHeadDim: number | null;
  addUpsample: boolean;
}

/**
 * diffusers' `UpBlock2D` / `AttnUpBlock2D`: each resnet takes `[hidden, skip]` concatenated on channels
 * (hidden first), popping the most recent skip. The first resnet's skip width is `outChannels` unless it
 * is the last layer, whose skip comes from the block below (`inChannels`).
 */
export class UpBlock2D extends Module {
  readonly attentions: ModuleList<SpatialSelfAttention> | null;
  readonly resnets: ModuleList<ResnetBlock2D>;
  readonly upsamplers: ModuleList<Upsample2D> | null;

  constructor(o: UpBlockOptions, generator: Generator) {
    super();
    this.attentions = o.attentionHeadDim != null ? this.addModule('attentions', new ModuleList<SpatialSelfAttention>()) : null;
    this.resnets = this.addModule('resnets', new ModuleList<ResnetBlock2D>());
    for (let i = 0; i < o.numLayers; i++) {
      const skipChannels = i === o.numLayers - 1 ? o.inChannels : o.outChannels;
      const resnetIn = i === 0 ? o.prevOutputChannels : o.outChannels;
      this.resnets.push(
        new ResnetBlock2D(
          {
            inChannels: resnetIn + skipChannels,
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
    this.upsamplers = o.addUpsample ? this.addModule('upsamplers', new ModuleList([new Upsample2D(o.outChannels, {}, generator)])) : null;
  }

  /** `skips` are consumed from the end; their count equals the number of resnets. */
  forward(x: tf.Tensor4D, skips: tf.Tensor4D[], temb: tf.Tensor2D | null): tf.Tensor4D {
    return tf.tidy(() => {
      let h = x;
      for (let i = 0; i < this.resnets.length; i++) {
        const skip = skips[skips.length - 1 - i]!;
        h = this.resnets.items[i]!.forward(tf.concat([h, skip], 3), temb);
        if (this.attentions) h = this.attentions.items[i]!.forward(h);
      }
      return this.upsamplers ? this.upsamplers.items[0]!.forward(h) : h;
    });
  }

  flops(h: number, w: number): { flops: number; h: number; w: number } {
    let f = 0;
    for (const r of this.resnets) f += r.flops(h, w);
    for (const a of this.attentions ?? []) f += a.flops(h, w);
    if (this.upsamplers) {
      f += this.upsamplers.items[0]!.flops(h, w);
      h *= 2;
      w *= 2;
    }
    return { flops: f, h, w };
  }
}
