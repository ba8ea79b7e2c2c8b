import * as tf from '@tensorflow/tfjs-core';
import { kernelPath } from './onednn-kernels';
import { wasmSimdKernelsActive } from './wasm-simd-kernels';

/*
 * Ops that run as one fused native kernel on the oneDNN path (`initBackend({ backend: 'native' })`).
 * Callers check `fusedOpsAvailable()` and otherwise compose the same math from tfjs ops, which stays
 * the reference: the tests run both and compare.
 */

/** Whether the fused kernels can run now: the native backend is active. */
export function fusedOpsAvailable(): boolean {
  return kernelPath() === 'onednn' && tf.getBackend() === 'wasm';
}

/**
 * Whether tf.matMul with transpose flags runs as fast as without (the native kernels and our wasm ones read a
 * transposed operand in place; the wasm backend's own falls to a scalar loop, so callers transpose first).
 */
export function transposedMatMulFast(): boolean {
  return fusedNormOpsAvailable();
}

/**
 * Whether `groupNormFused` and `siluFused` can run now: on the native backend (oneDNN path), and on the wasm
 * backend where our SIMD module runs them (wasm-simd-kernels.ts).
 */
export function fusedNormOpsAvailable(): boolean {
  return tf.getBackend() === 'wasm' && (kernelPath() === 'onednn' || wasmSimdKernelsActive());
}

/** Whether `adamStepsFused`, `emaUpdateFused` and `globalNormFused` can run now: where the fused norms can (the same kernels' hosts). */
export function fusedOptimizerOpsAvailable(): boolean {
  return fusedNormOpsAvailable();
}

/**
 * conv2d(x, w) + b in one native kernel (the bias added as oneDNN writes the output), NHWC, no dilation. Its gradient
 * is registered per input (below), so the engine computes only those it needs: tf.fused.conv2d computes all three
 * in one custom gradient, and every model's first convolution paid for the gradient of its input, the images or
 * latents (the VAE's [32, 32, 32, 1]: 1.3 ms of a 129-ms step). On the native path only (`fusedOpsAvailable()`).
 */
export function conv2dWithBias(x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D, strides: number, pad: 'same' | 'valid'): tf.Tensor4D {
  const attrs = { strides, pad, dataFormat: 'NHWC', dilations: 1, activation: 'linear' };
  return tf.engine().runKernel('FusedConv2D', { x, filter, bias }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

tf.registerGradient({
  kernelName: 'FusedConv2D',
  inputsToSave: ['x', 'filter'],
  gradFunc: (dy, saved, attrs) => {
    const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
    const { strides, pad, activation } = attrs as unknown as { strides: number; pad: 'same' | 'valid'; activation: string };
    if (activation !== 'linear') throw new Error(`FusedConv2D gradient: activation '${activation}' is not supported (conv2dWithBias runs 'linear')`);
    const common = { strides, pad, dataFormat: 'NHWC' };
    const run = (kernel: string, inputs: tf.NamedTensorMap, more: object) =>
      tf.engine().runKernel(kernel, inputs, { ...common, ...more } as unknown as tf.NamedAttrMap) as tf.Tensor;
    const d = dy as tf.Tensor4D;
    return {
      x: () => run('Conv2DBackpropInput', { dy: d, filter }, { inputShape: x.shape }),
      filter: () => run('Conv2DBackpropFilter', { x, dy: d }, { filterShape: filter.shape }),
      bias: () => tf.sum(d, [0, 1, 2]),
    };
  },
});

/**
 * GroupNorm over NHWC (statistics per sample and group of C/G channels), with its analytic gradient.
 * `silu`: SiLU of the result in the same kernel (the ResNet blocks' norm-then-activation), bit for bit
 * `siluFused(groupNormFused(…))` without the intermediate tensor, its dispatches and its saved copy.
 */
export function groupNormFused(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, groups: number, eps: number, silu = false): tf.Tensor4D {
  const f = tf.customGrad((xi, gi, bi, save) => {
    const [y, mean, inv] = tf
      .engine()
      .runKernel('LdmGroupNorm', { x: xi as tf.Tensor, gamma: gi as tf.Tensor, beta: bi as tf.Tensor }, { groups, eps, silu }) as tf.Tensor[];
    (save as tf.GradSaveFunc)([xi as tf.Tensor, gi as tf.Tensor, mean!, inv!, ...(silu ? [bi as tf.Tensor] : [])]);
    return {
      value: y!,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, gs, mean2, inv2, bs] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
        const inputs = { dy, x: xs, gamma: gs, mean: mean2, inv: inv2, ...(bs ? { beta: bs } : {}) };
        return tf.engine().runKernel('LdmGroupNormGrad', inputs, { groups, silu }) as tf.Tensor[];
      },
    };
  });
  return f(x, gamma, beta) as tf.Tensor4D;
}

/** SiLU x·σ(x) with dx = dy·σ(x)·(1 + x·(1 − σ(x))), one kernel each way. */
export function siluFused<T extends tf.Tensor>(x: T): T {
  const f = tf.customGrad((xi, save) => {
    (save as tf.GradSaveFunc)([xi as tf.Tensor]);
    return {
      value: tf.engine().runKernel('LdmSilu', { x: xi as tf.Tensor }, {}) as tf.Tensor,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.engine().runKernel('LdmSiluGrad', { dy, x: saved[0]! }, {}) as tf.Tensor,
    };
  });
  return f(x) as T;
}

export interface AdamStepAttrs {
  beta1: number;
  beta2: number;
  epsilon: number;
  /** Adam's L2 term added to the gradient (0 for AdamW). */
  coupledWeightDecay: number;
  /** AdamW's factor 1 − lr·wd on the weights (1 for Adam). */
  decoupledDecay: number;
  /** lr / (1 − β₁ᵗ). */
  stepSize: number;
  /** √(1 − β₂ᵗ). */
  biasCorrection2Sqrt: number;
}

/** One Adam step of every parameter in one kernel: returns [p′, m′, v′] per parameter. `clip` scales every gradient (global-norm clipping). */
export function adamStepsFused(
  params: readonly { p: tf.Tensor; g: tf.Tensor; m: tf.Tensor; v: tf.Tensor }[],
  clip: tf.Scalar | undefined,
  attrs: AdamStepAttrs,
): [tf.Tensor, tf.Tensor, tf.Tensor][] {
  const n = params.length;
  if (n === 0) return [];
  const inputs = [...params.map((x) => x.p), ...params.map((x) => x.g), ...params.map((x) => x.m), ...params.map((x) => x.v), ...(clip ? [clip] : [])];
  const outs = tf
    .engine()
    .runKernel(
      'LdmAdamSteps',
      inputs as unknown as tf.NamedTensorMap,
      { ...attrs, count: n, clipped: clip !== undefined } as unknown as tf.NamedAttrMap,
    ) as tf.Tensor[];
  return params.map((_, i) => [outs[i]!, outs[n + i]!, outs[2 * n + i]!]);
}

/** s′ = s − (s − p)·(1 − decay) for every pair in one kernel: the EMA update of a model's weights. */
export function emaUpdateFused(shadow: readonly tf.Tensor[], params: readonly tf.Tensor[], oneMinusDecay: number): tf.Tensor[] {
  if (shadow.length === 0) return [];
  return tf.engine().runKernel('LdmEmaUpdate', [...shadow, ...params] as unknown as tf.NamedTensorMap, { oneMinusDecay }) as tf.Tensor[];
}

/** √(Σ g²) over every tensor in one kernel, float32 bit for bit as `sqrt(Σ sum(square(g)))` in tfjs ops on wasm. */
export function globalNormFused(tensors: readonly tf.Tensor[]): tf.Scalar {
  return tf.engine().runKernel('LdmGlobalNorm', [...tensors] as unknown as tf.NamedTensorMap, {}) as tf.Scalar;
}
