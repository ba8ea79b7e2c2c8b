import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Generator,
  fusedNormOpsAvailable,
  fusedOpsAvailable,
  initBackend,
  loadOneDnn,
  randn,
  setKernelPath,
  setOneDnnThreads,
  setWasmSimdKernels,
  wasmSimdKernelCalls,
} from '@ldm/backend';
import { silu } from './activations';
import { Conv2d } from './conv2d';
import { GroupNorm } from './group-norm';
import { EMA } from './ema';
import { matMulFastGrad } from './matmul';
import { Adam, AdamW } from './optim/adam';
import { globalNorm, globalNormOps } from './optim/clip-grad-norm';

/*
 * The fused native kernels (GroupNorm, SiLU, Adam, EMA, the global norm) against the same layers composed from tfjs ops,
 * switching paths in one process. Skipped where the @ldm/onednn addon is not built. The reference is the wasm path
 * with our SIMD module off (it runs GroupNorm and SiLU fused too); the module's own kernels are checked at the end.
 */
const built = await loadOneDnn();

function worstRelative(a: Float32Array[], b: Float32Array[]): number {
  let worst = 0;
  a.forEach((x, i) => {
    const y = b[i]!;
    let scale = 1e-30;
    let diff = 0;
    for (let j = 0; j < x.length; j++) {
      scale = Math.max(scale, Math.abs(x[j]!));
      diff = Math.max(diff, Math.abs(x[j]! - y[j]!));
    }
    worst = Math.max(worst, diff / scale);
  });
  return worst;
}

function onBothPaths(fn: () => tf.Tensor[]): [Float32Array[], Float32Array[]] {
  const run = (path: 'wasm' | 'onednn') => {
    setKernelPath(path);
    setWasmSimdKernels(path === 'onednn');
    try {
      const outs = tf.tidy(fn);
      const data = outs.map((t) => Float32Array.from(t.dataSync()));
      tf.dispose(outs);
      return data;
    } finally {
      setWasmSimdKernels(true);
    }
  };
  return [run('wasm'), run('onednn')];
}

/** A GroupNorm with random γ, β; an input x and a weighting w of the output (loss Σ w·f(x)). */
function groupNormCase(gen: Generator, shape: readonly [number, number, number, number], groups: number) {
  const norm = new GroupNorm(groups, shape[3]);
  tf.tidy(() => {
    norm.weight.assign(tf.add(1, randn([shape[3]], gen.split('w'))));
    norm.bias.assign(randn([shape[3]], gen.split('b')));
  });
  const x = tf.tidy(() => tf.add(tf.mul(randn([...shape], gen.split('x')), 3), 0.5)) as tf.Tensor4D;
  const w = randn([...shape], gen.split('dy'));
  /** f(x), the loss, and its gradients with respect to γ, β and x. */
  const outputs = (f: (xi: tf.Tensor4D) => tf.Tensor4D) => () => {
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(f(x), w)) as tf.Scalar, [norm.weight, norm.bias]);
    const dx = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(f(xi as tf.Tensor4D), w)))(x);
    return [f(x), value, grads[norm.weight.name]!, grads[norm.bias.name]!, dx];
  };
  const dispose = () => {
    tf.dispose([x, w]);
    norm.dispose();
  };
  return { norm, outputs, dispose };
}

describe.skipIf(!built)('fused native kernels match the tfjs-op layers', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'native' });
  });
  afterAll(() => setKernelPath('onednn'));

  it('GroupNorm forward and gradients (x, γ, β), several shapes, no leak', () => {
    const gen = new Generator(3);
    for (const [shape, groups] of [
      [[4, 8, 8, 32], 8],
      [[2, 5, 7, 12], 3],
      [[3, 4, 4, 64], 32],
      // 81 rows: float partial sums of 32, 32 and 17 rows (C = 16·K); 48 channels: K = 3
      [[2, 9, 9, 16], 4],
      [[2, 3, 5, 48], 6],
    ] as const) {
      const { norm, outputs, dispose } = groupNormCase(gen, shape, groups);
      const before = tf.memory().numTensors;
      const [ref, got] = onBothPaths(outputs((xi) => norm.forward(xi)));
      expect(fusedOpsAvailable()).toBe(true);
      expect(worstRelative(ref, got)).toBeLessThan(2e-5);
      expect(tf.memory().numTensors).toBe(before);
      dispose();
    }
  });

  it('GroupNorm + SiLU in one kernel: bit for bit the two kernels on the native path, the tfjs ops within float32 rounding, no leak', async () => {
    const gen = new Generator(5);
    for (const [shape, groups] of [
      [[4, 8, 8, 32], 8],
      [[2, 5, 7, 12], 3],
      [[2, 9, 9, 16], 4],
    ] as const) {
      const { norm, outputs, dispose } = groupNormCase(gen, shape, groups);
      const before = tf.memory().numTensors;
      const [, twoKernels] = onBothPaths(outputs((xi) => silu(norm.forward(xi))));
      const [ref, fused] = onBothPaths(outputs((xi) => norm.forwardSilu(xi)));
      expect(tf.memory().numTensors).toBe(before);
      expect(worstRelative(twoKernels, fused)).toBe(0);
      expect(worstRelative(ref, fused)).toBeLessThan(2e-5);
      // It is the fused kernel that ran: no separate SiLU dispatch, forward or backward.
      setKernelPath('onednn');
      const profile = await tf.profile(() => tf.dispose(outputs((xi) => norm.forwardSilu(xi))()));
      expect(profile.kernelNames).toContain('LdmGroupNorm');
      expect(profile.kernelNames).toContain('LdmGroupNormGrad');
      expect(profile.kernelNames).not.toContain('LdmSilu');
      expect(profile.kernelNames).not.toContain('LdmSiluGrad');
      dispose();
    }
  });

  it('Conv2d with a bias (one fused oneDNN kernel) matches conv + add, forward and gradients (x, w, b), no leak', async () => {
    const gen = new Generator(12);
    for (const [k, stride, padding, cin, cout] of [
      [3, 1, 1, 6, 10],
      [1, 1, 0, 16, 12],
      [3, 2, 0, 5, 7],
    ] as const) {
      const conv = new Conv2d(cin, cout, { kernelSize: k, stride, padding }, gen.split(`conv${k}${stride}`));
      const x = randn([3, 9, 9, cin], gen.split(`x${k}${stride}`)) as tf.Tensor4D;
      const before = tf.memory().numTensors;
      const [ref, got] = onBothPaths(() => {
        const y = conv.forward(x);
        const w = tf.onesLike(y).mul(tf.range(0, y.size).reshape(y.shape).mod(7).sub(3));
        const f = () => tf.sum(tf.mul(conv.forward(x), w)) as tf.Scalar;
        const { grads } = tf.variableGrads(f, [conv.weight, conv.bias!]);
        const dx = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(conv.forward(xi as tf.Tensor4D), w)))(x);
        return [y, grads[conv.weight.name]!, grads[conv.bias!.name]!, dx];
      });
      expect(worstRelative(ref, got)).toBeLessThan(1e-5);
      expect(tf.memory().numTensors).toBe(before);
      setKernelPath('onednn');
      const profile = await tf.profile(() => conv.forward(x));
      expect(profile.kernelNames).toContain('FusedConv2D');
      expect(profile.kernelNames).not.toContain('Add');
      tf.dispose(profile.result as tf.Tensor);
      // Only the gradients asked for run: a first layer's input (an image) needs none.
      const weightsOnly = await tf.profile(() => tf.variableGrads(() => tf.sum(conv.forward(x)) as tf.Scalar, [conv.weight, conv.bias!]));
      expect(weightsOnly.kernelNames).toContain('Conv2DBackpropFilter');
      expect(weightsOnly.kernelNames).not.toContain('Conv2DBackpropInput');
      const { value, grads } = weightsOnly.result as { value: tf.Scalar; grads: tf.NamedTensorMap };
      tf.dispose([value, ...Object.values(grads)]);
      x.dispose();
      conv.dispose();
    }
  });

  it('SiLU forward and gradient', () => {
    const x = tf.mul(randn([3, 5, 5, 16], new Generator(4)), 4);
    const [ref, got] = onBothPaths(() => [silu(x), tf.grad((xi: tf.Tensor) => tf.sum(tf.square(silu(xi))))(x)]);
    expect(worstRelative(ref, got)).toBeLessThan(1e-5);
    x.dispose();
  });

  for (const [name, make, clip] of [
    ['Adam', (p: Map<string, tf.Variable>) => new Adam(p, { learningRate: 1e-2 }), false],
    [
      'Adam, L2 weight decay, global-norm clipping',
      (p: Map<string, tf.Variable>) => new Adam(p, { learningRate: 1e-2, weightDecay: 0.1, maxGradNorm: 0.5 }),
      true,
    ],
    ['AdamW', (p: Map<string, tf.Variable>) => new AdamW(p, { learningRate: 1e-2 }), false],
  ] as const) {
    it(`${name}: 5 updates give the same parameters and moments`, () => {
      const run = (path: 'wasm' | 'onednn') => {
        setKernelPath(path);
        setWasmSimdKernels(path === 'onednn'); // the reference: tfjs ops
        const gen = new Generator(5);
        const params = new Map([
          ['a', tf.tidy(() => tf.variable(randn([7, 3], gen.split('a'))))],
          ['b', tf.tidy(() => tf.variable(randn([200], gen.split('b'))))],
        ]);
        const opt = make(params);
        const norms: number[] = [];
        for (let s = 0; s < 5; s++) {
          const grads = new Map([...params].map(([k, p]) => [k, tf.tidy(() => tf.mul(randn(p.shape, gen.split(`g${s}${k}`)), clip ? 3 : 1))] as const));
          const norm = opt.applyGradients(grads);
          norms.push(norm.dataSync()[0]!);
          norm.dispose();
          tf.dispose([...grads.values()]);
        }
        const state = opt.getState();
        const out = [
          ...[...params.values()].map((p) => Float32Array.from(p.dataSync())),
          ...[...state.tensors.values()].map((t) => t.data),
          Float32Array.from(norms),
        ];
        opt.dispose();
        tf.dispose([...params.values()]);
        setWasmSimdKernels(true);
        return out;
      };
      const before = tf.memory().numTensors;
      const ref = run('wasm');
      const got = run('onednn');
      expect(worstRelative(ref, got)).toBeLessThan(1e-5);
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('EMA: 5 updates of trainable and frozen weights give the same shadow weights', () => {
    const run = (path: 'wasm' | 'onednn') => {
      setKernelPath(path);
      setWasmSimdKernels(path === 'onednn'); // the reference: tfjs ops
      const gen = new Generator(9);
      const params = new Map([
        ['w', tf.tidy(() => tf.variable(randn([5, 4], gen.split('w'))))],
        ['big', tf.tidy(() => tf.variable(randn([70_000], gen.split('big'))))],
        ['frozen', tf.tidy(() => tf.variable(randn([6], gen.split('f')), false))],
      ]);
      const ema = new EMA(params, { maxDecay: 0.9 });
      for (let s = 0; s < 5; s++) {
        for (const [k, p] of params) tf.tidy(() => p.assign(tf.add(p, randn(p.shape, gen.split(`d${s}${k}`)))));
        ema.update(params);
      }
      const out = [...ema.shadowParameters.values()].map((t) => Float32Array.from(t.dataSync()));
      ema.dispose();
      tf.dispose([...params.values()]);
      setWasmSimdKernels(true);
      return out;
    };
    const before = tf.memory().numTensors;
    const ref = run('wasm');
    const got = run('onednn');
    expect(worstRelative(ref, got)).toBeLessThan(1e-6);
    // The frozen weight is copied, not averaged: its shadow is the last value exactly.
    expect(got[2]).toEqual(ref[2]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('Adam and EMA split a whole model over 2 threads and give the 1-thread result bit for bit', () => {
    // Sizes that straddle the split: most too small to split alone, the total past the threading threshold.
    const sizes = [21, 50_000, 7, 30_001, 5];
    const run = (threads: number) => {
      setOneDnnThreads(threads);
      const gen = new Generator(11);
      const params = new Map(sizes.map((n, i) => [`p${i}`, tf.tidy(() => tf.variable(randn([n], gen.split(`p${i}`))))] as const));
      const opt = new Adam(params, { learningRate: 1e-2, maxGradNorm: 1 });
      const ema = new EMA(params, { maxDecay: 0.9 });
      for (let s = 0; s < 3; s++) {
        const grads = new Map([...params].map(([k, p]) => [k, tf.tidy(() => randn(p.shape, gen.split(`g${s}${k}`)))] as const));
        tf.dispose(opt.applyGradients(grads));
        tf.dispose([...grads.values()]);
        ema.update(params);
      }
      const out = [
        ...[...params.values()].map((p) => Float32Array.from(p.dataSync())),
        ...[...opt.getState().tensors.values()].map((t) => t.data),
        ...[...ema.shadowParameters.values()].map((t) => Float32Array.from(t.dataSync())),
      ];
      opt.dispose();
      ema.dispose();
      tf.dispose([...params.values()]);
      return out;
    };
    const before = tf.memory().numTensors;
    try {
      const one = run(1);
      const two = run(2);
      expect(two).toEqual(one);
    } finally {
      setOneDnnThreads(1);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the global gradient norm (one native kernel) equals the tfjs ops bit for bit', () => {
    // Magnitudes from 1e-3 to 1e3 per tensor: norms near the VAE's early 3·10⁴, where rounding shows.
    const gen = new Generator(11);
    const shapes = [[3, 3, 64, 64], [64], [128, 64], [70_000], [1], [3, 3, 4, 32], [32]];
    const scales = [1e-3, 1e-2, 1e-1, 1e2, 1, 1e3, 10];
    const grads = shapes.map((shape, i) => tf.tidy(() => tf.mul(randn(shape, gen.split(`g${i}`)), scales[i]!)));
    const before = tf.memory().numTensors;
    setKernelPath('wasm');
    const ref = tf.tidy(() => globalNormOps(grads).dataSync()[0]!);
    setKernelPath('onednn');
    const got = tf.tidy(() => globalNorm(grads).dataSync()[0]!);
    const small = tf.tidy(() => globalNorm(grads.slice(1, 3)).dataSync()[0]!);
    setKernelPath('wasm');
    const smallRef = tf.tidy(() => globalNormOps(grads.slice(1, 3)).dataSync()[0]!);
    setKernelPath('onednn');
    expect(ref).toBeGreaterThan(1e4);
    expect(got).toBe(ref);
    expect(small).toBe(smallRef);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(grads);
  });

  it('matmul gradients with transpose flags (native) match explicit transposes (wasm), rank 2 and 3, a·b and a·bᵀ', () => {
    const [ref, got] = onBothPaths(() => {
      const gen = new Generator(10);
      const out: tf.Tensor[] = [];
      for (const [a, b, tb] of [
        [randn([37, 24], gen.split('a2')), randn([24, 40], gen.split('b2')), false],
        [randn([3, 17, 24], gen.split('a3')), randn([3, 19, 24], gen.split('b3')), true],
        [randn([3, 17, 24], gen.split('a4')), randn([3, 24, 9], gen.split('b4')), false],
      ] as const) {
        const w = randn(tb ? [...a.shape.slice(0, -1), b.shape[b.rank - 2]!] : [...a.shape.slice(0, -1), b.shape[b.rank - 1]!], gen.split('w'));
        const f = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(matMulFastGrad(x as tf.Tensor3D, y as tf.Tensor3D, tb), w));
        out.push(...tf.grads(f)([a, b]));
      }
      return out;
    });
    expect(worstRelative(ref, got)).toBeLessThan(1e-5);
  });
});

describe('our wasm SIMD kernels (GroupNorm, SiLU, Adam, EMA, the global norm) match the tfjs-op layers', () => {
  beforeAll(async () => {
    if (!built) await initBackend({ backend: 'wasm' });
    setKernelPath('wasm');
  });
  afterAll(() => {
    if (built) setKernelPath('onednn');
  });

  /** fn with our kernels off (the tfjs ops) and on; how many times `kernel` ran with them on. */
  function offAndOn(fn: () => tf.Tensor[], kernel: string): [Float32Array[], Float32Array[], number] {
    const read = () => {
      const outs = tf.tidy(fn);
      const data = outs.map((t) => Float32Array.from(t.dataSync()));
      tf.dispose(outs);
      return data;
    };
    setWasmSimdKernels(false);
    expect(fusedNormOpsAvailable()).toBe(false);
    const ref = read();
    setWasmSimdKernels(true);
    expect(fusedNormOpsAvailable()).toBe(true);
    const before = wasmSimdKernelCalls().get(kernel) ?? 0;
    const got = read();
    return [ref, got, (wasmSimdKernelCalls().get(kernel) ?? 0) - before];
  }

  it('GroupNorm and GroupNorm + SiLU, forward and gradients (x, γ, β), several shapes, no leak', () => {
    const gen = new Generator(3);
    for (const [shape, groups] of [
      [[4, 8, 8, 32], 8],
      [[2, 5, 7, 12], 3],
      [[3, 4, 4, 64], 32],
      [[2, 12, 10, 16], 4],
    ] as const) {
      const { norm, outputs, dispose } = groupNormCase(gen, shape, groups);
      const before = tf.memory().numTensors;
      const [ref, got, ran] = offAndOn(
        outputs((xi) => norm.forward(xi)),
        'LdmGroupNormGrad',
      );
      expect(ran).toBeGreaterThan(0);
      expect(worstRelative(ref, got)).toBeLessThan(2e-5);
      const [refSilu, gotSilu, ranSilu] = offAndOn(
        outputs((xi) => norm.forwardSilu(xi)),
        'LdmGroupNorm',
      );
      expect(ranSilu).toBeGreaterThan(0);
      expect(worstRelative(refSilu, gotSilu)).toBeLessThan(2e-5);
      expect(tf.memory().numTensors).toBe(before);
      dispose();
    }
  });

  it('SiLU forward and gradient', () => {
    const gen = new Generator(4);
    const x = tf.tidy(() => tf.mul(randn([3, 7, 5, 9], gen.split('x')), 4));
    const [ref, got, ran] = offAndOn(() => [silu(x), tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(silu(xi), xi)))(x)], 'LdmSiluGrad');
    expect(ran).toBe(1);
    expect(worstRelative(ref, got)).toBeLessThan(2e-6);
    x.dispose();
  });

  it('Adam (plain; L2 decay with clipping; AdamW) and EMA, 4 steps, and the global norm: bit for bit the tfjs ops, no leak', () => {
    // Magnitudes 1e-3 to 1e3 and a gradient norm past 1e4: where a changed rounding would show.
    const sizes = [21, 5_003, 7, 64, 1];
    const scales = [1e-3, 1e2, 1, 1e3, 10];
    for (const make of [
      (p: Map<string, tf.Variable>) => new Adam(p, { learningRate: 1e-2 }),
      (p: Map<string, tf.Variable>) => new Adam(p, { learningRate: 1e-2, weightDecay: 0.1, maxGradNorm: 0.5 }),
      (p: Map<string, tf.Variable>) => new AdamW(p, { learningRate: 1e-2 }),
    ]) {
      const run = () => {
        const gen = new Generator(21);
        const params = new Map(sizes.map((n, i) => [`p${i}`, tf.tidy(() => tf.variable(randn([n], gen.split(`p${i}`))))] as const));
        const opt = make(params);
        const ema = new EMA(params, { maxDecay: 0.9 });
        const norms: number[] = [];
        for (let s = 0; s < 4; s++) {
          const grads = new Map([...params].map(([k, p], i) => [k, tf.tidy(() => tf.mul(randn(p.shape, gen.split(`g${s}${k}`)), scales[i]!))] as const));
          const norm = opt.applyGradients(grads);
          norms.push(norm.dataSync()[0]!);
          tf.dispose([norm, ...grads.values()]);
          ema.update(params);
        }
        const out = [
          ...[...params.values()].map((p) => Float32Array.from(p.dataSync())),
          ...[...opt.getState().tensors.values()].map((t) => t.data),
          ...[...ema.shadowParameters.values()].map((t) => Float32Array.from(t.dataSync())),
          Float32Array.from(norms),
        ];
        opt.dispose();
        ema.dispose();
        tf.dispose([...params.values()]);
        return [tf.tensor(out.flatMap((a) => [...a]))];
      };
      const before = tf.memory().numTensors;
      const [ref, got, ran] = offAndOn(run, 'LdmAdamSteps');
      expect(ran).toBe(4);
      expect(got).toEqual(ref);
      expect(ref[0]![ref[0]!.length - 1]).toBeGreaterThan(1e4);
      expect(tf.memory().numTensors).toBe(before);
    }
    const calls = wasmSimdKernelCalls();
    expect(calls.get('LdmEmaUpdate')).toBeGreaterThanOrEqual(12);
    expect(calls.get('LdmGlobalNorm')).toBeGreaterThanOrEqual(12);
  });
});
