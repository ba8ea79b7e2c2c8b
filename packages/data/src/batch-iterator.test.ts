import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Generator, initBackend } from '@ldm/backend';
import { BatchIterator } from './batch-iterator';
import type { ImageDataset } from './dataset';
import { splitHeldOut } from './split';

/** Image i is filled with the value i, so a batch's pixels tell which images it holds. */
function numbered(n: number, h = 2, w = 2, c = 1): ImageDataset {
  const size = h * w * c;
  const images = new Float32Array(n * size);
  for (let i = 0; i < n; i++) images.fill(i, i * size, (i + 1) * size);
  return { images, shape: [n, h, w, c], labels: Int32Array.from({ length: n }, (_, i) => i % 3), numClasses: 3, name: 'numbered' };
}

function take(it: BatchIterator, steps: number): number[][] {
  return Array.from({ length: steps }, () => Array.from(it.next().indices));
}

beforeAll(async () => {
  await initBackend({ backend: 'cpu' });
});

describe('BatchIterator', () => {
  const ds = numbered(23);

  it('each epoch is a permutation, the last partial batch is dropped, images and labels follow the indices', () => {
    const it = new BatchIterator(ds, { batchSize: 5, generator: new Generator(1) });
    expect(it.batchesPerEpoch).toBe(4);
    const epochs: number[][] = [[], []];
    for (let step = 0; step < 8; step++) {
      const batch = it.next();
      expect(batch.shape).toEqual([5, 2, 2, 1]);
      expect(batch.epoch).toBe(Math.floor(step / 4));
      batch.indices.forEach((idx, k) => {
        expect(Array.from(batch.images.subarray(k * 4, (k + 1) * 4))).toEqual([idx, idx, idx, idx]);
        expect(batch.labels![k]).toBe(idx % 3);
      });
      epochs[batch.epoch]!.push(...batch.indices);
    }
    for (const seen of epochs) {
      expect(seen.length).toBe(20);
      expect(new Set(seen).size).toBe(20);
    }
    expect(epochs[0]).not.toEqual(epochs[1]);
  });

  it('is reproducible by seed and differs across seeds', () => {
    const a = take(new BatchIterator(ds, { batchSize: 4, generator: new Generator(7) }), 10);
    const b = take(new BatchIterator(ds, { batchSize: 4, generator: new Generator(7) }), 10);
    const c = take(new BatchIterator(ds, { batchSize: 4, generator: new Generator(8) }), 10);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    const ordered = take(new BatchIterator(ds, { batchSize: 4, generator: new Generator(7), shuffle: false }), 2);
    expect(ordered).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
    ]);
  });

  it('works on its own copy of the generator: later draws from the caller do not change the order', () => {
    const gen = new Generator(3);
    const it = new BatchIterator(ds, { batchSize: 4, generator: gen });
    gen.normal(100);
    expect(take(it, 12)).toEqual(take(new BatchIterator(ds, { batchSize: 4, generator: new Generator(3) }), 12));
  });

  it('resumes from state() exactly, mid-epoch and at an epoch boundary, through a JSON round trip', () => {
    const reference = take(new BatchIterator(ds, { batchSize: 5, generator: new Generator(11) }), 14);
    for (const stopAt of [0, 1, 3, 4, 6, 8, 13]) {
      const run = new BatchIterator(ds, { batchSize: 5, generator: new Generator(11) });
      const before = take(run, stopAt);
      const saved = JSON.parse(JSON.stringify(run.state()));
      const resumed = BatchIterator.fromState(ds, { batchSize: 5, generator: new Generator(999) }, saved);
      expect([...before, ...take(resumed, 14 - stopAt)]).toEqual(reference);
    }
  });

  it('rejects batch sizes larger than the dataset and cursors that do not fit', () => {
    expect(() => new BatchIterator(ds, { batchSize: 24, generator: new Generator(0) })).toThrow(/batchSize 24 is larger than numbered's 23 images/);
    expect(() => new BatchIterator(ds, { batchSize: 0, generator: new Generator(0) })).toThrow(/positive integer/);
    const bad = { epoch: 0, position: 40, generatorState: new Generator(0).state() };
    expect(() => BatchIterator.fromState(ds, { batchSize: 5, generator: new Generator(0) }, bad)).toThrow(/does not fit a dataset of 23/);
  });

  it('nextTensor gives a [b, h, w, c] tensor holding the batch, and nothing else stays allocated', () => {
    const it = new BatchIterator(numbered(10, 3, 2, 3), { batchSize: 4, generator: new Generator(5) });
    const twin = new BatchIterator(numbered(10, 3, 2, 3), { batchSize: 4, generator: new Generator(5) });
    const before = tf.memory().numTensors;
    for (let step = 0; step < 5; step++) {
      const x = it.nextTensor();
      expect(x.shape).toEqual([4, 3, 2, 3]);
      expect(Array.from(x.dataSync())).toEqual(Array.from(twin.next().images));
      x.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('splitHeldOut', () => {
  it('splits disjointly and completely, reproducibly by seed', () => {
    const ds = numbered(50);
    const { train, heldOut } = splitHeldOut(ds, 0.2, new Generator(4));
    expect(train.shape[0]).toBe(40);
    expect(heldOut.shape[0]).toBe(10);
    const ids = (d: ImageDataset) => Array.from({ length: d.shape[0] }, (_, i) => d.images[i * 4]!);
    const all = [...ids(train), ...ids(heldOut)].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 50 }, (_, i) => i));
    heldOut.labels!.forEach((l, i) => expect(l).toBe(ids(heldOut)[i]! % 3));
    expect(ids(splitHeldOut(ds, 0.2, new Generator(4)).heldOut)).toEqual(ids(heldOut));
    expect(ids(splitHeldOut(ds, 0.2, new Generator(5)).heldOut)).not.toEqual(ids(heldOut));
    expect(splitHeldOut(ds, 0, new Generator(4)).heldOut.shape[0]).toBe(0);
    expect(() => splitHeldOut(ds, 1, new Generator(4))).toThrow(/fraction must be in \[0, 1\)/);
  });
});
