import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Generator, initBackend } from '@ldm/backend';
import type { ImageDataset } from '@ldm/data';
import { AutoencoderKL } from './autoencoder-kl';
import { computeLatentStatistics, encodeToLatents, readLatentStatistics, saveVaeWithLatentStatistics } from './latents';
import { trainVAE } from './train';
import type { TrainVAEOptions } from './train';
import { squares } from '../../../test/fixtures';
import { TINY_VAE } from '../test/fixtures';

const TINY = TINY_VAE;

const blobs = (n: number): ImageDataset => squares(n, 2, 'blobs');

async function run(runDir: string, extra: Partial<TrainVAEOptions> = {}) {
  const vae = new AutoencoderKL(TINY, new Generator(4));
  const result = await trainVAE({
    vae,
    data: blobs(48),
    runDir,
    steps: 6,
    batchSize: 8,
    learningRate: 2e-3,
    klWeight: 0.1,
    klWarmupSteps: 4,
    maxGradNorm: 5,
    seed: 9,
    checkpointEvery: 3,
    silent: true,
    ...extra,
  });
  return { vae, result };
}

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

describe('trainVAE', () => {
  it('resumes exactly: interrupted at a checkpoint then resumed equals one straight run', async () => {
    const straight = await run(await mkdtemp(join(tmpdir(), 'vae-')));
    const dir = await mkdtemp(join(tmpdir(), 'vae-'));
    (await run(dir, { steps: 3 })).vae.dispose();
    const resumed = await run(dir, { resume: true });
    expect(resumed.result.step).toBe(6);
    const a = [...straight.vae.parameters().values()];
    const b = [...resumed.vae.parameters().values()];
    a.forEach((v, i) => expect(b[i]!.dataSync()).toEqual(v.dataSync()));
    straight.vae.dispose();
    resumed.vae.dispose();
  });

  it('reports reconstruction and KL separately, lowers the loss, and leaks nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vae-'));
    const before = tf.memory().numTensors;
    const { vae } = await run(dir, { steps: 30, checkpointEvery: 1000 });
    const records = (await readFile(join(dir, 'metrics.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, number>);
    expect(records[0]).toHaveProperty('reconstruction');
    expect(records[0]).toHaveProperty('kl');
    expect(records.at(-1)!.loss!).toBeLessThan(records[0]!.loss!);
    vae.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('measures the scaling factor over the whole set so scaled latents have unit variance', async () => {
    const vae = new AutoencoderKL(TINY, new Generator(4));
    const data = blobs(40);
    const stats = computeLatentStatistics(vae, data, 16);
    expect(stats.count).toBe(40);
    const dir = await mkdtemp(join(tmpdir(), 'vae-'));
    await saveVaeWithLatentStatistics(vae, dir, stats);
    expect((await readLatentStatistics(dir))?.scalingFactor).toBeCloseTo(stats.scalingFactor, 10);
    const loaded = await AutoencoderKL.fromPretrained(dir);
    expect(loaded.config.scalingFactor).toBeCloseTo(stats.scalingFactor, 6);
    const latents = encodeToLatents(loaded, data, { batchSize: 16 });
    let s = 0;
    let s2 = 0;
    for (const v of latents.images) {
      s += v;
      s2 += v * v;
    }
    const m = s / latents.images.length;
    expect(Math.sqrt(s2 / latents.images.length - m * m)).toBeCloseTo(1, 4);
    expect(latents.shape).toEqual([40, 4, 4, 4]);
    expect(await readLatentStatistics(await mkdtemp(join(tmpdir(), 'vae-')))).toBeUndefined();
    vae.dispose();
    loaded.dispose();
  });
});
