import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Generator, initBackend } from '@ldm/backend';
import type { ImageDataset } from '@ldm/data';
import { readModelFolder, loadTorchStateDict } from '@ldm/nn';
import { UNet2DModel } from '@ldm/unet';
import { trainDDPM } from './train';
import type { TrainDDPMOptions } from './train';
import { squares, TINY_UNET } from '../../../test/fixtures';

const TINY = TINY_UNET;

const toyImages = (n: number): ImageDataset => squares(n, 1);

function setup(runDir: string, overrides: Partial<TrainDDPMOptions> = {}) {
  const model = new UNet2DModel(TINY as never, new Generator(3));
  const options: TrainDDPMOptions = {
    model,
    data: toyImages(64),
    runDir,
    steps: 6,
    batchSize: 8,
    learningRate: 2e-3,
    warmupSteps: 2,
    maxGradNorm: 1,
    seed: 5,
    checkpointEvery: 3,
    silent: true,
    saveModel: (dir) => model.save(dir),
    loadModel: async (dir) => {
      const { tensors } = await readModelFolder(dir);
      loadTorchStateDict(model, tensors, { source: dir });
    },
    ...overrides,
  };
  return { model, options };
}

async function weightsOf(model: UNet2DModel): Promise<Float32Array[]> {
  return Promise.all([...model.parameters().values()].map(async (v) => Float32Array.from(await v.data())));
}

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

describe('trainDDPM', () => {
  it('a run interrupted after its checkpoint and resumed ends with the same weights as an uninterrupted one', async () => {
    const straight = setup(await mkdtemp(join(tmpdir(), 'ddpm-')));
    const r1 = await trainDDPM(straight.options);
    const expected = await weightsOf(straight.model);
    const emaExpected = r1.ema.getState();

    const dir = await mkdtemp(join(tmpdir(), 'ddpm-'));
    const first = setup(dir, { steps: 6 });
    // Stop after step 3's checkpoint, as a crash would.
    const partial = await trainDDPM({ ...first.options, steps: 3 });
    partial.ema.dispose();
    first.model.dispose();
    const resumed = setup(dir);
    const r2 = await trainDDPM({ ...resumed.options, resume: true });
    expect(r2.step).toBe(6);
    const got = await weightsOf(resumed.model);
    got.forEach((w, i) => expect(w).toEqual(expected[i]));
    const emaGot = r2.ema.getState();
    expect(emaGot.optimizationStep).toBe(emaExpected.optimizationStep);
    for (const [k, v] of emaExpected.tensors) expect(emaGot.tensors.get(k)!.data).toEqual(v.data);
    for (const r of [r1, r2]) r.ema.dispose();
    straight.model.dispose();
    resumed.model.dispose();
  });

  it('lowers the loss and leaks no tensors across steps', async () => {
    const { model, options } = setup(await mkdtemp(join(tmpdir(), 'ddpm-')), { steps: 40, checkpointEvery: 1000 });
    const before = tf.memory().numTensors;
    const result = await trainDDPM({ ...options, learningRate: 3e-3 });
    result.ema.dispose();
    // The model and the optimizer's moments are the only tensors that may remain; EMA was disposed, Adam disposes itself.
    expect(tf.memory().numTensors).toBe(before);
    const lines = (await import('node:fs/promises')).readFile(join(options.runDir, 'metrics.jsonl'), 'utf8');
    const records = (await lines)
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { loss: number });
    expect(records.at(-1)!.loss).toBeLessThan(records[0]!.loss);
    model.dispose();
  });
});
