import * as tf from '@tensorflow/tfjs-core';
import { Generator, LdmError } from '@ldm/backend';
import type { MnistClassifier } from './classifier';
import { classShares, modeCoverage } from './class-shares';
import type { ModeCoverage } from './class-shares';
import { frechetDistance } from './frechet';
import { describeBatch, pickImages, sliceBatch } from './images';
import type { ImageBatch } from './images';
import { precisionRecall } from './precision-recall';
import { featureStatistics } from './statistics';

export interface ExtractedFeatures {
  /** Row-major [n, d]. */
  features: Float32Array;
  n: number;
  d: number;
  /** The classifier's predicted class for each image. */
  predictions: Int32Array;
}

/** Runs the classifier over `images` in batches, returning its features and predicted classes. */
export function extractFeatures(classifier: MnistClassifier, images: ImageBatch, batchSize = 250): ExtractedFeatures {
  const { n } = describeBatch(images, 'extractFeatures');
  const d = classifier.config.featureDim;
  const features = new Float32Array(n * d);
  const predictions = new Int32Array(n);
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    const [f, p] = tf.tidy(() => {
      const x = sliceBatch(images, start, end);
      const feats = classifier.features(x);
      return [feats.dataSync(), tf.argMax(classifier.head(feats), 1).dataSync()] as const;
    });
    features.set(f, start * d);
    predictions.set(p, start);
  }
  return { features, n, d, predictions };
}

function fidOfFeatures(a: ExtractedFeatures, b: ExtractedFeatures): number {
  const sa = featureStatistics(a.features, a.n, a.d);
  const sb = featureStatistics(b.features, b.n, b.d);
  return frechetDistance(sa.mean, sa.cov, sb.mean, sb.cov);
}

/** FID between two image sets over the classifier's features. */
export function fid(realImages: ImageBatch, fakeImages: ImageBatch, classifier: MnistClassifier): number {
  return fidOfFeatures(extractFeatures(classifier, realImages), extractFeatures(classifier, fakeImages));
}

/**
 * Real-vs-real FID on two disjoint random halves of `realImages` of `size` images each (default: half of
 * them): the score a perfect generator would get with that many samples, because FID is biased upward
 * at small n. Print it beside every score.
 */
export function fidFloor(realImages: ImageBatch, classifier: MnistClassifier, options: { size?: number; generator?: Generator } = {}): number {
  const { n } = describeBatch(realImages, 'fidFloor');
  const size = options.size ?? Math.floor(n / 2);
  if (size < 2 || 2 * size > n) {
    throw new LdmError('INVALID_ARGUMENT', `fidFloor: needs two disjoint splits of ${size} images, but only ${n} real images were given`);
  }
  const order = (options.generator ?? new Generator(0)).permutation(n);
  const a = pickImages(realImages, order.subarray(0, size));
  const b = pickImages(realImages, order.subarray(size, 2 * size));
  return fid(a, b, classifier);
}

export interface SampleQuality {
  fid: number;
  /** Real-vs-real FID at the same sample size. */
  fidFloor: number;
  precision: number;
  recall: number;
  /** Share of samples the classifier assigns to each class. */
  classShares: number[];
  modeCoverage: ModeCoverage;
  /** Images compared on each side. */
  n: number;
}

export interface SampleQualityOptions {
  /** k of the k-NN manifolds (default 3). */
  k?: number;
  /** Splits the real set; seed 0 if not given. */
  generator?: Generator;
}

/**
 * Every image metric for one method: the real set is split into two disjoint halves A and B of
 * n = min(fakes, reals / 2) images; FID, precision and recall compare n fakes with A, the floor compares A with B.
 */
export function sampleQuality(realImages: ImageBatch, fakeImages: ImageBatch, classifier: MnistClassifier, options: SampleQualityOptions = {}): SampleQuality {
  const real = describeBatch(realImages, 'sampleQuality (real)');
  const fake = describeBatch(fakeImages, 'sampleQuality (fake)');
  const n = Math.min(fake.n, Math.floor(real.n / 2));
  if (n < 4) throw new LdmError('INVALID_ARGUMENT', `sampleQuality: needs at least 4 fakes and 8 reals, got ${fake.n} and ${real.n}`);
  const order = (options.generator ?? new Generator(0)).permutation(real.n);
  const a = extractFeatures(classifier, pickImages(realImages, order.subarray(0, n)));
  const b = extractFeatures(classifier, pickImages(realImages, order.subarray(n, 2 * n)));
  const f = extractFeatures(
    classifier,
    fake.n === n
      ? fakeImages
      : pickImages(
          fakeImages,
          Int32Array.from({ length: n }, (_, i) => i),
        ),
  );
  const pr = precisionRecall(a.features, f.features, { d: f.d, k: options.k ?? 3 });
  const shares = classShares(f.predictions, classifier.config.numClasses);
  return {
    fid: fidOfFeatures(a, f),
    fidFloor: fidOfFeatures(a, b),
    precision: pr.precision,
    recall: pr.recall,
    classShares: [...shares],
    modeCoverage: modeCoverage(shares),
    n,
  };
}
