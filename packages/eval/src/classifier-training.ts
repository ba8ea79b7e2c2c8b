import * as tf from '@tensorflow/tfjs-core';
import { Generator, LdmError } from '@ldm/backend';
import type { MnistClassifier } from './classifier';

/** Labelled images: NHWC floats in [-1, 1]. */
export interface LabelledImages {
  images: Float32Array;
  shape: readonly [number, number, number, number];
  labels: Int32Array;
}

export interface ClassifierTrainingOptions {
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  /** Shuffles the data each epoch and draws the random shifts. */
  generator?: Generator;
  /**
   * The learning rate follows a cosine from learningRate down to learningRate × this factor by the last
   * epoch: with a constant rate the held-out accuracy stalled at 96.6% after 5 epochs.
   */
  finalLearningRateFactor?: number;
  /** Random translation by up to this many pixels a side (augmentation). 0 turns it off. */
  maxShift?: number;
  /** Called after every epoch with its mean training loss. */
  onEpoch?: (epoch: number, meanLoss: number) => void;
}

export const DEFAULT_CLASSIFIER_TRAINING: Required<Omit<ClassifierTrainingOptions, 'generator' | 'onEpoch'>> = {
  epochs: 8,
  batchSize: 64,
  learningRate: 2e-3,
  finalLearningRateFactor: 0.05,
  maxShift: 2,
};

/** Copies a batch out of `data` in the order `indices`, shifted by up to maxShift pixels (background −1 fills in). */
function gatherBatch(data: LabelledImages, indices: Int32Array, maxShift: number, generator: Generator): Float32Array {
  const [, h, w, c] = data.shape;
  const per = h * w * c;
  const out = new Float32Array(indices.length * per);
  const shifts = maxShift > 0 ? generator.uniform(2 * indices.length) : undefined;
  for (let b = 0; b < indices.length; b++) {
    const src = data.images.subarray(indices[b]! * per, (indices[b]! + 1) * per);
    if (!shifts) {
      out.set(src, b * per);
      continue;
    }
    const dy = Math.floor(shifts[2 * b]! * (2 * maxShift + 1)) - maxShift;
    const dx = Math.floor(shifts[2 * b + 1]! * (2 * maxShift + 1)) - maxShift;
    const dst = out.subarray(b * per, (b + 1) * per);
    dst.fill(-1);
    for (let y = 0; y < h; y++) {
      const sy = y - dy;
      if (sy < 0 || sy >= h) continue;
      for (let x = 0; x < w; x++) {
        const sx = x - dx;
        if (sx < 0 || sx >= w) continue;
        for (let ch = 0; ch < c; ch++) dst[(y * w + x) * c + ch] = src[(sy * w + sx) * c + ch]!;
      }
    }
  }
  return out;
}

/** Trains the classifier with Adam on softmax cross-entropy. Returns the mean loss of each epoch. */
export function trainClassifier(model: MnistClassifier, data: LabelledImages, options: ClassifierTrainingOptions = {}): number[] {
  const { epochs, batchSize, learningRate, maxShift, finalLearningRateFactor } = { ...DEFAULT_CLASSIFIER_TRAINING, ...options };
  const generator = options.generator ?? new Generator(0);
  const [n, h, w, c] = data.shape;
  if (data.images.length !== n * h * w * c || data.labels.length !== n) {
    throw new LdmError(
      'SHAPE_MISMATCH',
      `trainClassifier: shape [${data.shape}] needs ${n * h * w * c} pixels and ${n} labels, got ${data.images.length} and ${data.labels.length}`,
    );
  }
  const numClasses = model.config.numClasses;
  const optimizer = tf.train.adam(learningRate);
  const vars = [...model.trainableParameters().values()];
  const losses: number[] = [];
  model.train(true);
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      const progress = epochs > 1 ? epoch / (epochs - 1) : 0;
      const factor = finalLearningRateFactor + (1 - finalLearningRateFactor) * 0.5 * (1 + Math.cos(Math.PI * progress));
      // tfjs reads the optimiser's rate at every step but declares the field protected.
      (optimizer as unknown as { learningRate: number }).learningRate = learningRate * factor;
      const order = generator.permutation(n);
      let total = 0;
      let batches = 0;
      for (let start = 0; start + batchSize <= n; start += batchSize) {
        const idx = order.subarray(start, start + batchSize);
        const pixels = gatherBatch(data, idx, maxShift, generator);
        const labels = Int32Array.from(idx, (i) => data.labels[i]!);
        const loss = tf.tidy(() => {
          const x = tf.tensor4d(pixels, [idx.length, h, w, c]);
          const y = tf.oneHot(tf.tensor1d(labels, 'int32'), numClasses);
          const value = optimizer.minimize(() => tf.neg(tf.mean(tf.sum(tf.mul(y, tf.logSoftmax(model.logits(x))), 1))) as tf.Scalar, true, vars);
          return value!;
        });
        total += loss.dataSync()[0]!;
        loss.dispose();
        batches++;
      }
      const mean = total / Math.max(batches, 1);
      if (!Number.isFinite(mean)) throw new LdmError('NUMERICAL_ERROR', `trainClassifier: loss became ${mean} in epoch ${epoch + 1}`);
      losses.push(mean);
      options.onEpoch?.(epoch + 1, mean);
    }
  } finally {
    optimizer.dispose();
    model.eval();
  }
  return losses;
}
