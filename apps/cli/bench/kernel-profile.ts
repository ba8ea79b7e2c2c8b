import * as tf from '@tensorflow/tfjs-core';

/**
 * Where a step's time goes, kernel by kernel, on the wasm backend (and so on the native path, whose kernels are
 * registered as wasm's). `tf.profile` is no use there: without a backend timer it reads every output back
 * (`dataSync`) inside each kernel's time, which inflates small kernels several-fold. This wraps every registered
 * kernel function in a timer instead, runs `step` `steps` times and puts the kernels back.
 */
export interface KernelProfile {
  /** Wall-clock per step. */
  stepMs: number;
  /** Per kernel name: calls and ms per step, most expensive first. */
  kernels: { name: string; calls: number; ms: number }[];
  /** Per step, the time outside any kernel: tfjs' engine (tape, tidy, tensor bookkeeping) and our own JS. */
  outsideMs: number;
}

export function profileKernels(step: () => void, steps: number): KernelProfile {
  const originals = tf.getKernelsForBackend('wasm');
  const totals = new Map<string, { calls: number; ms: number }>();
  let depth = 0; // a kernel calling another (a fallback) counts once, in the outer one
  for (const k of originals) {
    tf.unregisterKernel(k.kernelName, 'wasm');
    tf.registerKernel({
      ...k,
      kernelFunc: (args) => {
        const t0 = performance.now();
        depth++;
        try {
          return k.kernelFunc(args);
        } finally {
          depth--;
          if (depth === 0) {
            const e = totals.get(k.kernelName) ?? { calls: 0, ms: 0 };
            e.calls++;
            e.ms += performance.now() - t0;
            totals.set(k.kernelName, e);
          }
        }
      },
    });
  }
  let stepMs: number;
  try {
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) step();
    stepMs = (performance.now() - t0) / steps;
  } finally {
    for (const k of originals) {
      tf.unregisterKernel(k.kernelName, 'wasm');
      tf.registerKernel(k);
    }
  }
  const kernels = [...totals].map(([name, e]) => ({ name, calls: e.calls / steps, ms: e.ms / steps })).sort((a, b) => b.ms - a.ms);
  return { stepMs, kernels, outsideMs: stepMs - kernels.reduce((s, k) => s + k.ms, 0) };
}
