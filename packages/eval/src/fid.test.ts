import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Generator, initBackend } from '@ldm/backend';
import { loadMnist, selectImages, splitHeldOut } from '@ldm/data';
import type { ImageDataset } from '@ldm/data';
import type { MnistClassifier } from './classifier';
import { loadClassifier } from './classifier-io';
import { defaultClassifierDir } from './classifier-io';
import { extractFeatures, fidFloor, sampleQuality } from './fid';

// The shipped classifier against the cases whose answer is known: real vs real sits at the floor,
// damaged images and a collapsed generator score far above it.
let classifier: MnistClassifier;
let accuracyInConfig: number | undefined;
let train: ImageDataset;
let heldOut: ImageDataset;
const N = 300;

const first = (ds: ImageDataset, n: number): ImageDataset =>
  selectImages(
    ds,
    Int32Array.from({ length: n }, (_, i) => i),
    `${ds.name}[:${n}]`,
  );

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
  const loaded = await loadClassifier(defaultClassifierDir());
  classifier = loaded.model;
  accuracyInConfig = loaded.provenance.heldOutAccuracy;
  // The same split as scripts/train-classifier.ts, so the held-out images were never trained on.
  const split = splitHeldOut(loadMnist({ padTo32: true }), 0.1, new Generator(0).split('held-out'));
  train = first(split.train, 2 * N);
  heldOut = split.heldOut;
});

describe('the shipped MNIST classifier', () => {
  it('classifies the held-out split at ≥ 97%, as its config.json says', () => {
    const { predictions } = extractFeatures(classifier, heldOut);
    let correct = 0;
    for (let i = 0; i < predictions.length; i++) if (predictions[i] === heldOut.labels![i]) correct++;
    const accuracy = correct / predictions.length;
    expect(accuracy).toBeGreaterThanOrEqual(0.97);
    expect(accuracy).toBeCloseTo(accuracyInConfig!, 2);
  });
});

describe('FID and coverage on known cases', () => {
  it('real vs real ≈ floor; blurred, noise and collapsed samples far above it', () => {
    const before = tf.memory().numTensors;
    const fakes = first(heldOut, N);
    const real = sampleQuality(train, fakes, classifier);
    expect(real.n).toBe(N);
    expect(real.fid).toBeLessThan(2 * real.fidFloor);
    expect(real.fid).toBeGreaterThan(0.5 * real.fidFloor);
    expect(real.precision).toBeGreaterThan(0.6);
    expect(real.recall).toBeGreaterThan(0.6);
    expect(real.modeCoverage.coveredClasses).toBe(10);

    const blurred = tf.tidy(() => {
      const x = tf.tensor4d(fakes.images, fakes.shape);
      return { images: tf.avgPool(x, 5, 1, 'same').dataSync() as Float32Array, shape: fakes.shape };
    });
    const blur = sampleQuality(train, blurred, classifier);
    expect(blur.fid).toBeGreaterThan(5 * real.fid);

    const noise = { images: new Generator(9).uniform(fakes.images.length).map((u) => 2 * u - 1), shape: fakes.shape };
    const noiseQ = sampleQuality(train, noise, classifier);
    expect(noiseQ.fid).toBeGreaterThan(20 * real.fid);
    expect(noiseQ.precision).toBeLessThan(0.05);

    const per = 32 * 32;
    const collapsed = new Float32Array(N * per);
    for (let i = 0; i < N; i++) collapsed.set(fakes.images.subarray(0, per), i * per);
    const collapse = sampleQuality(train, { images: collapsed, shape: fakes.shape }, classifier);
    expect(collapse.fid).toBeGreaterThan(10 * real.fid);
    expect(collapse.modeCoverage.maxShare).toBeGreaterThan(0.99);
    expect(collapse.modeCoverage.dominantClass).toBe(fakes.labels![0]);
    expect(collapse.recall).toBeLessThan(0.05);
    expect(tf.memory().numTensors).toBe(before);
    console.log(
      `FID n=${N}: real ${real.fid.toFixed(2)} (floor ${real.fidFloor.toFixed(2)}), blurred ${blur.fid.toFixed(2)}, noise ${noiseQ.fid.toFixed(2)}, collapsed ${collapse.fid.toFixed(2)}; ` +
        `precision/recall real ${real.precision.toFixed(2)}/${real.recall.toFixed(2)}`,
    );
  });

  it('fidFloor splits one real set into two disjoint halves and refuses too few images', () => {
    const floor = fidFloor(first(train, 200), classifier, { size: 100 });
    expect(floor).toBeGreaterThan(0);
    expect(() => fidFloor(first(train, 10), classifier, { size: 6 })).toThrow(/two disjoint splits of 6/);
  });
});
