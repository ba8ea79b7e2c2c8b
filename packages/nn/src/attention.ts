import * as tf from '@tensorflow/tfjs-core';
import { Generator, LdmError } from '@ldm/backend';
import { Module, ModuleList } from './module';
import { Linear } from './linear';
import { GroupNorm } from './group-norm';
import { matMulFastGrad } from './matmul';

export interface SpatialSelfAttentionOptions {
  /** Channels per head (diffusers' `attention_head_dim`); heads = channels / headDim. */
  headDim: number;
  numGroups: number;
  eps?: number;
  /** diffusers' `rescale_output_factor`: (attention + residual) / this. */
  rescaleOutputFactor?: number;
}

/**
 * diffusers' `Attention` as UNet and VAE blocks build it (`_from_deprecated_attn_block`): GroupNorm,
 * then multi-head self-attention over the H·W positions, `to_out.0`, plus the residual. Heads are
 * folded into the batch axis so the two products are single batched matMuls.
 */
export class SpatialSelfAttention extends Module {
  readonly groupNorm: GroupNorm;
  readonly toQ: Linear;
  readonly toK: Linear;
  readonly toV: Linear;
  readonly toOut: ModuleList<Linear>;
  readonly heads: number;
  readonly headDim: number;
  private readonly rescale: number;

  constructor(
    readonly channels: number,
    options: SpatialSelfAttentionOptions,
    generator: Generator = new Generator(0),
  ) {
    super();
    if (channels % options.headDim !== 0) {
      throw new LdmError('INVALID_CONFIG', `attention: ${channels} channels do not split into heads of attention_head_dim ${options.headDim}`);
    }
    this.headDim = options.headDim;
    this.heads = channels / options.headDim;
    this.rescale = options.rescaleOutputFactor ?? 1;
    this.groupNorm = this.addModule('group_norm', new GroupNorm(options.numGroups, channels, options.eps ?? 1e-5));
    this.toQ = this.addModule('to_q', new Linear(channels, channels, generator));
    this.toK = this.addModule('to_k', new Linear(channels, channels, generator));
    this.toV = this.addModule('to_v', new Linear(channels, channels, generator));
    this.toOut = this.addModule('to_out', new ModuleList([new Linear(channels, channels, generator)]));
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const [b, h, w, c] = x.shape;
      const n = h * w;
      const heads = this.heads;
      const d = this.headDim;
      const tokens = tf.reshape(this.groupNorm.forward(x), [b * n, c]);
      // [b·n, c] → [b, n, heads, d] → [b·heads, n, d]
      const split = (t: tf.Tensor) => tf.reshape(tf.transpose(tf.reshape(t, [b, n, heads, d]), [0, 2, 1, 3]), [b * heads, n, d]) as tf.Tensor3D;
      const q = split(this.toQ.forward(tokens));
      const k = split(this.toK.forward(tokens));
      const v = split(this.toV.forward(tokens));
      const scores = tf.mul(matMulFastGrad(q, k, true), 1 / Math.sqrt(d));
      const attn = tf.softmax(scores);
      const out = matMulFastGrad(attn as tf.Tensor3D, v); // [b·heads, n, d]
      const merged = tf.reshape(tf.transpose(tf.reshape(out, [b, heads, n, d]), [0, 2, 1, 3]), [b * n, c]);
      const projected = tf.reshape(this.toOut.items[0]!.forward(merged), [b, h, w, c]);
      const y = tf.add(projected, x);
      return (this.rescale === 1 ? y : tf.div(y, this.rescale)) as tf.Tensor4D;
    });
  }

  /** Multiply-adds ×2 of the four projections and the two attention products for one h×w image. */
  flops(h: number, w: number): number {
    const n = h * w;
    return 4 * 2 * n * this.channels * this.channels + 2 * 2 * n * n * this.channels;
  }
}
