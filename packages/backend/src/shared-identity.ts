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
