import * as tf from '@tensorflow/tfjs-core';
import { Generator, LdmError } from '@ldm/backend';
import {
  Conv2d,
  GroupNorm,
  Module,
  ModuleList,
  TimestepEmbedding,
  UNetMidBlock2D,
  loadPretrained,
  silu,
  sinusoidalEmbedding,
  toTorchStateDict,
  writeModelFolder,
} from '@ldm/nn';
import type { Recipe } from '@ldm/nn';
import { resolveUNetConfig, unetConfigToDiffusers } from './config';
import type { UNet2DConfig, UNet2DConfigInput } from './config';
import { DownBlock2D } from './down-block';
import { UpBlock2D } from './up-block';

/** Timesteps as the forward pass accepts them: one per batch element, or one for the whole batch. */
export type Timesteps = number | number[] | Float32Array | Int32Array | tf.Tensor;

/** Receives intermediate activations (named as diffusers' submodules) while the forward pass runs. */
export type ActivationTrace = (name: string, activation: tf.Tensor) => void;

/**
 * diffusers' `UNet2DModel` on NHWC tensors: same configuration surface, same state-dict key names,
 * same numerics (verified against diffusers 0.38 outputs).
 */
export class UNet2DModel extends Module {
  readonly config: Readonly<UNet2DConfig>;
  readonly convIn: Conv2d;
  readonly timeEmbedding: TimestepEmbedding;
  readonly downBlocks: ModuleList<DownBlock2D>;
  readonly midBlock: UNetMidBlock2D | null;
  readonly upBlocks: ModuleList<UpBlock2D>;
  readonly convNormOut: GroupNorm;
  readonly convOut: Conv2d;

  constructor(config: UNet2DConfigInput = {}, generator: Generator = new Generator(0)) {
    super();
    const c = resolveUNetConfig(config);
    this.config = Object.freeze(c);
    const boc = c.blockOutChannels;
    const n = boc.length;
    const tembDim = c.timeEmbeddingDim ?? boc[0]! * 4;
    const blockArgs = { tembChannels: tembDim, numGroups: c.normNumGroups, eps: c.normEps, dropout: c.dropout };

    this.convIn = this.addModule('conv_in', new Conv2d(c.inChannels, boc[0]!, { kernelSize: 3, padding: 1 }, generator));
    this.timeEmbedding = this.addModule('time_embedding', new TimestepEmbedding(boc[0]!, tembDim, generator));

    this.downBlocks = this.addModule('down_blocks', new ModuleList<DownBlock2D>());
    let outCh = boc[0]!;
    for (let i = 0; i < n; i++) {
      const inCh = outCh;
      outCh = boc[i]!;
      this.downBlocks.push(
        new DownBlock2D(
          {
            ...blockArgs,
            inChannels: inCh,
            outChannels: outCh,
            numLayers: c.layersPerBlock,
            attentionHeadDim: c.downBlockTypes[i] === 'AttnDownBlock2D' ? (c.attentionHeadDim ?? outCh) : null,
            addDownsample: i < n - 1,
            downsamplePadding: c.downsamplePadding,
          },
          generator,
        ),
      );
    }

    this.midBlock =
      c.midBlockType === null
        ? null
        : this.addModule(
            'mid_block',
            new UNetMidBlock2D(
              {
                ...blockArgs,
                channels: boc[n - 1]!,
                headDim: c.attentionHeadDim ?? boc[n - 1]!,
                attnGroups: c.attnNormNumGroups ?? c.normNumGroups,
                addAttention: c.addAttention,
                outputScaleFactor: c.midBlockScaleFactor,
              },
              generator,
            ),
          );

    this.upBlocks = this.addModule('up_blocks', new ModuleList<UpBlock2D>());
    const rev = [...boc].reverse();
    outCh = rev[0]!;
    for (let i = 0; i < n; i++) {
      const prevOut = outCh;
      outCh = rev[i]!;
      const inCh = rev[Math.min(i + 1, n - 1)]!;
      this.upBlocks.push(
        new UpBlock2D(
          {
            ...blockArgs,
            inChannels: inCh,
            prevOutputChannels: prevOut,
            outChannels: outCh,
            numLayers: c.layersPerBlock + 1,
            attentionHeadDim: c.upBlockTypes[i] === 'AttnUpBlock2D' ? (c.attentionHeadDim ?? outCh) : null,
            addUpsample: i < n - 1,
          },
          generator,
        ),
      );
    }

    this.convNormOut = this.addModule('conv_norm_out', new GroupNorm(c.normNumGroups, boc[0]!, c.normEps));
    this.convOut = this.addModule('conv_out', new Conv2d(boc[0]!, c.outChannels, { kernelSize: 3, padding: 1 }, generator));
  }

  static fromConfig(config: UNet2DConfigInput = {}, generator?: Generator): UNet2DModel {
    return new UNet2DModel(config, generator);
  }

  /** How a data-parallel worker builds a twin of this model (its weights then come from the main thread). */
  recipe(): Recipe {
    return { module: import.meta.url, export: 'UNet2DModel.fromConfig', config: JSON.parse(JSON.stringify(this.config)) as unknown };
  }

  /** Loads a diffusers model folder (config.json + diffusion_pytorch_model.safetensors). */
  static async fromPretrained(dir: string): Promise<UNet2DModel> {
    return loadPretrained(dir, 'UNet2DModel', (config) => new UNet2DModel(config), '');
  }

  /** Writes a folder diffusers' `UNet2DModel.from_pretrained` loads (torch layout, atomic files). */
  async save(dir: string): Promise<void> {
    await writeModelFolder(dir, this.toConfig(), toTorchStateDict(this));
  }

  /** config.json content: diffusers' snake_case keys and `_class_name`. */
  toConfig(): Record<string, unknown> {
    return unetConfigToDiffusers(this.config);
  }

  /**
   * Predicts from an NHWC `sample` [B, H, W, inChannels] at `timesteps` (one per batch element, or a
   * single value for all); returns [B, H, W, outChannels]. H and W must be divisible by 2^(levels−1).
   */
  forward(sample: tf.Tensor4D, timesteps: Timesteps, trace?: ActivationTrace): tf.Tensor4D {
    return tf.tidy(() => {
      const c = this.config;
      const [b, h, w, ch] = sample.shape;
      if (sample.rank !== 4 || ch !== c.inChannels) {
        throw new LdmError('SHAPE_MISMATCH', `UNet2DModel.forward: sample must be NHWC with ${c.inChannels} channels, got [${sample.shape}]`);
      }
      const factor = 2 ** (c.blockOutChannels.length - 1);
      if (h % factor !== 0 || w % factor !== 0) {
        throw new LdmError('SHAPE_MISMATCH', `UNet2DModel.forward: height and width must be divisible by ${factor}, got ${h}×${w}`);
      }
      const t = this.timestepTensor(timesteps, b);
      const x = c.centerInputSample ? tf.sub(tf.mul(sample, 2), 1) : sample;

      const tProj = sinusoidalEmbedding(t, c.blockOutChannels[0]!, { flipSinToCos: c.flipSinToCos, freqShift: c.freqShift });
      trace?.('time_proj', tProj);
      const emb = this.timeEmbedding.forward(tProj);
      trace?.('time_embedding', emb);

      let hidden = this.convIn.forward(x as tf.Tensor4D);
      trace?.('conv_in', hidden);
      const skips: tf.Tensor4D[] = [hidden];
      this.downBlocks.items.forEach((block, i) => {
        const [out, res] = block.forward(hidden, emb);
        skips.push(...res);
        hidden = out;
        trace?.(`down_blocks.${i}`, hidden);
      });
      if (this.midBlock) {
        hidden = this.midBlock.forward(hidden, emb);
        trace?.('mid_block', hidden);
      }
      this.upBlocks.items.forEach((block, i) => {
        const k = block.resnets.length;
        const res = skips.splice(skips.length - k, k);
        hidden = block.forward(hidden, res, emb);
        trace?.(`up_blocks.${i}`, hidden);
      });
      if (!trace) return this.convOut.forward(this.convNormOut.forwardSilu(hidden));
      const normed = this.convNormOut.forward(hidden);
      trace('conv_norm_out', normed);
      return this.convOut.forward(silu(normed));
    });
  }

  private timestepTensor(timesteps: Timesteps, batch: number): tf.Tensor1D {
    let t: tf.Tensor1D;
    if (timesteps instanceof tf.Tensor) {
      if (timesteps.rank > 1) throw new LdmError('SHAPE_MISMATCH', `UNet2DModel.forward: timesteps must be a scalar or 1-D, got [${timesteps.shape}]`);
      t = tf.cast(tf.reshape(timesteps, [-1]), 'float32') as tf.Tensor1D;
    } else if (typeof timesteps === 'number') {
      t = tf.tensor1d([timesteps]);
    } else {
      t = tf.tensor1d(Array.from(timesteps));
    }
    if (t.shape[0] === 1 && batch !== 1) return tf.tile(t, [batch]);
    if (t.shape[0] !== batch) {
      throw new LdmError('SHAPE_MISMATCH', `UNet2DModel.forward: got ${t.shape[0]} timesteps for a batch of ${batch}`);
    }
    return t;
  }

  /**
   * Multiply-adds ×2 of the convolutions, linear layers and attention products for an input of
   * `inputShape` ([B, H, W, C] or [H, W, C]); elementwise ops and norms are not counted.
   */
  forwardFlops(inputShape: number[]): number {
    const [b, h0, w0] = inputShape.length === 4 ? inputShape : [1, ...inputShape];
    let h = h0!;
    let w = w0!;
    let f = this.timeEmbedding.flops(1) + this.convIn.flops(h, w);
    for (const block of this.downBlocks) ({ flops: f, h, w } = addFlops(f, block.flops(h, w)));
    if (this.midBlock) f += this.midBlock.flops(h, w);
    for (const block of this.upBlocks) ({ flops: f, h, w } = addFlops(f, block.flops(h, w)));
    f += this.convOut.flops(h, w);
    return f * b!;
  }
}

function addFlops(total: number, r: { flops: number; h: number; w: number }): { flops: number; h: number; w: number } {
  return { flops: total + r.flops, h: r.h, w: r.w };
}
