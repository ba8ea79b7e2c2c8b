import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp, readFile, readdir, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, LdmError } from '@ldm/backend';
import { CheckpointStore } from './checkpoint-store';
import { runTrainingLoop } from './training-loop';

beforeAll(async () => {
  await initBackend({ backend: 'cpu' });
});

/** y = 3x − 1 by plain gradient descent: small enough to reason about exactly. */
function makeRegression() {
  const w = tf.variable(tf.scalar(0));
  const b = tf.variable(tf.scalar(0));
  const xs = tf.tensor1d([-1, 0, 1, 2]);
  const ys = tf.tensor1d([-4, -1, 2, 5]);
  const optimizer = tf.train.sgd(0.1);
  const step = () => ({
    loss: optimizer.minimize(() => tf.mean(tf.square(tf.sub(tf.add(tf.mul(w, xs), b), ys))), true, [w, b]) as tf.Scalar,
  });
  return { w, b, step, dispose: () => tf.dispose([w, b, xs, ys]) };
}

describe('CheckpointStore', () => {
  it('keeps only complete checkpoints, the newest ones, and ignores crashed temporaries', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ckpt-'));
    const store = new CheckpointStore(dir, 2);
    for (const step of [10, 20, 30]) {
      await store.save(step, async (tmp) => writeFile(join(tmp, 'state.json'), JSON.stringify({ step })));
    }
    // A write that died half-way leaves only a temporary folder.
    await mkdir(join(dir, '.tmp-ckpt-40-999999'), { recursive: true });
    expect(await store.steps()).toEqual([20, 30]);
    const latest = await store.latest();
    expect(latest?.step).toBe(30);
    expect(JSON.parse(await readFile(join(latest!.path, 'state.json'), 'utf8'))).toEqual({ step: 30 });
    await store.save(50, async (tmp) => writeFile(join(tmp, 'state.json'), '{}'));
    expect((await readdir(dir)).filter((n) => n.startsWith('.tmp'))).toEqual([]);
  });

  it('leaves no checkpoint under a final name when the writer throws', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ckpt-'));
    const store = new CheckpointStore(dir);
    await expect(store.save(5, async () => Promise.reject(new Error('disk full')))).rejects.toThrow('disk full');
    expect(await store.latest()).toBeUndefined();
  });
});

describe('runTrainingLoop', () => {
  it('trains, logs metrics, checkpoints every N steps and at the end, without leaking tensors', async () => {
    const runDir = await mkdtemp(join(tmpdir(), 'run-'));
    const model = makeRegression();
    const saved: number[] = [];
    const before = tf.memory().numTensors;
    const result = await runTrainingLoop({
      runDir,
      label: 'test',
      totalSteps: 25,
      startStep: 0,
      batchSize: 4,
      checkpointEvery: 10,
      logEvery: 5,
      silent: true,
      step: model.step,
      saveCheckpoint: async (dir, step) => {
        saved.push(step);
        await writeFile(join(dir, 'w.json'), JSON.stringify(await model.w.data()));
      },
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(result.step).toBe(25);
    expect(saved).toEqual([10, 20, 25]);
    expect((await model.w.data())[0]).toBeCloseTo(3, 1);
    const lines = (await readFile(join(runDir, 'metrics.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.step)).toEqual([5, 10, 15, 20, 25]);
    expect(lines[4].loss).toBeLessThan(lines[0].loss);
    model.dispose();
  });

  it('stops at a NaN loss naming the step, and keeps the last good checkpoint', async () => {
    const runDir = await mkdtemp(join(tmpdir(), 'run-'));
    let calls = 0;
    const error = await runTrainingLoop({
      runDir,
      label: 'nan',
      totalSteps: 20,
      startStep: 0,
      batchSize: 1,
      checkpointEvery: 5,
      silent: true,
      step: () => ({ loss: tf.scalar(++calls === 8 ? NaN : 1) }),
      saveCheckpoint: async (dir, step) => writeFile(join(dir, 'step'), String(step)),
    }).catch((e: unknown) => e);
    expect(LdmError.isInstance(error)).toBe(true);
    expect((error as LdmError).code).toBe('NUMERICAL_ERROR');
    expect((error as Error).message).toContain('step 8');
    expect((error as Error).message).toContain('step 5');
    expect(await new CheckpointStore(join(runDir, 'checkpoints')).steps()).toEqual([5]);
  });

  it('writes a checkpoint and stops early on SIGINT', async () => {
    const runDir = await mkdtemp(join(tmpdir(), 'run-'));
    let calls = 0;
    const result = await runTrainingLoop({
      runDir,
      label: 'sigint',
      totalSteps: 1000,
      startStep: 0,
      batchSize: 1,
      checkpointEvery: 10_000,
      silent: true,
      step: () => {
        if (++calls === 3) process.emit('SIGINT', 'SIGINT');
        return { loss: tf.scalar(1) };
      },
      saveCheckpoint: async (dir, step) => writeFile(join(dir, 'step'), String(step)),
    });
    expect(result.interrupted).toBe('SIGINT');
    expect(result.step).toBe(3);
    expect(await new CheckpointStore(join(runDir, 'checkpoints')).steps()).toEqual([3]);
  });
});
