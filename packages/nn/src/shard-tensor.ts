import * as tf from '@tensorflow/tfjs-core';
import type { ShardArray } from './data-parallel/protocol';

/** A ShardArray as a tensor (inside `loss.compute`). */
export function toTensor(array: ShardArray): tf.Tensor {
  return tf.tensor(array.data, array.shape, array.data instanceof Int32Array ? 'int32' : 'float32');
}
