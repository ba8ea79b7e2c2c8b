import * as tf from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';

/*
 * Identity on the wasm backend without a copy.
 *
 * Why: tfjs' engine clones (Identity) every tensor a gradient saves for the backward pass, and the wasm
 * backend's Identity copies the data, where the cpu backend shares it and counts a reference. A
 * latent-UNet training step made 450 such copies. No kernel of the wasm backend or of ours writes into
 * an input, so sharing the buffer (as wasm's own Reshape does) is safe.
 */

interface RefCountedBackend {
  incRef(dataId: object): void;
}

let original: tf.KernelConfig | undefined;

/** Replaces wasm's Identity with a reference-counted share (idempotent). */
export function installSharedIdentity(): void {
  if (original) return;
  const stock = tf.getKernel('Identity', 'wasm');
  if (!stock) return; // the wasm backend is not registered
  original = stock;
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({
    kernelName: 'Identity',
    backendName: 'wasm',
    kernelFunc: (args) => {
      const { x } = args.inputs as { x: TensorInfo };
      if (x.dtype === 'string') return stock.kernelFunc(args);
      (args.backend as unknown as RefCountedBackend).incRef(x.dataId);
      return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
    },
  });
}

/*
 * Saved tensors without tape nodes.
 *
 * Why: the engine saves each tensor a gradient needs through `clone`, which runs the Identity kernel and
 * records a tape node linking the copy to the original. That link matters only for gradients of gradients:
 * a gradient function runs with the tape on only when the op was recorded at gradient depth ≥ 2. At depth 1
 * (every training step here) the 450 clones a latent-UNet step made cost a kernel dispatch and a tape node
 * each, and every tape node is walked again when the tape is filtered. This saves a reference-counted
 * share of the buffer instead, exactly what the shared Identity above returns, without either.
 */

interface EngineInternals {
  state: { gradientDepth: number };
  backend: unknown;
  backendName: string;
  saveTensorsForBackwardMode(tensors: tf.Tensor[]): tf.Tensor[];
  makeTensorFromTensorInfo(info: TensorInfo): tf.Tensor;
  keep<T extends tf.Tensor>(t: T): T;
}

let originalSave: ((tensors: tf.Tensor[]) => tf.Tensor[]) | undefined;

/** Makes the engine save first-order gradients' tensors as untaped shares on the wasm backend (idempotent). */
export function installUntapedSaves(): void {
  if (originalSave) return;
  const engine = tf.engine() as unknown as EngineInternals;
  const stock = engine.saveTensorsForBackwardMode;
  originalSave = stock;
  engine.saveTensorsForBackwardMode = function (this: EngineInternals, tensors: tf.Tensor[]): tf.Tensor[] {
    if (this.state.gradientDepth !== 1 || this.backendName !== 'wasm' || tensors.some((t) => t.dtype === 'string')) return stock.call(this, tensors);
    const backend = this.backend as RefCountedBackend;
    return tensors.map((t) => {
      backend.incRef(t.dataId);
      return this.keep(this.makeTensorFromTensorInfo({ dataId: t.dataId, shape: [...t.shape], dtype: t.dtype }));
    });
  };
}
