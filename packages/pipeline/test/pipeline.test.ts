import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp, readFile, rm, writeFile, mkdir, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Generator, initBackend, randn } from '@ldm/backend';
import { DDPMScheduler } from '@ldm/ddpm';
import { LATENT_UNET_CONFIG, PIXEL_UNET_CONFIG, UNet2DModel } from '@ldm/unet';
import { AutoencoderKL, DEFAULT_VAE_CONFIG } from '@ldm/vae';
import { DDPMPipeline, LatentDiffusionPipeline, loadPipeline, parseModelIndex, readModelIndex } from '../src/index';

const TINY_UNET = { ...LATENT_UNET_CONFIG, blockOutChannels: [8, 16], normNumGroups: 4, attentionHeadDim: 8, sampleSize: 8 };
const TINY_VAE = {
  ...DEFAULT_VAE_CONFIG,
  sampleSize: 16,
  blockOutChannels: [8, 16],
  downBlockTypes: ['DownEncoderBlock2D', 'DownEncoderBlock2D'],
  upBlockTypes: ['UpDecoderBlock2D', 'UpDecoderBlock2D'],
  normNumGroups: 4,
  scalingFactor: 0.8,
};
const stats = { scalingFactor: 0.8, mean: 0.01, std: 1.25, count: 10 };

function latentPipeline(): LatentDiffusionPipeline {
  const vae = new AutoencoderKL(TINY_VAE as never, new Generator(1));
  const unet = new UNet2DModel(TINY_UNET, new Generator(2));
  vae.eval();
  unet.eval();
  return new LatentDiffusionPipeline({
    vae,
    unet,
    schedulerConfig: new DDPMScheduler({ numTrainTimesteps: 1000 }).toConfig(),
    latentStatistics: stats,
    extras: { data: 'mnist' },
  });
}

describe('LatentDiffusionPipeline and DDPMPipeline', () => {
  let dir: string;
  beforeAll(async () => {
    await initBackend({ backend: 'wasm' });
    dir = await mkdtemp(join(tmpdir(), 'ldm-pipeline-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes diffusers LDMPipeline folders and reads them back: same seed, same images, in [0, 1], no tensor leak', async () => {
    const p = latentPipeline();
    const out = join(dir, 'ldm');
    await p.save(out);
    const index = JSON.parse(await readFile(join(out, 'model_index.json'), 'utf8'));
    expect(index).toEqual({
      _class_name: 'LDMPipeline',
      _diffusers_version: '0.38.0',
      scheduler: ['diffusers', 'DDPMScheduler'],
      unet: ['diffusers', 'UNet2DModel'],
      _ldm: { data: 'mnist' },
      vqvae: ['diffusers', 'AutoencoderKL'],
    });
    expect(JSON.parse(await readFile(join(out, 'vqvae', 'config.json'), 'utf8')).scaling_factor).toBeCloseTo(0.8, 6);
    expect(JSON.parse(await readFile(join(out, 'vqvae', 'latent_stats.json'), 'utf8')).scaling_factor).toBeCloseTo(0.8, 6);

    const loaded = await LatentDiffusionPipeline.fromPretrained(out);
    expect(loaded.sampleShape).toEqual([8, 8, 4]);
    expect(loaded.extras).toEqual({ data: 'mnist' });
    const before = tf.memory().numTensors;
    const a = p.generate({ count: 3, sampler: 'ddim', steps: 4, seed: 5, batchSize: 2 });
    const b = loaded.generate({ count: 3, sampler: 'ddim', steps: 4, seed: 5, batchSize: 2 });
    expect(a.images.shape).toEqual([3, 16, 16, 1]);
    const av = a.images.dataSync();
    expect(Math.min(...av)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...av)).toBeLessThanOrEqual(1);
    expect(Array.from(b.images.dataSync())).toEqual(Array.from(av));
    const c = loaded.generate({ count: 3, sampler: 'ddim', steps: 4, seed: 6 });
    expect(Array.from(c.images.dataSync())).not.toEqual(Array.from(av));
    tf.dispose([a.images, b.images, c.images]);
    expect(tf.memory().numTensors).toBe(before);
    p.dispose();
    loaded.dispose();
  });

  it('takes x_T from `latents`: the same latents give the same DDIM images whatever the seed; DDPM steps and prior decoding work', async () => {
    const p = latentPipeline();
    const xT = randn([2, 8, 8, 4], new Generator(9)) as tf.Tensor4D;
    const a = p.generate({ latents: xT, sampler: 'ddim', steps: 3, seed: 1 });
    const b = p.generate({ latents: xT, sampler: 'ddim', steps: 3, seed: 2 });
    expect(Array.from(a.images.dataSync())).toEqual(Array.from(b.images.dataSync()));
    let calls = 0;
    const d = p.generate({
      count: 2,
      sampler: 'ddpm',
      steps: 5,
      onStep: (done, total) => {
        calls = done;
        expect(total).toBe(5);
      },
    });
    expect(calls).toBe(5);
    const prior = p.decodeFromPrior({ count: 2, seed: 3 });
    expect(prior.images.shape).toEqual([2, 16, 16, 1]);
    expect(() => p.generate({ latents: xT, count: 3 })).toThrow(/latents hold 2 images but count is 3/);
    expect(() => p.generate({ count: 0 })).toThrow(/count must be a positive integer/);
    tf.dispose([xT, a.images, b.images, d.images, prior.images]);
    p.dispose();
  });

  it('DDPMPipeline: a pixel folder round trip', async () => {
    const unet = new UNet2DModel(
      { ...PIXEL_UNET_CONFIG, blockOutChannels: [8, 16, 16], normNumGroups: 4, attentionHeadDim: 8, sampleSize: 8 },
      new Generator(3),
    );
    const p = new DDPMPipeline({ unet, schedulerConfig: new DDPMScheduler({ clipSample: true }).toConfig() });
    const out = join(dir, 'ddpm');
    await p.save(out);
    expect(JSON.parse(await readFile(join(out, 'model_index.json'), 'utf8'))._class_name).toBe('DDPMPipeline');
    const loaded = await loadPipeline(out);
    expect(loaded).toBeInstanceOf(DDPMPipeline);
    const a = p.generate({ count: 2, steps: 3, seed: 4 });
    const b = loaded.generate({ count: 2, steps: 3, seed: 4 });
    expect(a.images.shape).toEqual([2, 8, 8, 1]);
    expect(Array.from(b.images.dataSync())).toEqual(Array.from(a.images.dataSync()));
    await expect(LatentDiffusionPipeline.fromPretrained(out)).rejects.toThrow(/pixel-space pipeline/);
    tf.dispose([a.images, b.images]);
    p.dispose();
    loaded.dispose();
  });

  it('reads folders in the older format (space, sample_shape, a relative VAE path)', async () => {
    const p = latentPipeline();
    const modern = join(dir, 'modern');
    await p.save(modern);
    const old = join(dir, 'old', 'latent-ddpm');
    await mkdir(old, { recursive: true });
    await cp(join(modern, 'unet'), join(old, 'unet'), { recursive: true });
    await cp(join(modern, 'scheduler'), join(old, 'scheduler'), { recursive: true });
    await cp(join(modern, 'vqvae'), join(dir, 'old', 'vae'), { recursive: true });
    await writeFile(
      join(old, 'model_index.json'),
      JSON.stringify({ _class_name: 'LatentDDPMPipeline', space: 'latent', vae: '../vae', sample_shape: [8, 8, 4], data: 'mnist' }),
    );
    const loaded = await loadPipeline(old);
    expect(loaded).toBeInstanceOf(LatentDiffusionPipeline);
    const a = p.generate({ count: 1, steps: 2, seed: 1 });
    const b = loaded.generate({ count: 1, steps: 2, seed: 1 });
    expect(Array.from(b.images.dataSync())).toEqual(Array.from(a.images.dataSync()));
    tf.dispose([a.images, b.images]);
    p.dispose();
    loaded.dispose();
  });

  it('model_index.json errors name the file and the key, in one line', async () => {
    expect(() =>
      parseModelIndex({ _class_name: 'LDMPipeline', unet: ['diffusers', 'UNet2DModel'], scheduler: ['diffusers', 'DDIMScheduler'] }, 'x/model_index.json'),
    ).toThrow(/^x\/model_index\.json: key "vqvae": /);
    expect(() =>
      parseModelIndex({ _class_name: 'DDPMPipeline', unet: ['diffusers', 'UNet2DConditionModel'], scheduler: ['diffusers', 'DDPMScheduler'] }, 'f.json'),
    ).toThrow(/f\.json: key "unet\.1"/);
    expect(() => parseModelIndex({ _class_name: 'StableDiffusionPipeline' }, 'f.json')).toThrow(/key "_class_name": expected "LDMPipeline" or "DDPMPipeline"/);
    expect(() => parseModelIndex({ _class_name: 'LatentDDPMPipeline', space: 'latent', vae: 5, sample_shape: [8, 8, 4] }, 'f.json')).toThrow(
      /f\.json: key "vae".*convert/,
    );
    const broken = join(dir, 'broken');
    await mkdir(broken, { recursive: true });
    await writeFile(join(broken, 'model_index.json'), '{ nope');
    await expect(readModelIndex(broken)).rejects.toThrow(/model_index\.json is not valid JSON/);
    await expect(readModelIndex(join(dir, 'missing'))).rejects.toThrow(/model_index\.json is missing/);
  });
});
