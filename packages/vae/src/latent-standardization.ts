/**
 * Per-channel latent standardization, folded into the VAE's weights.
 *
 * One global scaling factor (LDM's `scale_by_std`) gives the latents unit variance overall, but not per
 * channel: this project's VAE measured channel spreads of 0.61, 1.12, 1.57 and 0.94 (issue 14), so one
 * channel entered diffusion at 1.4× the variance the N(0, I) prior assumes and another at half. diffusers'
 * SDXL answers with `latents_mean` / `latents_std` in the VAE config, which its LDMPipeline ignores. Here
 * the per-channel affine map goes into the two 1×1 convolutions around the latent instead, exactly:
 *
 *   quant_conv      (mean part)   z' = (z − m) / s        weights of output channel c ÷ s_c, bias (b_c − m_c) / s_c
 *                   (log-variance) log σ'² = log σ² − 2 log s   bias − 2 log s_c
 *   post_quant_conv               z = m + s ⊙ z'          weights of input channel c × s_c, bias + Σ_c W[c, :] m_c
 *
 * so encode → decode is unchanged, the folder stays a plain diffusers AutoencoderKL (any pipeline that
 * decodes `latents / scaling_factor` decodes it right) and the latents come out with zero mean and unit
 * variance in every channel.
 */
import * as tf from '@tensorflow/tfjs-core';
import { LdmError } from '@ldm/backend';
import type { ImageDataset } from '@ldm/data';
import type { AutoencoderKL } from './autoencoder-kl';
import { encodeToLatents } from './latents';

/** Mean and standard deviation of each channel of [n, h, w, c] latents, in float64. */
export function channelStatistics(latents: Float32Array, channels: number): { mean: number[]; std: number[] } {
  const sum = new Float64Array(channels);
  const sq = new Float64Array(channels);
  const n = latents.length / channels;
  for (let i = 0; i < latents.length; i++) sum[i % channels]! += latents[i]!;
  const mean = Array.from(sum, (s) => s / n);
  for (let i = 0; i < latents.length; i++) sq[i % channels]! += (latents[i]! - mean[i % channels]!) ** 2;
  const std = Array.from(sq, (s) => Math.sqrt(s / n));
  return { mean, std };
}

/** Folds z' = (z − mean) / std (per channel) into quant_conv and its inverse into post_quant_conv, in place. */
export function standardizeLatentChannels(vae: AutoencoderKL, mean: readonly number[], std: readonly number[]): void {
  const c = vae.config.latentChannels;
  const quant = vae.quantConv;
  const postQuant = vae.postQuantConv;
  if (!quant?.bias || !postQuant?.bias)
    throw new LdmError(
      'INVALID_CONFIG',
      'standardizeLatentChannels: the VAE needs quant_conv and post_quant_conv (with biases) to fold the standardization into',
    );
  if (mean.length !== c || std.length !== c || !std.every((s) => s > 0 && Number.isFinite(s)) || !mean.every(Number.isFinite))
    throw new LdmError('INVALID_ARGUMENT', `standardizeLatentChannels: need ${c} finite means and positive standard deviations`);
  tf.tidy(() => {
    // quant_conv: [1, 1, 2c, 2c] → outputs 0..c−1 are the posterior mean, c..2c−1 its log-variance.
    const outScale = tf.tensor1d([...std.map((s) => 1 / s), ...new Array<number>(c).fill(1)]);
    const outShift = tf.tensor1d([...mean.map((m, i) => -m / std[i]!), ...std.map((s) => -2 * Math.log(s))]);
    quant.weight.assign(tf.mul(quant.weight, outScale));
    quant.bias!.assign(tf.add(tf.mul(quant.bias!, outScale), outShift));
    // post_quant_conv: [1, 1, c, c] acting on z = m + s ⊙ z'.
    const w = postQuant.weight;
    const shift = tf.reshape(tf.matMul(tf.tensor2d([...mean], [1, c]), tf.reshape(w, [c, c])), [c]);
    postQuant.bias!.assign(tf.add(postQuant.bias!, shift));
    postQuant.weight.assign(tf.mul(w, tf.reshape(tf.tensor1d([...std]), [1, 1, c, 1])));
  });
}

/**
 * Measures each channel's mean and spread of the posterior means over `data` (the training set) and folds
 * their standardization into the VAE. Returns what was folded, for latent_stats.json.
 */
export function standardizeLatentsOn(vae: AutoencoderKL, data: ImageDataset, batchSize = 256): { mean: number[]; std: number[] } {
  const latents = encodeToLatents(vae, data, { batchSize });
  // encodeToLatents applies (z − shift)·scaling; undo it to measure z itself.
  const s = vae.config.scalingFactor;
  const shift = vae.config.shiftFactor ?? 0;
  const z = latents.images.map((v) => v / s + shift);
  const stats = channelStatistics(z, vae.config.latentChannels);
  standardizeLatentChannels(vae, stats.mean, stats.std);
  return stats;
}
