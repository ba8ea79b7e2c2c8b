import * as tf from '@tensorflow/tfjs-core';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Generator, initBackend } from '@ldm/backend';
import { DDPMScheduler } from '@ldm/ddpm';
import { LATENT_UNET_CONFIG, UNet2DModel } from '@ldm/unet';
import { AutoencoderKL, DEFAULT_VAE_CONFIG } from '@ldm/vae';
import { LatentDiffusionPipeline, loadPipeline } from '../src/index';

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

/** A plain static file server over `root` (what `ldm serve` does, without its path checks): the pipeline only sees URLs. */
function serveFolder(root: string): Promise<{ server: Server; url: string; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer(async (req, res) => {
    requests.push(req.url ?? '');
    try {
      res.end(await readFile(join(root, decodeURIComponent(req.url ?? '/'))));
    } catch {
      res.statusCode = 404;
      res.end('not found');
    }
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests })),
  );
}

describe('pipelines from a URL, and generateAsync', () => {
  let dir: string;
  let served: Awaited<ReturnType<typeof serveFolder>>;
  let saved: LatentDiffusionPipeline;
  beforeAll(async () => {
    await initBackend({ backend: 'wasm' });
    dir = await mkdtemp(join(tmpdir(), 'ldm-pipeline-url-'));
    const vae = new AutoencoderKL(TINY_VAE as never, new Generator(1));
    const unet = new UNet2DModel(TINY_UNET, new Generator(2));
    saved = new LatentDiffusionPipeline({
      vae,
      unet,
      schedulerConfig: new DDPMScheduler({ numTrainTimesteps: 1000 }).toConfig(),
      latentStatistics: { scalingFactor: 0.8, mean: 0, std: 1.25, count: 10 },
    });
    saved.vae.eval();
    saved.unet.eval();
    await saved.save(join(dir, 'ldm'));
    served = await serveFolder(dir);
  });
  afterAll(async () => {
    saved.dispose();
    await new Promise((resolve) => served.server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it('loads an LDMPipeline folder over HTTP (with or without a trailing slash): the same images as from disk', async () => {
    const fromDisk = await LatentDiffusionPipeline.fromPretrained(join(dir, 'ldm'));
    const fromUrl = await LatentDiffusionPipeline.fromPretrained(`${served.url}/ldm`);
    const viaLoad = await loadPipeline(`${served.url}/ldm/`);
    expect(served.requests).toContain('/ldm/vqvae/diffusion_pytorch_model.safetensors');
    expect(served.requests).toContain('/ldm/vqvae/latent_stats.json');
    expect(fromUrl.latentStatistics?.scalingFactor).toBeCloseTo(0.8, 6);
    const options = { count: 2, sampler: 'ddim' as const, steps: 3, seed: 4 };
    const [a, b, c] = [fromDisk, fromUrl, viaLoad].map((p) => p.generate(options).images);
    expect(Array.from(b!.dataSync())).toEqual(Array.from(a!.dataSync()));
    expect(Array.from(c!.dataSync())).toEqual(Array.from(a!.dataSync()));
    tf.dispose([a!, b!, c!]);
    for (const p of [fromDisk, fromUrl, viaLoad]) p.dispose();
  });

  it('a URL that is not a pipeline folder is a one-line error naming model_index.json', async () => {
    await expect(LatentDiffusionPipeline.fromPretrained(`${served.url}/nothing-here`)).rejects.toThrow(
      /nothing-here is not a pipeline folder: model_index\.json is missing/,
    );
  });

  it('generateAsync gives the same images as generate, previews as it denoises, pauses every step and leaks no tensor', async () => {
    const options = { count: 3, sampler: 'ddim' as const, steps: 5, seed: 7, batchSize: 2 };
    const before = tf.memory().numTensors;
    const sync = saved.generate(options).images;
    const previews: Array<{ start: number; shape: number[] }> = [];
    let pauses = 0;
    const async = (
      await saved.generateAsync({
        ...options,
        previewEvery: 2,
        onPreview: (images, start) => void previews.push({ start, shape: images.shape }),
        pause: async () => void pauses++,
      })
    ).images;
    expect(Array.from(async.dataSync())).toEqual(Array.from(sync.dataSync()));
    // 2 batches × 5 steps: a pause after each; previews every 2nd step counted over both batches (2, 4 of batch 0; 6, 8, 10 of batch 1).
    expect(pauses).toBe(10);
    expect(previews).toEqual([
      { start: 0, shape: [2, 16, 16, 1] },
      { start: 0, shape: [2, 16, 16, 1] },
      { start: 2, shape: [1, 16, 16, 1] },
      { start: 2, shape: [1, 16, 16, 1] },
      { start: 2, shape: [1, 16, 16, 1] },
    ]);
    tf.dispose([sync, async]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a preview that throws stops the generation and leaks no tensor', async () => {
    const before = tf.memory().numTensors;
    await expect(
      saved.generateAsync({
        count: 2,
        steps: 4,
        previewEvery: 1,
        onPreview: (_images, _start) => {
          throw new Error('stop');
        },
      }),
    ).rejects.toThrow('stop');
    expect(tf.memory().numTensors).toBe(before);
  });
});
