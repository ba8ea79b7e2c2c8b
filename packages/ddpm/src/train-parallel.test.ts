import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Generator, initBackend } from '@ldm/backend';
import type { ImageDataset } from '@ldm/data';
import { UNet2DModel } from '@ldm/unet';
import { trainDDPM } from './train';
import type { TrainDDPMOptions } from './train';
import { relativeErrors, squares, TINY_UNET } from '../../../test/fixtures';

const TINY = TINY_UNET;

const toyImages = (n: number): ImageDataset => squares(n, 1);

async function train(threads: number, overrides: Partial<TrainDDPMOptions> = {}) {
  const model = new UNet2DModel(TINY as never, new Generator(3));
  const runDir = await mkdtemp(join(tmpdir(), `ddpm-par${threads}-`));
  const result = await trainDDPM({
    model,
    data: toyImages(40),
    runDir,
    steps: 4,
    batchSize: 7, // odd: shards of 4 and 3 rows, so the shard weighting matters
    learningRate: 2e-3,
    warmupSteps: 1,
    maxGradNorm: 1,
    minSnrGamma: 5,
    seed: 11,
    checkpointEvery: 100,
    silent: true,
    saveModel: (dir) => model.save(dir),
    loadModel: async () => {},
    threads,
    ...overrides,
  });
  return { model, result, runDir };
}

describe('trainDDPM with threads > 1 (data-parallel workers)', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm' });
  });

  it('matches single-thread training: every parameter and the EMA to 1e-4 relative, no tensor leak', async () => {
    const one = await train(1);
    const before = tf.memory().numTensors;
    const two = await train(2);
    // trainDDPM returns the EMA (the caller disposes it): that and the model are all it may leave behind.
    const emaTensors = two.result.ema.getState().tensors.size;
    expect(tf.memory().numTensors - before).toBe(two.model.parameters().size + emaTensors);
    const errors = relativeErrors(two.model, one.model);
    expect(errors.size).toBe(one.model.parameters().size);
    const worst = Math.max(...errors.values());
    expect(worst).toBeLessThanOrEqual(1e-4);
    // Training moved the weights by much more than that.
    const init = new UNet2DModel(TINY as never, new Generator(3));
    expect(Math.max(...relativeErrors(init, one.model).values())).toBeGreaterThan(1e-3);
    expect(two.result.step).toBe(4);
    expect(two.result.smoothedLoss).toBeCloseTo(one.result.smoothedLoss, 4);
    const emaOne = one.result.ema.getState().tensors;
    for (const [name, record] of two.result.ema.getState().tensors) {
      const ref = emaOne.get(name)!.data;
      let diff = 0;
      let norm = 0;
      record.data.forEach((v, i) => {
        diff += (v - ref[i]!) ** 2;
        norm += ref[i]! ** 2;
      });
      expect(Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-12)).toBeLessThanOrEqual(1e-4);
    }
    expect((await readdir(join(two.runDir, 'checkpoints'))).length).toBe(1);
    tf.dispose([...one.model.parameters().values(), ...two.model.parameters().values(), ...init.parameters().values()]);
    one.result.ema.dispose();
    two.result.ema.dispose();
  });

  it('rejects a model that is not a UNet2DModel, and a bad thread count, without leaving workers', async () => {
    const model = new UNet2DModel(TINY as never, new Generator(3));
    const fake = {
      forward: model.forward.bind(model),
      parameters: () => model.parameters(),
      trainableParameters: () => model.trainableParameters(),
      train: () => undefined,
    };
    await expect(train(2, { model: fake })).rejects.toThrow(/needs a UNet2DModel/);
    await expect(train(1.5)).rejects.toThrow(/threads must be an integer/);
  });
});
