import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { Generator, initBackend } from '@ldm/backend';
import { Linear } from '../linear';
import { loadModelFolderInto, writeModelFolder } from '../model-folder';
import { toTorchStateDict } from '../torch-layout';
import { resumableStateSchemas } from './resume-point';
import { toTensor, train, withStateSchema } from './trainer';
import type { TrainOptions } from './trainer';

beforeAll(async () => {
  await initBackend({ backend: 'cpu' });
});

/** y = x·W + b on noisy targets: the batch holds x and the target noise, drawn from seeded streams. */
function setup(runDir: string | undefined, steps: number, extra: Partial<TrainOptions<Linear>> = {}) {
  const model = new Linear(3, 2, new Generator(1));
  const root = new Generator(7);
  const data = root.split('data');
  const noise = root.split('noise');
  const options: TrainOptions<Linear> = {
    model,
    loss: {
      metricNames: ['mae'],
      compute: (m, batch) => {
        const x = toTensor(batch.x!);
        const target = tf.add(
          tf.matMul(
            x,
            tf.tensor2d([
              [1, -1],
              [2, 0],
              [0, 3],
            ]),
          ),
          tf.mul(toTensor(batch.noise!), 0.1),
        );
        const y = m.forward(x);
        return { loss: tf.mean(tf.squaredDifference(y, target)) as tf.Scalar, metrics: { mae: tf.mean(tf.abs(tf.sub(y, target))) as tf.Scalar } };
      },
    },
    nextBatch: () => ({ x: { data: data.normal(8 * 3), shape: [8, 3] }, noise: { data: noise.normal(8 * 2), shape: [8, 2] } }),
    // One stream with its schema, one without (then its key need only be present in state.json).
    resumables: { dataGenerator: data, noiseGenerator: withStateSchema(noise, resumableStateSchemas.generator) },
    steps,
    batchSize: 8,
    learningRate: { base: 0.05, schedule: 'constant' },
    maxGradNorm: 5,
    ema: { maxDecay: 0.9 },
    label: 'linear',
    silent: true,
    ...(runDir
      ? {
          runDir,
          checkpointEvery: 3,
          saveModel: (dir: string) => writeModelFolder(dir, {}, toTorchStateDict(model)),
          loadModel: (dir: string) => loadModelFolderInto(model, dir),
        }
      : {}),
    ...extra,
  };
  return { model, options };
}

const values = (params: Map<string, tf.Variable>) => [...params.values()].map((v) => Array.from(v.dataSync()));

describe('train (the training skeleton)', () => {
  it('an in-memory run: no files, no signal handler, every step reported, the loss falls, no tensor leak beyond the model and its EMA', async () => {
    const { model, options } = setup(undefined, 40);
    const before = tf.memory().numTensors;
    const losses: number[] = [];
    const listeners = process.listenerCount('SIGINT');
    let listenersDuring = -1;
    const result = await train({
      ...options,
      onStep: (step, loss) => {
        losses.push(step === losses.length + 1 ? loss : NaN);
        listenersDuring = process.listenerCount('SIGINT');
      },
    });
    // Nothing to checkpoint, so Ctrl-C keeps its default effect instead of returning a half-trained model.
    expect(listenersDuring).toBe(listeners);
    expect(losses).toHaveLength(40);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.slice(-5).reduce((a, b) => a + b) / 5).toBeLessThan(0.2 * losses[0]!);
    expect(result.step).toBe(40);
    expect(Object.keys(result.lastMetrics)).toEqual(['loss', 'mae', 'gradNorm', 'lr']);
    expect(tf.memory().numTensors - before).toBe(result.ema!.getState().tensors.size);
    result.ema!.dispose();
    model.dispose();
  });

  it('a run stopped at a checkpoint and resumed ends with the same weights and EMA as an uninterrupted one, bit for bit', async () => {
    const whole = setup(await mkdtemp(join(tmpdir(), 'trainer-')), 6);
    const a = await train(whole.options);
    const dir = await mkdtemp(join(tmpdir(), 'trainer-'));
    const first = setup(dir, 3);
    (await train(first.options)).ema!.dispose();
    first.model.dispose();
    const second = setup(dir, 6, { resume: true });
    let listenersDuring = 0;
    const b = await train({ ...second.options, onStep: () => (listenersDuring = process.listenerCount('SIGINT')) });
    expect(listenersDuring).toBeGreaterThan(0); // a run with a folder checkpoints on Ctrl-C
    expect(b.step).toBe(6);
    expect(values(second.model.parameters())).toEqual(values(whole.model.parameters()));
    const emaA = [...a.ema!.getState().tensors.values()].map((t) => Array.from(t.data));
    const emaB = [...b.ema!.getState().tensors.values()].map((t) => Array.from(t.data));
    expect(emaB).toEqual(emaA);
    expect((await readdir(join(dir, 'checkpoints'))).sort()).toEqual(['ckpt-0000003', 'ckpt-0000006']);
    for (const r of [a, b]) r.ema!.dispose();
    whole.model.dispose();
    second.model.dispose();
  });

  it('resuming past a corrupt newest checkpoint: warns naming it, uses the previous one and still ends bit-exact; none usable is an error naming the newest', async () => {
    const whole = setup(await mkdtemp(join(tmpdir(), 'trainer-')), 6);
    (await train(whole.options)).ema!.dispose();
    const dir = await mkdtemp(join(tmpdir(), 'trainer-'));
    const first = setup(dir, 6);
    (await train(first.options)).ema!.dispose();
    first.model.dispose();
    const newest = join(dir, 'checkpoints', 'ckpt-0000006', 'state.json');
    const state = JSON.parse(await readFile(newest, 'utf8'));
    state.noiseGenerator.counter = -1;
    await writeFile(newest, JSON.stringify(state));
    const warnings: string[] = [];
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      warnings.push(String(chunk));
      return true;
    });
    let b: Awaited<ReturnType<typeof train>>;
    const second = setup(dir, 6, { resume: true });
    try {
      b = await train(second.options);
    } finally {
      stderr.mockRestore();
    }
    expect(warnings.join('')).toMatch(
      /^warning: .*ckpt-0000006\/state\.json: "noiseGenerator\.counter" .*resuming from the previous checkpoint \(step 3\) instead\n$/,
    );
    expect(b.step).toBe(6);
    expect(values(second.model.parameters())).toEqual(values(whole.model.parameters()));
    b.ema!.dispose();
    second.model.dispose();
    whole.model.dispose();

    // Both checkpoints unusable (the resumed run rewrote step 6; the older one's state.json lacks a resumable's key): the newest's fault is told.
    for (const step of ['ckpt-0000003', 'ckpt-0000006']) {
      const path = join(dir, 'checkpoints', step, 'state.json');
      const s = JSON.parse(await readFile(path, 'utf8'));
      if (step === 'ckpt-0000003') delete s.dataGenerator;
      else s.noiseGenerator.counter = -1;
      await writeFile(path, JSON.stringify(s));
    }
    const third = setup(dir, 9, { resume: true });
    await expect(train(third.options)).rejects.toThrow(/ckpt-0000006\/state\.json: "noiseGenerator\.counter"/);
    third.model.dispose();
  });

  it('refuses resume without a run folder, and threads > 1 for a model no worker can rebuild', async () => {
    const { model, options } = setup(undefined, 2);
    await expect(train({ ...options, resume: true })).rejects.toThrow(/resume needs a run folder/);
    await expect(train({ ...options, threads: 2 })).rejects.toThrow(/threads > 1 needs a model a worker can rebuild/);
    model.dispose();
  });
});
