import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Generator, initBackend } from '@ldm/backend';
import { AutoencoderKL, DEFAULT_VAE_CONFIG, channelStatistics, encodeToLatents, standardizeLatentChannels, standardizeLatentsOn } from './index';

describe('standardizeLatentChannels', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm' });
  });

  it('gives every latent channel zero mean and unit variance, and leaves encode → decode unchanged', () => {
    const gen = new Generator(5);
    const vae = new AutoencoderKL({ ...DEFAULT_VAE_CONFIG }, gen.split('init'));
    vae.eval();
    const before = tf.memory().numTensors;
    const x = tf.tensor4d(gen.split('x').uniform(8 * 32 * 32), [8, 32, 32, 1]);
    const z0 = vae.encodeLatents(x);
    const recon0 = vae.decodeLatents(z0);
    const { mean, std } = channelStatistics(z0.dataSync() as Float32Array, 4);
    // A randomly initialised encoder already has unequal channels; the check needs them to differ.
    expect(Math.max(...std) / Math.min(...std)).toBeGreaterThan(1.05);

    standardizeLatentChannels(vae, mean, std);
    const z1 = vae.encodeLatents(x);
    const after = channelStatistics(z1.dataSync() as Float32Array, 4);
    for (let c = 0; c < 4; c++) {
      expect(Math.abs(after.mean[c]!)).toBeLessThan(1e-5);
      expect(after.std[c]).toBeCloseTo(1, 5);
    }
    // The posterior's spread moves with its mean: σ' = σ / s per channel.
    const recon1 = vae.decodeLatents(z1);
    const err = tf.tidy(() => tf.max(tf.abs(tf.sub(recon1, recon0))).dataSync()[0]!);
    expect(err).toBeLessThan(1e-5);
    tf.dispose([x, z0, z1, recon0, recon1]);
    expect(tf.memory().numTensors).toBe(before);
    vae.dispose();
  });

  it('standardizeLatentsOn measures a dataset and folds it: its latents come out standardized per channel', () => {
    const gen = new Generator(6);
    const vae = new AutoencoderKL({ ...DEFAULT_VAE_CONFIG, scalingFactor: 0.7 }, gen.split('init'));
    vae.eval();
    const data = { name: 'noise', images: gen.split('x').uniform(12 * 32 * 32), shape: [12, 32, 32, 1] as [number, number, number, number] };
    const folded = standardizeLatentsOn(vae, data, 5);
    expect(folded.std.every((s) => s > 0)).toBe(true);
    // The scaling factor still applies on top: 0.7 × unit spread.
    const after = channelStatistics(encodeToLatents(vae, data).images, 4);
    for (let c = 0; c < 4; c++) {
      expect(Math.abs(after.mean[c]!)).toBeLessThan(1e-5);
      expect(after.std[c]).toBeCloseTo(0.7, 5);
    }
    vae.dispose();
  });

  it('refuses a zero standard deviation and a VAE without quant convs, in one line', () => {
    const vae = new AutoencoderKL({ ...DEFAULT_VAE_CONFIG }, new Generator(1));
    expect(() => standardizeLatentChannels(vae, [0, 0, 0, 0], [1, 0, 1, 1])).toThrow(/positive standard deviations/);
    vae.dispose();
    const bare = new AutoencoderKL({ ...DEFAULT_VAE_CONFIG, useQuantConv: false }, new Generator(1));
    expect(() => standardizeLatentChannels(bare, [0, 0, 0, 0], [1, 1, 1, 1])).toThrow(/quant_conv/);
    bare.dispose();
  });
});
