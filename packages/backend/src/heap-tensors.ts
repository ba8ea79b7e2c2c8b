import type * as tf from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';

/*
 * What our kernels (the native addon's and our wasm module's) need of tfjs-backend-wasm, whose tensors all live in
 * one WebAssembly.Memory: where a tensor's bytes are, and a new output there. Not in its typed API.
 */
export interface HeapBackend {
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  disposeData?(dataId: object): boolean;
}

/** The byte offset of a tensor's data in the backend's memory. */
export function offsetOf(backend: HeapBackend, t: TensorInfo): number {
  const entry = backend.dataIdMap.get(t.dataId);
  if (entry === undefined) throw new Error('tensor is not on the wasm backend');
  return entry.memoryOffset;
}
