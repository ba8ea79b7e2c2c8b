import * as tf from '@tensorflow/tfjs-core';
import { Generator } from '@ldm/backend';
import { Module, ModuleList } from './module';
import { ResnetBlock2D } from './resnet-block';
import { SpatialSelfAttention } from './attention';

export interface MidBlockOptions {
  channels: number;
  tembChannels: number | null;
  numGroups: number;
  /** Attention's GroupNorm groups (diffusers' `attn_groups`); defaults to numGroups. */
  attnGroups?: number;
  eps?: number;
  dropout?: number;
  headDim: number;
  addAttention?: boolean;
  outputScaleFactor?: number;
  numLayers?: number;
}

/** diffusers' `UNetMidBlock2D`: resnet, then (attention, resnet) × numLayers. Shared by the UNet and the VAE. */
export class UNetMidBlock2D extends Module {
  readonly resnets: ModuleList<ResnetBlock2D>;
  readonly attentions: ModuleList<SpatialSelfAttention> | null;

  constructor(options: MidBlockOptions, generator: Generator = new Generator(0)) {
    super();
    const addAttention = options.addAttention ?? true;
    const resnet = () =>
      new ResnetBlock2D(
        {
          inChannels: options.channels,
          tembChannels: options.tembChannels,
          numGroups: options.numGroups,
          eps: options.eps,
          dropout: options.dropout,
          outputScaleFactor: options.outputScaleFactor,
        },
        generator,
      );
    this.attentions = addAttention ? this.addModule('attentions', new ModuleList<SpatialSelfAttention>()) : null;
    this.resnets = this.addModule('resnets', new ModuleList([resnet()]));
    for (let i = 0; i < (options.numLayers ?? 1); i++) {
      this.attentions?.push(
        new SpatialSelfAttention(
          options.channels,
          {
            headDim: options.headDim,
            numGroups: options.attnGroups ?? options.numGroups,
            eps: options.eps,
            rescaleOutputFactor: options.outputScaleFactor,
          },
          generator,
        ),
      );
      this.resnets.push(resnet());
    }
  }

  forward(x: tf.Tensor4D, temb?: tf.Tensor2D | null): tf.Tensor4D {
    return tf.tidy(() => {
      let h = this.resnets.items[0]!.forward(x, temb);
      for (let i = 1; i < this.resnets.length; i++) {
        if (this.attentions) h = this.attentions.items[i - 1]!.forward(h);
        h = this.resnets.items[i]!.forward(h, temb);
      }
      return h;
    });
  }

  flops(h: number, w: number): number {
    let f = 0;
    for (const r of this.resnets) f += r.flops(h, w);
    for (const a of this.attentions ?? []) f += a.flops(h, w);
    return f;
  }
}
