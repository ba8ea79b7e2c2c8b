import * as tf from '@tensorflow/tfjs-core';
import { Generator, LdmError } from '@ldm/backend';
import { Conv2d, Module, loadPretrained, toTorchStateDict, writeModelFolder } from '@ldm/nn';
import type { Recipe } from '@ldm/nn';
import { resolveVaeConfig, vaeConfigToDiffusers } from './config';
import type { ActivationTrace, AutoencoderKLConfig, AutoencoderKLConfigInput } from './config';
import { Encoder } from './encoder';
import { Decoder } from './decoder';
import { DiagonalGaussian } from './posterior';

/**
 * diffusers' `AutoencoderKL` on NHWC tensors: same configuration surface, same state-dict keys, same
 * numerics (verified against diffusers 0.38). `encode` gives the diagonal-Gaussian posterior,
 * `decode` the decoder mean.
 */
export class AutoencoderKL extends Module {
  readonly config: Readonly<AutoencoderKLConfig>;
  readonly encoder: Encoder;
  readonly decoder: Decoder;
  readonly quantConv: Conv2d | null;
  readonly postQuantConv: Conv2d | null;

  constructor(config: AutoencoderKLConfigInput = {}, generator: Generator = new Generator(0)) {
    super();
    const c = resolveVaeConfig(config);
    this.config = Object.freeze(c);
    const l = c.latentChannels;
    this.encoder = this.addModule('encoder', new Encoder(c, generator));
    this.decoder = this.addModule('decoder', new Decoder(c, generator));
    this.quantConv = c.useQuantConv ? this.addModule('quant_conv', new Conv2d(2 * l, 2 * l, { kernelSize: 1 }, generator)) : null;
    this.postQuantConv = c.usePostQuantConv ? this.addModule('post_quant_conv', new Conv2d(l, l, { kernelSize: 1 }, generator)) : null;
  }

  static fromConfig(config: AutoencoderKLConfigInput = {}, generator?: Generator): AutoencoderKL {
    return new AutoencoderKL(config, generator);
  }

  /** How a data-parallel worker builds a twin of this model (its weights then come from the main thread). */
  recipe(): Recipe {
    return { module: import.meta.url, export: 'AutoencoderKL.fromConfig', config: JSON.parse(JSON.stringify(this.config)) as unknown };
  }

  /** Loads a diffusers model folder (config.json + diffusion_pytorch_model.safetensors). */
  static async fromPretrained(dir: string): Promise<AutoencoderKL> {
    return loadPretrained(dir, 'AutoencoderKL', (config) => new AutoencoderKL(config), 'encoder.');
  }

  /** Writes a folder diffusers' `AutoencoderKL.from_pretrained` loads (torch layout, atomic files). */
  async save(dir: string): Promise<void> {
    await writeModelFolder(dir, this.toConfig(), toTorchStateDict(this));
  }

  toConfig(): Record<string, unknown> {
    return vaeConfigToDiffusers(this.config);
  }

  /** Encodes NHWC images [B, H, W, inChannels] to q(z|x); the caller disposes the posterior. */
  encode(x: tf.Tensor4D, trace?: ActivationTrace): DiagonalGaussian {
    const c = this.config;
    const factor = 2 ** (c.blockOutChannels.length - 1);
    if (x.rank !== 4 || x.shape[3] !== c.inChannels || x.shape[1] % factor !== 0 || x.shape[2] % factor !== 0) {
      throw new LdmError(
        'SHAPE_MISMATCH',
        `AutoencoderKL.encode: expected NHWC images with ${c.inChannels} channels and H, W divisible by ${factor}, got [${x.shape}]`,
      );
    }
    const moments = tf.tidy(() => {
      let h = this.encoder.forward(x, trace);
      if (this.quantConv) h = this.quantConv.forward(h);
      trace?.('quant_conv', h);
      return h;
    });
    const posterior = DiagonalGaussian.fromMoments(moments);
    moments.dispose();
    return posterior;
  }

  /** Decodes latents [B, h, w, latentChannels] to images (the decoder mean). */
  decode(z: tf.Tensor4D, trace?: ActivationTrace): tf.Tensor4D {
    if (z.rank !== 4 || z.shape[3] !== this.config.latentChannels) {
      throw new LdmError('SHAPE_MISMATCH', `AutoencoderKL.decode: expected NHWC latents with ${this.config.latentChannels} channels, got [${z.shape}]`);
    }
    return tf.tidy(() => {
      const h = this.postQuantConv ? this.postQuantConv.forward(z) : z;
      trace?.('post_quant_conv', h);
      return this.decoder.forward(h, trace);
    });
  }

  /** Reconstruction: decode(sample of q(z|x)) if a generator is given, else decode(mean). */
  forward(x: tf.Tensor4D, generator?: Generator): tf.Tensor4D {
    return tf.tidy(() => {
      const posterior = this.encode(x);
      const z = generator ? posterior.sample(generator) : posterior.mode();
      return this.decode(z);
    });
  }

  /** Latents for diffusion: (z − shift)·scaling_factor with z sampled (or the mean if no generator). */
  encodeLatents(x: tf.Tensor4D, generator?: Generator): tf.Tensor4D {
    return tf.tidy(() => {
      const posterior = this.encode(x);
      const z = generator ? posterior.sample(generator) : posterior.mode();
      return tf.mul(tf.sub(z, this.config.shiftFactor ?? 0), this.config.scalingFactor);
    });
  }

  /** Inverse of encodeLatents' scaling, then decode. */
  decodeLatents(latents: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => this.decode(tf.add(tf.div(latents, this.config.scalingFactor), this.config.shiftFactor ?? 0)));
  }

  /** Multiply-adds ×2 of convs, linears and attention products of encode + decode for `inputShape` ([B,H,W,C] or [H,W,C]). */
  forwardFlops(inputShape: number[]): number {
    const [b, h, w] = inputShape.length === 4 ? inputShape : [1, ...inputShape];
    const enc = this.encoder.flops(h!, w!);
    let f = enc.flops + (this.quantConv?.flops(enc.h, enc.w) ?? 0) + (this.postQuantConv?.flops(enc.h, enc.w) ?? 0);
    f += this.decoder.flops(enc.h, enc.w).flops;
    return f * b!;
  }
}
