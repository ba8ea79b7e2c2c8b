import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { activeBackend, initBackend } from './backend';
import { classifyBackendFailure, nativeBackendFailureMessage, shortFailureReason } from './backend-errors';
import { convGradientsInstalled } from './conv-gradients';
import { LdmError } from './errors';
import { loadOneDnn } from './onednn-kernels';

/** Errors shaped like the ones Node and the tfjs-node loader throw. */
const fakeErrors = {
  notInstalled: Object.assign(new Error("Cannot find package '@tensorflow/tfjs-node' imported from /app/x.js"), {
    code: 'ERR_MODULE_NOT_FOUND',
  }),
  bindingMissing: new Error(
    'The Node.js native addon module (tfjs_binding.node) can not be found at path: /app/node_modules/@tensorflow/tfjs-node/lib/napi-v8/tfjs_binding.node. \nPlease run command ...',
  ),
  cuda: new Error('libcudart.so.11.0: cannot open shared object file: No such file or directory'),
  otherLib: new Error('libtensorflow.so.2: cannot open shared object file: No such file or directory'),
  weird: new Error('segfault-ish\nsecond line'),
};

describe('native backend failure messages', () => {
  it('classifies each kind of load failure', () => {
    expect(classifyBackendFailure(fakeErrors.notInstalled, '@tensorflow/tfjs-node')).toBe('not-installed');
    expect(classifyBackendFailure(fakeErrors.bindingMissing, '@tensorflow/tfjs-node')).toBe('binding-not-built');
    expect(classifyBackendFailure(fakeErrors.cuda, '@tensorflow/tfjs-node-gpu')).toBe('missing-cuda-library');
    expect(classifyBackendFailure(fakeErrors.otherLib, '@tensorflow/tfjs-node')).toBe('missing-shared-library');
    expect(classifyBackendFailure(fakeErrors.weird, '@tensorflow/tfjs-node')).toBe('other');
  });

  it('names the package, the install command and a fallback, on one line', () => {
    const { cuda: _cudaHasItsOwnAdvice, ...installErrors } = fakeErrors;
    for (const error of Object.values(installErrors)) {
      const message = nativeBackendFailureMessage('tensorflow', error);
      expect(message).not.toContain('\n');
      expect(message).toContain('@tensorflow/tfjs-node');
      expect(message).toContain('pnpm add @tensorflow/tfjs-node@4.22.0');
      expect(message).toContain('--backend wasm');
    }
  });

  it('for a missing CUDA library names it and the CUDA/cuDNN versions tfjs-node-gpu 4.22 needs', () => {
    const message = nativeBackendFailureMessage('tensorflow-gpu', fakeErrors.cuda);
    expect(message).toContain('libcudart.so.11.0');
    expect(message).toContain('CUDA 11.2');
    expect(message).toContain('cuDNN 8.1');
    expect(message).toContain('@tensorflow/tfjs-node-gpu');
    expect(shortFailureReason('tensorflow-gpu', fakeErrors.cuda)).toContain('libcudart.so.11.0');
  });

  it('says a package is installed without its binding, as opposed to not installed', () => {
    expect(nativeBackendFailureMessage('tensorflow', fakeErrors.bindingMissing)).toContain('native binding was not built');
    expect(nativeBackendFailureMessage('tensorflow', fakeErrors.notInstalled)).toContain('is not installed');
  });
});

describe('initBackend', () => {
  it('asking for tensorflow here fails with BACKEND_UNAVAILABLE naming the package and the install command', async () => {
    const error = await initBackend({ backend: 'tensorflow' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(LdmError.isInstance(error)).toBe(true);
    const e = error as LdmError;
    expect(e.code).toBe('BACKEND_UNAVAILABLE');
    expect(e.message).toContain('@tensorflow/tfjs-node');
    expect(e.message).toContain('pnpm add @tensorflow/tfjs-node@4.22.0');
    expect(e.message).not.toContain('\n');
  });

  it('auto falls through the libtensorflow backends to native (oneDNN) or, without the addon, to wasm, and says why', async () => {
    const oneDnnBuilt = await loadOneDnn();
    const info = await initBackend({ backend: 'auto' });
    expect(info.name).toBe(oneDnnBuilt ? 'native' : 'wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(info.tried.map((t) => t.name)).toEqual(oneDnnBuilt ? ['tensorflow-gpu', 'tensorflow'] : ['tensorflow-gpu', 'tensorflow', 'native']);
    expect(info.kernels).toContain(oneDnnBuilt ? 'oneDNN' : 'XNNPACK');
    for (const t of info.tried) expect(t.error.length).toBeGreaterThan(0);
    expect(info.reason).toContain('tensorflow-gpu');
    expect(activeBackend()).toEqual(info);
    // Loading the native packages re-registers tfjs' stock gradients; initBackend must put ours back.
    expect(convGradientsInstalled()).toBe(true);
  });

  it('starts cpu when asked and rejects unknown names', async () => {
    expect((await initBackend({ backend: 'cpu' })).name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    await expect(initBackend({ backend: 'webgpu' as never })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

describe('Identity on wasm', () => {
  it('shares the buffer instead of copying it: a clone outlives its source, gradients through saved tensors hold', async () => {
    await initBackend({ backend: 'wasm' });
    const backend = tf.engine().backend as unknown as { refCount(dataId: object): number };
    const x = tf.tensor([1, 2, 3]);
    const y = x.clone();
    expect(y.dataId).toBe(x.dataId);
    expect(backend.refCount(x.dataId)).toBe(2);
    x.dispose();
    expect(backend.refCount(y.dataId)).toBe(1);
    expect([...y.dataSync()]).toEqual([1, 2, 3]);
    // The engine clones what a gradient saves (here x for d(x²)/dx = 2x): the result must not change.
    const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.square(a)))(y);
    expect([...dx.dataSync()]).toEqual([2, 4, 6]);
    tf.dispose([y, dx]);
  });

  it('first-order gradients save untaped shares (no Identity, no tape node); second-order ones keep the tape, and nothing leaks', async () => {
    await initBackend({ backend: 'wasm' });
    const x = tf.tensor([0.5, -1, 2]);
    const f = (a: tf.Tensor) => tf.sum(tf.mul(tf.sin(a), tf.square(a)));
    const before = tf.memory().numTensors;
    const profile = await tf.profile(() => tf.grad(f)(x));
    expect(profile.kernelNames).not.toContain('Identity');
    tf.dispose(profile.result as tf.Tensor);
    // d/dx (sin x · x²) = cos x · x² + 2x sin x, and its derivative −sin x · x² + 4x cos x + 2 sin x
    const v = [0.5, -1, 2];
    const d1 = tf.grad(f)(x);
    const d2 = tf.grad((a: tf.Tensor) => tf.sum(tf.grad(f)(a)))(x);
    v.forEach((a, i) => {
      expect(d1.dataSync()[i]).toBeCloseTo(Math.cos(a) * a * a + 2 * a * Math.sin(a), 5);
      expect(d2.dataSync()[i]).toBeCloseTo(-Math.sin(a) * a * a + 4 * a * Math.cos(a) + 2 * Math.sin(a), 4);
    });
    tf.dispose([d1, d2]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
