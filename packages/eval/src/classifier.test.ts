import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Generator, initBackend } from '@ldm/backend';
import { MnistClassifier } from './classifier';
import { loadClassifier, saveClassifier } from './classifier-io';
import { trainClassifier } from './classifier-training';

const small = { channels: [4, 8, 8] as [number, number, number], featureDim: 16, numClasses: 2, imageSize: 16, pooledSize: 2 };

/** Two classes a net can only tell apart by where the ink is: a bright top half or a bright bottom half. */
function halves(n: number, side: number, g: Generator): { images: Float32Array; shape: [number, number, number, number]; labels: Int32Array } {
  const images = new Float32Array(n * side * side).fill(-1);
  const labels = new Int32Array(n);
  const noise = g.uniform(n * side * side);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 2;
    for (let y = 0; y < side; y++) {
      const lit = labels[i] === 0 ? y < side / 2 : y >= side / 2;
      for (let x = 0; x < side; x++) if (lit && noise[i * side * side + y * side + x]! < 0.5) images[i * side * side + y * side + x] = 1;
    }
  }
  return { images, shape: [n, side, side, 1], labels };
}

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

describe('MnistClassifier', () => {
  it('gives [n, featureDim] features and [n, classes] logits, padding 28×28 inputs with background', () => {
    const model = new MnistClassifier();
    const before = tf.memory().numTensors;
    const x28 = tf.randomUniform([2, 28, 28, 1], -1, 1);
    const x32 = tf.pad(
      x28,
      [
        [0, 0],
        [2, 2],
        [2, 2],
        [0, 0],
      ],
      -1,
    );
    const f28 = model.features(x28 as tf.Tensor4D);
    const f32 = model.features(x32 as tf.Tensor4D);
    expect(f28.shape).toEqual([2, 128]);
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(f28, f32))).dataSync()[0])).toBeLessThan(1e-5);
    const logits = model.logits(x32 as tf.Tensor4D);
    expect(logits.shape).toEqual([2, 10]);
    tf.dispose([x28, x32, f28, f32, logits]);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => tf.tidy(() => model.features(tf.zeros([1, 30, 31, 1]) as tf.Tensor4D))).toThrow(/32×32/);
    model.dispose();
  });

  it('learns a task that needs its convolutions, without leaking tensors', () => {
    const g = new Generator(1);
    const data = halves(128, 16, g);
    const model = new MnistClassifier(small, g.split('init'));
    const before = tf.memory().numTensors;
    const losses = trainClassifier(model, data, { epochs: 4, batchSize: 32, learningRate: 1e-2, maxShift: 1, generator: g });
    expect(tf.memory().numTensors).toBe(before);
    expect(losses[losses.length - 1]!).toBeLessThan(0.5 * losses[0]!);
    const test = halves(64, 16, new Generator(2));
    const predicted = tf.tidy(() => tf.argMax(model.logits(tf.tensor4d(test.images, test.shape)), 1).dataSync());
    let correct = 0;
    for (let i = 0; i < 64; i++) if (predicted[i] === test.labels[i]) correct++;
    expect(correct / 64).toBeGreaterThan(0.9);
    model.dispose();
  });

  it('saves and loads a folder (config.json + model.safetensors) with identical outputs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ldm-classifier-'));
    const model = new MnistClassifier(small, new Generator(3));
    await saveClassifier(dir, model, { heldOutAccuracy: 0.5, seed: 3 });
    const { model: loaded, provenance } = await loadClassifier(dir);
    expect(loaded.config).toEqual(model.config);
    expect(provenance.heldOutAccuracy).toBe(0.5);
    const x = tf.randomUniform([3, 16, 16, 1], -1, 1) as tf.Tensor4D;
    const a = model.logits(x);
    const b = loaded.logits(x);
    expect([...b.dataSync()]).toEqual([...a.dataSync()]);
    tf.dispose([x, a, b]);
    model.dispose();
    loaded.dispose();
    await expect(loadClassifier(join(dir, 'absent'))).rejects.toThrow(/no classifier config.*train-classifier/);
    await writeFile(join(dir, 'config.json'), '{"architecture": "something-else"}');
    await expect(loadClassifier(dir)).rejects.toThrow(/architecture/);
  });
});
