import * as tf from '@tensorflow/tfjs-core';
import { Generator, LdmError } from '@ldm/backend';
import type { GeneratorState } from '@ldm/backend';
import type { ImageDataset } from './dataset';

export interface BatchIteratorOptions {
  batchSize: number;
  /** Shuffles each epoch. The iterator works on its own copy, so other draws from it do not shift the data order. */
  generator: Generator;
  /** Default true; false visits images in dataset order (evaluation). */
  shuffle?: boolean;
}

/** Where an iterator stands: saved in a checkpoint's state.json, restored with `BatchIterator.fromState`. */
export interface BatchCursor {
  epoch: number;
  /** Index, in this epoch's order, of the next image to hand out. */
  position: number;
  /** The generator's state at the start of this epoch, before its permutation was drawn. */
  generatorState: GeneratorState;
}

export interface Batch {
  images: Float32Array;
  shape: [b: number, h: number, w: number, c: number];
  labels?: Int32Array;
  /** Dataset indices of the images in this batch. */
  indices: Int32Array;
  epoch: number;
}

/**
 * Endless, seeded batches of a fixed size. Each epoch is a fresh permutation; a last partial batch is
 * dropped so every step sees the same shape. Resuming from `state()` replays exactly the batches an
 * uninterrupted run would have seen.
 */
export class BatchIterator {
  readonly batchSize: number;
  private readonly shuffle: boolean;
  private readonly generator: Generator;
  private epoch = 0;
  private position = 0;
  private epochStart: GeneratorState;
  private order: Int32Array;

  constructor(
    private readonly dataset: ImageDataset,
    options: BatchIteratorOptions,
    cursor?: BatchCursor,
  ) {
    const n = dataset.shape[0];
    const { batchSize } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new LdmError('INVALID_ARGUMENT', `BatchIterator: batchSize must be a positive integer, got ${batchSize}`);
    }
    if (batchSize > n) {
      throw new LdmError('INVALID_ARGUMENT', `BatchIterator: batchSize ${batchSize} is larger than ${dataset.name}'s ${n} images`);
    }
    this.batchSize = batchSize;
    this.shuffle = options.shuffle ?? true;
    this.generator = new Generator(cursor ? cursor.generatorState : options.generator.state());
    if (cursor) {
      if (!Number.isInteger(cursor.epoch) || cursor.epoch < 0 || !Number.isInteger(cursor.position) || cursor.position < 0 || cursor.position > n) {
        throw new LdmError('INVALID_ARGUMENT', `BatchIterator: cursor ${JSON.stringify(cursor)} does not fit a dataset of ${n} images`);
      }
      this.epoch = cursor.epoch;
    }
    this.epochStart = this.generator.state();
    this.order = this.drawOrder();
    if (cursor) this.position = cursor.position;
  }

  static fromState(dataset: ImageDataset, options: BatchIteratorOptions, cursor: BatchCursor): BatchIterator {
    return new BatchIterator(dataset, options, cursor);
  }

  get batchesPerEpoch(): number {
    return Math.floor(this.dataset.shape[0] / this.batchSize);
  }

  state(): BatchCursor {
    return { epoch: this.epoch, position: this.position, generatorState: { ...this.epochStart, key: [...this.epochStart.key] } };
  }

  private drawOrder(): Int32Array {
    const n = this.dataset.shape[0];
    if (this.shuffle) return this.generator.permutation(n);
    return Int32Array.from({ length: n }, (_, i) => i);
  }

  next(): Batch {
    const [n, h, w, c] = this.dataset.shape;
    if (this.position + this.batchSize > n) {
      this.epoch++;
      this.position = 0;
      this.epochStart = this.generator.state();
      this.order = this.drawOrder();
    }
    const indices = this.order.slice(this.position, this.position + this.batchSize);
    this.position += this.batchSize;
    const size = h * w * c;
    const images = new Float32Array(this.batchSize * size);
    const source = this.dataset.images;
    indices.forEach((idx, k) => images.set(source.subarray(idx * size, (idx + 1) * size), k * size));
    const batch: Batch = { images, shape: [this.batchSize, h, w, c], indices, epoch: this.epoch };
    const labels = this.dataset.labels;
    if (labels) batch.labels = Int32Array.from(indices, (idx) => labels[idx]!);
    return batch;
  }

  /** The next batch as a [b, h, w, c] tensor; the caller disposes it. */
  nextTensor(): tf.Tensor4D {
    const batch = this.next();
    return tf.tensor4d(batch.images, batch.shape);
  }
}
