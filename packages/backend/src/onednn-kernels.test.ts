import * as tf from '@tensorflow/tfjs-core';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend';
import { setWasmSimdKernels } from './wasm-simd-kernels';
import {
  kernelPath,
  loadOneDnn,
  narrowConvCalls,
  oneDnnBf16UnavailableReason,
  oneDnnFallbackCounts,
  oneDnnUnavailableReason,
  setKernelPath,
  setOneDnnThreads,
} from './onednn-kernels';

/*
 * The oneDNN path against the wasm (XNNPACK) path in one process: the same ops, the same inputs,
 * switched with setKernelPath. Where the addon is not built the suite is skipped, unless
 * LDM_REQUIRE_ONEDNN=1 (the project's CI, which builds it) makes that a failure.
 */
const built = await loadOneDnn();
const required = process.env.LDM_REQUIRE_ONEDNN === '1';

it('the addon is built where it is required (LDM_REQUIRE_ONEDNN=1)', () => {
  if (required) expect(oneDnnUnavailableReason()).toBeNull();
  expect(built || !required).toBe(true);
});

function relativeDiff(a: Float32Array, b: Float32Array): number {
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(a[i]!));
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
  }
  return diff / Math.max(scale, 1e-30);
}

/** Calls of `kernel` the oneDNN path handed to wasm while `fn` ran. */
function fallbacksOf(kernel: string, fn: () => void): number {
  const before = oneDnnFallbackCounts().get(kernel) ?? 0;
  fn();
  return (oneDnnFallbackCounts().get(kernel) ?? 0) - before;
}

/** Runs `fn` on both paths, the reference with the wasm backend's own kernels (ours off); returns the worst relative difference over its outputs. */
function bothPaths(fn: () => tf.Tensor[]): number {
  const run = (path: 'wasm' | 'onednn') => {
    setKernelPath(path);
    setWasmSimdKernels(path === 'onednn');
    try {
      const outs = tf.tidy(fn);
      const data = outs.map((t) => t.dataSync() as Float32Array);
      tf.dispose(outs);
      return data;
    } finally {
      setWasmSimdKernels(true);
    }
  };
  const ref = run('wasm');
  const got = run('onednn');
  expect(got.map((g) => g.length)).toEqual(ref.map((r) => r.length));
  return Math.max(...ref.map((r, i) => relativeDiff(r, got[i]!)));
}

it.skipIf(!built)("loading the addon sets libgomp's spin (GOMP_SPINCOUNT 300000) unless the user set a wait policy", () => {
  // libgomp reads its environment once, when the addon loads it: so a fresh process each time.
  const spinAfterLoad = (env: Record<string, string>) => {
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'GOMP_SPINCOUNT' && k !== 'OMP_WAIT_POLICY'));
    const script = `const m = await import(${JSON.stringify(new URL('./onednn-kernels.ts', import.meta.url).href)}); await m.loadOneDnn(); console.log(String(process.env.GOMP_SPINCOUNT));`;
    return execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: { ...base, ...env }, encoding: 'utf8' }).trim();
  };
  expect(spinAfterLoad({})).toBe('300000');
  expect(spinAfterLoad({ OMP_WAIT_POLICY: 'PASSIVE' })).toBe('undefined');
  expect(spinAfterLoad({ GOMP_SPINCOUNT: '1000' })).toBe('1000');
});

describe.skipIf(!built)('oneDNN kernels match the wasm kernels', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'native' });
  });
  afterAll(() => setKernelPath('onednn'));

  const convCases: {
    name: string;
    x: [number, number, number, number];
    f: [number, number, number, number];
    strides: number | [number, number];
    pad: 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
    dilations?: number;
  }[] = [
    { name: '3×3 s1 same', x: [4, 9, 9, 6], f: [3, 3, 6, 10], strides: 1, pad: 'same' },
    { name: '3×3 s2 same (odd size)', x: [3, 9, 9, 5], f: [3, 3, 5, 7], strides: 2, pad: 'same' },
    { name: '3×3 s2 valid', x: [2, 10, 10, 4], f: [3, 3, 4, 8], strides: 2, pad: 'valid' },
    { name: '1×1 s1', x: [5, 6, 6, 16], f: [1, 1, 16, 12], strides: 1, pad: 'valid' },
    { name: '4×4 s3 same', x: [2, 11, 13, 3], f: [4, 4, 3, 6], strides: 3, pad: 'same' },
    {
      name: 'unequal strides, explicit pad',
      x: [2, 12, 10, 4],
      f: [3, 2, 4, 5],
      strides: [2, 1],
      pad: [
        [0, 0],
        [1, 2],
        [0, 1],
        [0, 0],
      ],
    },
    { name: '3×3 dilation 2', x: [2, 12, 12, 4], f: [3, 3, 4, 6], strides: 1, pad: 'same', dilations: 2 },
  ];

  for (const c of convCases) {
    it(`conv2d forward and both gradients: ${c.name}`, () => {
      const x = tf.randomNormal(c.x, 0, 1, 'float32', 1) as tf.Tensor4D;
      const f = tf.randomNormal(c.f, 0, 1, 'float32', 2) as tf.Tensor4D;
      const before = tf.memory().numTensors;
      const forward = bothPaths(() => [tf.conv2d(x, f, c.strides, c.pad, 'NHWC', c.dilations ?? 1)]);
      // Dilated convs have no gradient in tfjs (stock or ours); forward only there.
      const grads =
        c.dilations === undefined
          ? bothPaths(() =>
              tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad), tf.scalar(0.5))))([x, f]),
            )
          : 0;
      expect(forward).toBeLessThan(1e-5);
      expect(grads).toBeLessThan(1e-5);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, f]);
    });
  }

  it('convolutions to ≤ 4 channels (forward, filter gradient) and from ≤ 4 (input gradient) run our direct kernels, as wasm', () => {
    type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
    const cases: [x: [number, number, number, number], f: [number, number, number, number], pad: Pad][] = [
      [[3, 9, 7, 16], [3, 3, 16, 1], 'same'], // to an image
      [
        [2, 8, 8, 32],
        [3, 3, 32, 4],
        [
          [0, 0],
          [1, 0],
          [2, 1],
          [0, 0],
        ],
      ], // to latents, uneven pads
      [[2, 10, 9, 1], [3, 3, 1, 16], 'same'], // from an image
      [[2, 7, 8, 3], [2, 3, 3, 32], 'valid'],
      [[1, 5, 5, 4], [3, 3, 4, 128], 'same'], // 8 vectors of 16 channels
      [[2, 4, 4, 128], [1, 1, 128, 2], 'valid'],
      [[2, 6, 5, 48], [3, 3, 48, 3], 'same'],
    ];
    for (const [xs, fs, pad] of cases) {
      const x = tf.randomNormal(xs, 0, 1, 'float32', 50) as tf.Tensor4D;
      const f = tf.randomNormal(fs, 0, 1, 'float32', 51) as tf.Tensor4D;
      const bias = tf.randomNormal([fs[3]], 0, 1, 'float32', 52) as tf.Tensor1D;
      const out = tf.conv2d(x, f, 1, pad);
      const weight = tf.randomNormal(out.shape, 0, 1, 'float32', 53); // dy: a different value at every output
      const loss = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, pad), weight));
      const calls = narrowConvCalls();
      const d = bothPaths(() => [tf.conv2d(x, f, 1, pad), tf.fused.conv2d({ x, filter: f, strides: 1, pad, bias }), ...tf.grads(loss)([x, f])]);
      // To ≤ 4 channels: three forward passes and the filter gradient; from ≤ 4: the input gradient.
      expect(narrowConvCalls() - calls).toBe(fs[3] <= 4 ? 4 : 1);
      expect(d).toBeLessThan(1e-5);
      tf.dispose([x, f, bias, out, weight]);
    }
    // Large enough for both threads: rows split between them, the filter gradient summed from two partials.
    const x = tf.randomNormal([8, 16, 16, 16], 0, 1, 'float32', 54) as tf.Tensor4D;
    const f = tf.randomNormal([3, 3, 16, 1], 0, 1, 'float32', 55) as tf.Tensor4D;
    const weight = tf.randomNormal([8, 16, 16, 1], 0, 1, 'float32', 56);
    const image = tf.randomNormal([8, 16, 16, 1], 0, 1, 'float32', 57) as tf.Tensor4D;
    const f1 = tf.randomNormal([3, 3, 1, 16], 0, 1, 'float32', 58) as tf.Tensor4D;
    setOneDnnThreads(2);
    try {
      const loss = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same'), weight));
      const first = (a: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, f1, 1, 'same'), x));
      const calls = narrowConvCalls();
      expect(bothPaths(() => [tf.conv2d(x, f, 1, 'same'), ...tf.grads(loss)([x, f]), tf.grad(first)(image)])).toBeLessThan(1e-5);
      expect(narrowConvCalls() - calls).toBe(4);
    } finally {
      setOneDnnThreads(1);
    }
    tf.dispose([x, f, weight, image, f1]);
  });

  it('batched matmul: plain, transposed, 2-D, broadcast, rank 4', () => {
    const a = tf.randomNormal([4, 10, 7], 0, 1, 'float32', 3);
    const b = tf.randomNormal([4, 7, 5], 0, 1, 'float32', 4);
    const b2 = tf.randomNormal([7, 5], 0, 1, 'float32', 5);
    const a4 = tf.randomNormal([2, 3, 6, 8], 0, 1, 'float32', 6);
    const b4 = tf.randomNormal([2, 3, 8, 4], 0, 1, 'float32', 7);
    const big = tf.randomNormal([3, 37, 19], 0, 1, 'float32', 11);
    const bigB = tf.randomNormal([3, 19, 70], 0, 1, 'float32', 12);
    const diffs = [
      bothPaths(() => [tf.matMul(a, b)]),
      bothPaths(() => [tf.matMul(tf.transpose(a, [0, 2, 1]), b, true, false)]),
      bothPaths(() => [tf.matMul(a, tf.transpose(b, [0, 2, 1]), false, true)]),
      bothPaths(() => [tf.matMul(tf.transpose(a, [0, 2, 1]), tf.transpose(b, [0, 2, 1]), true, true)]),
      bothPaths(() => [tf.matMul(tf.reshape(a, [40, 7]), b2)]),
      bothPaths(() => [tf.matMul(a, b2)]),
      bothPaths(() => [tf.matMul(a4, b4)]),
      bothPaths(() => tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(tf.matMul(x, y))))([a, b])),
      // register tiles (4 rows × 32 columns) with ragged edges, and the UNet's shapes
      bothPaths(() => [tf.matMul(big, bigB), tf.matMul(tf.transpose(big, [0, 2, 1]), bigB, true), tf.matMul(big, tf.transpose(bigB, [0, 2, 1]), false, true)]),
      bothPaths(() => [tf.matMul(tf.reshape(big, [111, 19]), tf.reshape(tf.slice(bigB, [0, 0, 0], [1, -1, -1]), [19, 70]))]),
    ];
    // Tiles of 32 and 16 columns and a ragged rest, 4 and 8 rows and a ragged rest, as attention uses them
    // (q·kᵀ over 16 positions, the weight gradient Σ xᵀ·dy over 1,024 rows).
    for (const [batch, m, k, n] of [
      [5, 13, 9, 16],
      [3, 17, 33, 48],
      [2, 9, 70, 17],
      [1, 40, 300, 64],
    ] as const) {
      const x = tf.randomNormal([batch, m, k], 0, 1, 'float32', 20 + n);
      const y = tf.randomNormal([batch, k, n], 0, 1, 'float32', 30 + n);
      const xt = tf.transpose(x, [0, 2, 1]);
      const yt = tf.transpose(y, [0, 2, 1]);
      const run = () => bothPaths(() => [tf.matMul(x, y), tf.matMul(xt, y, true), tf.matMul(x, yt, false, true), tf.matMul(xt, yt, true, true)]);
      let d = 0;
      expect(fallbacksOf('BatchMatMul', () => (d = run()))).toBe(0);
      diffs.push(d);
      tf.dispose([x, y, xt, yt]);
    }
    for (const d of diffs) expect(d).toBeLessThan(1e-5);
    tf.dispose([a, b, b2, a4, b4, big, bigB]);
  });

  it('batched matmul on 2 threads (Bᵀ copied by both): as on 1 thread bit for bit, and as wasm', () => {
    // The attention's q·kᵀ (128 heads × 16 positions) and its projections (6-row tiles of 64 columns, 1,021 rows: a ragged rest).
    const q = tf.randomNormal([128, 16, 32], 0, 1, 'float32', 40);
    const k = tf.randomNormal([128, 16, 32], 0, 1, 'float32', 41);
    const x = tf.randomNormal([1021, 96], 0, 1, 'float32', 42);
    const w = tf.randomNormal([96, 144], 0, 1, 'float32', 43);
    const products = () => [
      tf.matMul(q, k, false, true),
      tf.matMul(q, k, true, false),
      tf.matMul(x, w),
      tf.matMul(x, x, true, false),
      tf.matMul(w, x, true, true),
    ];
    const one = tf.tidy(() => products().map((t) => t.dataSync().slice()));
    setOneDnnThreads(2);
    try {
      let d = 0;
      expect(fallbacksOf('BatchMatMul', () => (d = bothPaths(products)))).toBe(0);
      expect(d).toBeLessThan(1e-5);
      tf.tidy(() => products().forEach((t, i) => expect(t.dataSync()).toEqual(one[i])));
    } finally {
      setOneDnnThreads(1);
    }
    tf.dispose([q, k, x, w]);
  });

  it('sum over a run of axes before the last (bias and time-embedding gradients); other sums fall back', () => {
    const x = tf.randomNormal([6, 5, 4, 3], 0, 1, 'float32', 8);
    for (const axes of [[0, 1, 2], [2, 0, 1], [0], [1, 2], [2], [3], [0, 2], [1]]) {
      let d = 0;
      const fellBack = fallbacksOf('Sum', () => (d = bothPaths(() => [tf.sum(x, axes), tf.sum(x, axes, true)])));
      expect(d).toBeLessThan(1e-5);
      // Native: a run of axes that ends just before the last ([0, 1, 2], [1, 2], [2]); the rest is wasm's.
      const sorted = [...axes].sort((p, q) => p - q);
      const native = sorted[sorted.length - 1] === 2 && sorted.every((a, i) => a === sorted[0]! + i);
      expect(fellBack > 0).toBe(!native);
    }
    expect(bothPaths(() => [tf.sum(tf.reshape(x, [120, 3]), 0)])).toBeLessThan(1e-5);
    x.dispose();
  });

  it("sum on 2 threads: one group split over rows, many groups one a thread, as large as the pixel UNet's bias gradients", () => {
    const bias = tf.randomNormal([32, 32, 32, 16], 0, 1, 'float32', 21); // one group, rows split: 2 accumulators
    const embedding = tf.randomNormal([32, 16, 16, 32], 0, 1, 'float32', 22); // axes 1, 2: 32 groups
    setOneDnnThreads(2);
    try {
      expect(
        fallbacksOf('Sum', () =>
          expect(bothPaths(() => [tf.sum(bias, [0, 1, 2]), tf.sum(embedding, [1, 2]), tf.sum(embedding, [0, 1, 2])])).toBeLessThan(1e-5),
        ),
      ).toBe(0);
    } finally {
      setOneDnnThreads(1);
    }
    tf.dispose([bias, embedding]);
  });

  it('transpose: every permutation of a rank-4 tensor, with size-1 axes, and large ones on 2 threads, exactly as wasm', () => {
    const x = tf.randomNormal([2, 3, 4, 5], 0, 1, 'float32', 23);
    const ones = tf.randomNormal([3, 1, 4, 1, 2], 0, 1, 'float32', 24);
    const heads = tf.randomNormal([32, 64, 2, 32], 0, 1, 'float32', 25); // the attention's head split
    const square = tf.randomNormal([300, 500], 0, 1, 'float32', 26);
    const perms: number[][] = [];
    const permute = (rest: number[], head: number[]) => {
      if (rest.length === 0) perms.push(head);
      for (const a of rest)
        permute(
          rest.filter((b) => b !== a),
          [...head, a],
        );
    };
    permute([0, 1, 2, 3], []);
    const run = () =>
      bothPaths(() => [
        ...perms.map((p) => tf.transpose(x, p)),
        tf.transpose(ones, [4, 2, 0, 3, 1]),
        tf.transpose(ones, [1, 0, 2, 3, 4]),
        tf.transpose(heads, [0, 2, 1, 3]),
        tf.transpose(square),
        tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.transpose(t, [0, 2, 1, 3]), heads)))(tf.transpose(heads, [0, 2, 1, 3])),
      ]);
    expect(fallbacksOf('Transpose', () => expect(run()).toBe(0))).toBe(0);
    // Moving only size-1 axes (one attention head) shares the input's data, as Reshape does: no copy, no leak.
    setKernelPath('onednn');
    const buffers = (tf.memory() as unknown as { numDataBuffers: number }).numDataBuffers;
    const moved = tf.transpose(ones, [1, 0, 3, 2, 4]);
    expect((tf.memory() as unknown as { numDataBuffers: number }).numDataBuffers).toBe(buffers);
    expect([...moved.dataSync()]).toEqual([...ones.dataSync()]);
    moved.dispose();
    setOneDnnThreads(2);
    try {
      expect(run()).toBe(0);
    } finally {
      setOneDnnThreads(1);
    }
    tf.dispose([x, ones, heads, square]);
  });

  it('pad, ×2 nearest upsampling and its 2×2 average-pool gradient: as wasm, large ones on 2 threads; other cases fall back', () => {
    const small = tf.randomNormal([2, 5, 6, 3], 0, 1, 'float32', 27) as tf.Tensor4D;
    const large = tf.randomNormal([32, 16, 16, 32], 0, 1, 'float32', 28) as tf.Tensor4D;
    const padded = (x: tf.Tensor4D) => [
      tf.pad(x, [
        [0, 0],
        [0, 1],
        [0, 1],
        [0, 0],
      ]),
      tf.pad(
        x,
        [
          [1, 2],
          [0, 0],
          [3, 0],
          [1, 1],
        ],
        -2.5,
      ),
      tf.pad(tf.reshape(x, [-1]), [[4, 7]]),
    ];
    const resized = (x: tf.Tensor4D) => [
      tf.image.resizeNearestNeighbor(x, [2 * x.shape[1], 2 * x.shape[2]]),
      tf.image.resizeNearestNeighbor(x, [3 * x.shape[1], x.shape[2]]),
    ];
    const pooled = (x: tf.Tensor4D) => [
      tf.avgPool(tf.slice(x, [0, 0, 0, 0], [-1, 4, 6, -1]), 2, 2, 'valid'),
      tf.avgPool(tf.slice(x, [0, 0, 0, 0], [-1, 3, 6, -1]), [3, 2], [3, 2], 'valid'),
    ];
    for (const threads of [1, 2]) {
      setOneDnnThreads(threads);
      try {
        for (const x of [small, large]) {
          expect(fallbacksOf('PadV2', () => expect(bothPaths(() => padded(x))).toBe(0))).toBe(0);
          expect(fallbacksOf('ResizeNearestNeighbor', () => expect(bothPaths(() => resized(x))).toBe(0))).toBe(0);
          expect(fallbacksOf('AvgPool', () => expect(bothPaths(() => pooled(x))).toBeLessThan(1e-6))).toBe(0);
        }
      } finally {
        setOneDnnThreads(1);
      }
    }
    // Resizes by fractions or with half-pixel centres, overlapping or padded pools: wasm's.
    expect(
      fallbacksOf('ResizeNearestNeighbor', () =>
        bothPaths(() => [tf.image.resizeNearestNeighbor(small, [7, 9]), tf.image.resizeNearestNeighbor(small, [10, 12], false, true)]),
      ),
    ).toBe(2);
    expect(fallbacksOf('AvgPool', () => bothPaths(() => [tf.avgPool(small, 2, 1, 'valid'), tf.avgPool(small, 2, 2, 'same')]))).toBe(2);
    tf.dispose([small, large]);
  });

  it('add: same shapes, a row over the last axis or one per sample on either side, large; other broadcasts and int32 fall back', () => {
    const x = tf.randomNormal([6, 5, 4, 3], 0, 1, 'float32', 11);
    const y = tf.randomNormal([6, 5, 4, 3], 0, 1, 'float32', 12);
    const row = tf.randomNormal([3], 0, 1, 'float32', 13);
    const row4 = tf.reshape(row, [1, 1, 1, 3]);
    const col = tf.randomNormal([6, 1, 1, 1], 0, 1, 'float32', 14);
    const perSample = tf.randomNormal([6, 1, 1, 3], 0, 1, 'float32', 16);
    const perRow = tf.randomNormal([6, 5, 1, 3], 0, 1, 'float32', 17);
    const mixed = tf.randomNormal([1, 5, 1, 3], 0, 1, 'float32', 18);
    const big = tf.randomNormal([300, 300], 0, 1, 'float32', 15);
    const ints = tf.tensor1d([1, 2, 3], 'int32');
    // The cases the native kernel covers do not fall back; a scalar, a per-sample scalar and a broadcast
    // that skips the batch axis are wasm's.
    expect(
      fallbacksOf('Add', () =>
        bothPaths(() => [tf.add(x, y), tf.add(x, row), tf.add(row4, x), tf.add(big, big), tf.add(x, perSample), tf.add(perSample, x), tf.add(x, perRow)]),
      ),
    ).toBe(0);
    for (const other of [col, mixed]) expect(fallbacksOf('Add', () => bothPaths(() => [tf.add(x, other)]))).toBe(1);
    expect(fallbacksOf('Add', () => bothPaths(() => [tf.add(x, 2)]))).toBe(1);
    const d = bothPaths(() => [
      tf.add(x, y),
      tf.add(x, row),
      tf.add(row4, x),
      tf.add(row, row),
      tf.add(x, col),
      tf.add(big, big),
      tf.add(x, 2),
      tf.add(x, perSample),
      tf.add(perSample, x),
      tf.add(x, perRow),
      tf.add(x, mixed),
    ]);
    expect(d).toBe(0); // one float32 addition per element either way
    setKernelPath('onednn');
    const sum = tf.add(ints, ints);
    expect([...sum.dataSync()]).toEqual([2, 4, 6]);
    tf.dispose([x, y, row, row4, col, perSample, perRow, mixed, big, ints, sum]);
  });

  it('concat, slice and split on every axis, as the skip connections and attention use them', () => {
    const a = tf.randomNormal([3, 4, 5, 6], 0, 1, 'float32', 9);
    const c = tf.randomNormal([3, 4, 5, 2], 0, 1, 'float32', 10);
    const diffs = [
      bothPaths(() => [tf.concat([a, c], 3), tf.concat([a, a], 0), tf.concat([a, a, a], 1), tf.concat([a, a], 2)]),
      bothPaths(() => [
        tf.slice(a, [0, 0, 0, 2], [-1, -1, -1, 3]),
        tf.slice(a, [1, 1, 0, 0], [2, 2, -1, -1]),
        tf.slice(a, [1, 2, 3, 1], [1, 2, 2, 4]),
        tf.slice(a, [0, 0, 0, 0], [-1, -1, -1, -1]),
      ]),
      bothPaths(() => [...tf.split(a, [2, 4], 3), ...tf.split(a, 2, 1), ...tf.split(a, [1, 2], 0)]),
      bothPaths(() => tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(tf.concat([x, y], 3))))([a, c])),
      bothPaths(() => [tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.split(x, [2, 4], 3)[1]!, 3)))(a)]),
      bothPaths(() => [tf.slice(tf.reshape(a, [360]), [7], [100])]),
    ];
    for (const d of diffs) expect(d).toBe(0);
    tf.dispose([a, c]);
  });

  // bfloat16 convolutions (precision 'bf16'): inputs rounded to 8 significant bits, float32 accumulation. Against the
  // float32 wasm path they must differ (else the option did nothing) by about bfloat16's rounding, no more.
  const hasBf16 = oneDnnBf16UnavailableReason() === null;
  it.skipIf(!hasBf16)("precision 'bf16': every conv case and both its gradients within bfloat16's rounding of float32", async () => {
    const info = await initBackend({ backend: 'native', threads: 1, precision: 'bf16' });
    expect(info.precision).toBe('bf16');
    expect(info.kernels).toContain('convolutions in bfloat16');
    try {
      for (const c of convCases.filter((k) => k.dilations === undefined)) {
        const x = tf.randomNormal(c.x, 0, 1, 'float32', 1) as tf.Tensor4D;
        const f = tf.randomNormal(c.f, 0, 1, 'float32', 2) as tf.Tensor4D;
        const before = tf.memory().numTensors;
        const forward = bothPaths(() => [tf.conv2d(x, f, c.strides, c.pad)]);
        const grads = bothPaths(() =>
          tf.grads((a: tf.Tensor, b: tf.Tensor) =>
            tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad), tf.randomNormal([1], 0, 1, 'float32', 3))),
          )([x, f]),
        );
        expect(forward, c.name).toBeGreaterThan(1e-5);
        expect(forward, c.name).toBeLessThan(2e-2);
        expect(grads, c.name).toBeLessThan(2e-2);
        expect(tf.memory().numTensors).toBe(before);
        tf.dispose([x, f]);
      }
    } finally {
      expect((await initBackend({ backend: 'native', threads: 1 })).precision).toBe('f32');
    }
    // Back to float32: the same case matches wasm to float32 rounding again.
    const x = tf.randomNormal([4, 9, 9, 6], 0, 1, 'float32', 1) as tf.Tensor4D;
    const f = tf.randomNormal([3, 3, 6, 10], 0, 1, 'float32', 2) as tf.Tensor4D;
    expect(bothPaths(() => [tf.conv2d(x, f, 1, 'same')])).toBeLessThan(1e-5);
    tf.dispose([x, f]);
  });

  it.skipIf(hasBf16)("precision 'bf16' on a CPU without bfloat16 dot products is refused, naming the ISA", async () => {
    await expect(initBackend({ backend: 'native', precision: 'bf16' })).rejects.toThrow(/needs a CPU with bfloat16 dot products.*found/);
    await initBackend({ backend: 'native', threads: 1 });
  });

  it("precision 'bf16' anywhere but the native backend is an error, not a silent float32 run", async () => {
    await expect(initBackend({ backend: 'wasm', precision: 'bf16' })).rejects.toThrow(/precision 'bf16' runs on the native backend only.*not on 'wasm'/);
    await expect(initBackend({ backend: 'native', precision: 'f16' as 'bf16' })).rejects.toThrow(/unknown precision 'f16'/);
    await initBackend({ backend: 'native', threads: 1 });
  });

  it('initBackend switches the path: wasm turns oneDNN off, native turns it on', async () => {
    expect((await initBackend({ backend: 'wasm' })).kernels).toContain('XNNPACK');
    expect(kernelPath()).toBe('wasm');
    const info = await initBackend({ backend: 'native', threads: 1 });
    expect(kernelPath()).toBe('onednn');
    expect(info.kernels).toMatch(/^oneDNN \d+\.\d+\.\d+ \(\w+, 1 thread\)/);
  });

  it('runs one oneDNN thread unless asked: OMP_NUM_THREADS, then the threads option, override it', async () => {
    const saved = process.env.OMP_NUM_THREADS;
    try {
      delete process.env.OMP_NUM_THREADS;
      expect((await initBackend({ backend: 'native' })).kernels).toMatch(/\(\w+, 1 thread\)/);
      process.env.OMP_NUM_THREADS = '2';
      expect((await initBackend({ backend: 'native' })).kernels).toMatch(/\(\w+, 2 threads\)/);
      expect((await initBackend({ backend: 'native', threads: 1 })).kernels).toMatch(/\(\w+, 1 thread\)/);
    } finally {
      if (saved === undefined) delete process.env.OMP_NUM_THREADS;
      else process.env.OMP_NUM_THREADS = saved;
      await initBackend({ backend: 'native', threads: 1 });
    }
  });
});
