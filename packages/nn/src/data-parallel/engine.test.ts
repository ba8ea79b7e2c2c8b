import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ldm/backend';
import { DataParallelEngine, sliceRows, splitRows } from './engine';
import type { Shard } from './protocol';

const task = { module: new URL('./test-replica.ts', import.meta.url).href, export: 'createLinearReplica', config: { inputs: 3, outputs: 2 } };

function problem(batch: number) {
  const x = Float32Array.from({ length: batch * 3 }, (_, i) => Math.sin(i + 1));
  const y = Float32Array.from({ length: batch * 2 }, (_, i) => Math.cos(i * 0.7));
  return { x: { data: x, shape: [batch, 3] }, y: { data: y, shape: [batch, 2] } };
}

function shardsOf(batch: number, parts: number): Shard[] {
  const p = problem(batch);
  return splitRows(batch, parts).map(([a, b]) => ({ rows: b - a, inputs: { x: sliceRows(p.x, a, b), y: sliceRows(p.y, a, b) } }));
}

describe('DataParallelEngine', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm' });
  });

  it('splits rows contiguously, larger shards first', () => {
    expect(splitRows(5, 2)).toEqual([
      [0, 3],
      [3, 5],
    ]);
    expect(splitRows(4, 3)).toEqual([
      [0, 2],
      [2, 3],
      [3, 4],
    ]);
  });

  it('sums shard gradients into the full-batch gradient, follows the main weights, leaks nothing', async () => {
    const w = tf.variable(tf.tensor2d([0.1, -0.2, 0.3, 0.05, -0.4, 0.2], [3, 2]), true);
    const b = tf.variable(tf.tensor1d([0.01, -0.02]), true);
    const unused = tf.variable(tf.zeros([3]), true);
    const params = new Map([
      ['w', w],
      ['b', b],
      ['unused', unused],
    ]);
    const engine = await DataParallelEngine.create({ threads: 2, task, parameters: params });
    try {
      const before = tf.memory().numTensors;
      for (let step = 0; step < 3; step++) {
        const batch = 5;
        const p = problem(batch);
        const reference = tf.tidy(() => {
          const x = tf.tensor2d(p.x.data, [batch, 3]);
          const y = tf.tensor2d(p.y.data, [batch, 2]);
          const { value, grads } = tf.variableGrads(() => tf.mean(tf.squaredDifference(tf.add(tf.matMul(x, w), b), y)) as tf.Scalar, [w, b]);
          return { loss: value.dataSync()[0]!, gw: grads[w.name]!.dataSync(), gb: grads[b.name]!.dataSync() };
        });
        const out = engine.computeGradients(shardsOf(batch, 2));
        expect(out.loss).toBeCloseTo(reference.loss, 5);
        expect(out.metrics.mae).toBeGreaterThan(0);
        expect([...out.grads.keys()].sort()).toEqual(['b', 'w']); // no gradient for 'unused', as in-process
        const gw = out.grads.get('w')!.dataSync();
        for (let i = 0; i < gw.length; i++) expect(gw[i]).toBeCloseTo(reference.gw[i]!, 5);
        const gb = out.grads.get('b')!.dataSync();
        for (let i = 0; i < gb.length; i++) expect(gb[i]).toBeCloseTo(reference.gb[i]!, 5);
        // An SGD step in the main thread: the workers must see it at the next step.
        tf.tidy(() => {
          w.assign(tf.sub(w, tf.mul(out.grads.get('w')!, 0.5)));
          b.assign(tf.sub(b, tf.mul(out.grads.get('b')!, 0.5)));
        });
        tf.dispose([...out.grads.values()]);
      }
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      await engine.dispose();
      tf.dispose([w, b, unused]);
    }
  });

  it('reports a worker error, keeps working after it, and terminates cleanly', async () => {
    const params = new Map([
      ['w', tf.variable(tf.zeros([3, 2]), true)],
      ['b', tf.variable(tf.zeros([2]), true)],
      ['unused', tf.variable(tf.zeros([3]), true)],
    ]);
    const engine = await DataParallelEngine.create({ threads: 2, task, parameters: params });
    expect(() => engine.computeGradients(shardsOf(4, 2), { fail: true })).toThrow(/worker 0: deliberate failure/);
    const out = engine.computeGradients(shardsOf(4, 2));
    expect(out.grads.size).toBe(2);
    tf.dispose([...out.grads.values()]);
    expect(() => engine.computeGradients(shardsOf(4, 2), { exit: true })).toThrow(/exited during the step/);
    await engine.dispose();
    await engine.dispose();
    expect(() => engine.computeGradients(shardsOf(4, 2))).toThrow(/after dispose/);
    tf.dispose([...params.values()]);
  });

  it('fails to start with a clear message and leaves no worker behind', async () => {
    const params = new Map([['w', tf.variable(tf.zeros([3, 2]), true)]]);
    await expect(DataParallelEngine.create({ threads: 2, task, parameters: params })).rejects.toThrow(/3 parameters, the main thread 1/);
    await expect(DataParallelEngine.create({ threads: 2, task: { ...task, export: 'nope' }, parameters: params })).rejects.toThrow(/no function export 'nope'/);
    tf.dispose([...params.values()]);
  });
});
