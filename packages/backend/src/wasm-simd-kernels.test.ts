import * as tf from '@tensorflow/tfjs-core';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend';
import { setKernelPath } from './onednn-kernels';
import { setWasmSimdKernels, wasmSimdKernelCalls, wasmSimdKernelsActive, wasmSimdKernelsUnavailableReason } from './wasm-simd-kernels';

/*
 * Our SIMD kernels (wasm/kernels.c) against the wasm backend's own, in one process: the same inputs, switched
 * with setWasmSimdKernels. Each case also checks that ours ran (a call counter), so a fallback cannot pass
 * for a match.
 */
beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
  setKernelPath('wasm');
});

function seeded(shape: number[], seed: number): tf.Tensor {
  let s = seed;
  const values = Float32Array.from({ length: shape.reduce((p, d) => p * d, 1) }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.5;
  });
  return tf.tensor(values, shape);
}

function both(fn: () => tf.Tensor | tf.Tensor[], kernel = 'BatchMatMul'): { ours: Float32Array[]; theirs: Float32Array[]; ran: number } {
  const before = wasmSimdKernelCalls().get(kernel) ?? 0;
  const read = () => tf.tidy(() => [fn()].flat().map((t) => t.dataSync() as Float32Array));
  const ours = read();
  const ran = (wasmSimdKernelCalls().get(kernel) ?? 0) - before;
  setWasmSimdKernels(false);
  try {
    return { ours, theirs: read(), ran };
  } finally {
    setWasmSimdKernels(true);
  }
}

function maxRelative(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let scale = 1e-30;
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]!));
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
  }
  return diff / scale;
}

describe('wasm SIMD kernels', () => {
  it('load on the Node wasm backend', () => {
    expect(wasmSimdKernelsUnavailableReason()).toBeNull();
    expect(wasmSimdKernelsActive()).toBe(true);
  });

  it('the generated module was built from the current wasm/kernels.c', () => {
    const script = fileURLToPath(new URL('../scripts/build-wasm-kernels.mjs', import.meta.url));
    expect(() => execFileSync(process.execPath, [script, '--check'], { stdio: 'pipe' })).not.toThrow();
  });

  // M and N around the 4-row and 8/16-column blocks' edges, K of 1 and odd, both transposes.
  const cases: Array<[number[], number[], boolean, boolean]> = [
    [[3, 5, 7], [3, 7, 9], false, false],
    [[2, 8, 16], [2, 16, 8], false, false],
    [[4, 1, 33], [4, 33, 19], false, false],
    [[5, 13, 1], [5, 1, 21], false, false],
    [[3, 7, 5], [3, 7, 9], true, false],
    [[3, 5, 7], [3, 9, 7], false, true],
    [[3, 7, 5], [3, 9, 7], true, true],
    [[128, 16, 32], [128, 16, 32], false, true],
    [[2, 3, 6, 4], [2, 3, 4, 5], false, false],
  ];
  for (const [aShape, bShape, ta, tb] of cases) {
    it(`matMul [${aShape}]${ta ? 'ᵀ' : ''} · [${bShape}]${tb ? 'ᵀ' : ''} matches the backend's own`, () => {
      const a = seeded(aShape, 1);
      const b = seeded(bShape, 2);
      const { ours, theirs, ran } = both(() => tf.matMul(a, b, ta, tb));
      expect(ran).toBe(1);
      expect(maxRelative(ours[0]!, theirs[0]!)).toBeLessThan(1e-5);
      tf.dispose([a, b]);
    });
  }

  it('broadcasts a batch of one on either side', () => {
    const a = seeded([6, 5, 7], 3);
    const b1 = seeded([1, 7, 4], 4);
    const a1 = seeded([1, 5, 7], 5);
    const b = seeded([6, 7, 4], 6);
    const left = both(() => tf.matMul(a, b1));
    const right = both(() => tf.matMul(a1, b, false, false));
    const transposed = both(() => tf.matMul(a, seeded([1, 4, 7], 7), false, true));
    for (const r of [left, right, transposed]) {
      expect(r.ran).toBe(1);
      expect(maxRelative(r.ours[0]!, r.theirs[0]!)).toBeLessThan(1e-5);
    }
    tf.dispose([a, b1, a1, b]);
  });

  it('gradients of a batched product match, with no tensor left behind', () => {
    const a = seeded([4, 6, 8], 8);
    const b = seeded([4, 8, 5], 9);
    const before = tf.memory().numTensors;
    const { ours, theirs, ran } = both(() => {
      const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(tf.matMul(x, y))))([a, b]);
      return [ga!, gb!];
    });
    expect(ran).toBe(3);
    expect(maxRelative(ours[0]!, theirs[0]!)).toBeLessThan(1e-5);
    expect(maxRelative(ours[1]!, theirs[1]!)).toBeLessThan(1e-5);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b]);
  });

  it("single products too, with either transpose flag, match the backend's own", () => {
    const a = seeded([9, 13], 41);
    const b = seeded([13, 6], 42);
    const r = both(() => [tf.matMul(a, b), tf.matMul(tf.transpose(a), b, true, false), tf.matMul(a, tf.transpose(b), false, true)]);
    expect(r.ran).toBe(3);
    for (const [i, out] of r.ours.entries()) expect(maxRelative(out, r.theirs[i]!)).toBeLessThan(1e-5);
    tf.dispose([a, b]);
  });

  // Convolutions for the forward kernel (against XNNPACK) and the filter gradient (against the forward-conv
  // rewrite), each what runs with our kernels off: pads on every side or none, 1×1, even kernels, pixel counts and
  // channels off the 4×8 blocks, one input or output channel, 4 or 8 + 4 output channels, batch 1, rows spanning two
  // cache-sized chunks (the last).
  const convGeometries: Array<[number[], number[], 'same' | 'valid' | tf.backend_util.ExplicitPadding]> = [
    [[2, 8, 8, 5], [3, 3, 5, 7], 'same'],
    [[2, 8, 8, 5], [3, 3, 5, 16], 'same'],
    [[2, 7, 9, 6], [3, 3, 6, 11], 'valid'],
    [[3, 6, 5, 4], [1, 1, 4, 9], 'valid'],
    [[2, 7, 6, 3], [2, 2, 3, 8], 'same'],
    [[1, 9, 9, 1], [3, 3, 1, 16], 'same'],
    [[2, 8, 8, 16], [3, 3, 16, 1], 'same'],
    [[1, 6, 9, 12], [3, 3, 12, 1], 'valid'], // one output channel as dot products; 7 pixels a row (4 + 3)
    [[1, 5, 6, 6], [3, 3, 6, 1], 'same'], // … and with input channels off the vectors
    [[2, 8, 7, 32], [3, 3, 32, 4], 'same'], // the latent UNet's output: 4 channels
    [[2, 5, 6, 8], [3, 3, 8, 12], 'same'], // 8 + 4 channels
    [
      [2, 6, 7, 4],
      [3, 3, 4, 6],
      [
        [0, 0],
        [2, 0],
        [0, 1],
        [0, 0],
      ],
    ],
    [[2, 10, 12, 24], [3, 3, 24, 40], 'same'],
  ];
  for (const [xShape, fShape, pad] of convGeometries) {
    it(`conv2d filter gradient x [${xShape}] filter [${fShape}] pad ${JSON.stringify(pad)} matches the rewrite`, () => {
      const x = seeded(xShape, 11);
      const f = seeded(fShape, 12);
      const { ours, theirs, ran } = both(
        () => tf.grad((w: tf.Tensor) => tf.sum(tf.square(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, pad))))(f),
        'Conv2DBackpropFilter',
      );
      expect(ran).toBe(1);
      expect(maxRelative(ours[0]!, theirs[0]!)).toBeLessThan(1e-5);
      tf.dispose([x, f]);
    });
  }

  it('leaves strided conv filter gradients to the rewrite, with no tensor left behind', () => {
    const x = seeded([2, 8, 8, 3], 13);
    const f = seeded([3, 3, 3, 4], 14);
    const before = wasmSimdKernelCalls().get('Conv2DBackpropFilter') ?? 0;
    const tensors = tf.memory().numTensors;
    tf.tidy(() =>
      tf
        .grad((w: tf.Tensor) => tf.sum(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'same')))(f)
        .dataSync(),
    );
    expect(wasmSimdKernelCalls().get('Conv2DBackpropFilter') ?? 0).toBe(before);
    tf.tidy(() =>
      tf
        .grad((w: tf.Tensor) => tf.sum(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same')))(f)
        .dataSync(),
    );
    expect(wasmSimdKernelCalls().get('Conv2DBackpropFilter') ?? 0).toBe(before + 1);
    expect(tf.memory().numTensors).toBe(tensors);
    tf.dispose([x, f]);
  });

  it('sums over leading axes (bias gradients, per-sample sums) as the backend does, other reductions left to it', () => {
    const x = seeded([4, 5, 6, 7], 21);
    for (const [axis, keepDims] of [
      [[0, 1, 2], false],
      [[0, 1, 2], true],
      [[1, 2], false],
      [[2], true],
    ] as const) {
      const r = both(() => tf.sum(x, [...axis], keepDims), 'Sum');
      expect(r.ran).toBe(1);
      expect(maxRelative(r.ours[0]!, r.theirs[0]!)).toBeLessThan(1e-5);
    }
    const leftAlone = both(() => [tf.sum(x, 3), tf.sum(x, [0, 3])], 'Sum');
    expect(leftAlone.ran).toBe(0);
    x.dispose();
  });

  it('adds a row to every row (bias, per-sample embedding) as the backend does, other broadcasts left to it', () => {
    const x = seeded([3, 4, 5, 6], 22);
    for (const row of [[6], [1, 1, 1, 6], [3, 1, 1, 6], [1, 6]]) {
      const b = seeded(row, 23);
      const r = both(() => [tf.add(x, b), tf.add(b, x)], 'Add');
      expect(r.ran).toBe(2);
      expect(maxRelative(r.ours[0]!, r.theirs[0]!)).toBe(0);
      expect(maxRelative(r.ours[1]!, r.theirs[1]!)).toBe(0);
      b.dispose();
    }
    const leftAlone = both(() => [tf.add(x, x), tf.add(x, seeded([1, 4, 5, 6], 24)), tf.add(x, seeded([3, 4, 1, 1], 25))], 'Add');
    expect(leftAlone.ran).toBe(0);
    x.dispose();
  });

  for (const [xShape, fShape, pad] of convGeometries) {
    it(`conv2d x [${xShape}] filter [${fShape}] pad ${JSON.stringify(pad)} matches XNNPACK, and its input gradient`, () => {
      const x = seeded(xShape, 31);
      const f = seeded(fShape, 32);
      const { ours, theirs, ran } = both(
        () => [
          tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, pad),
          tf.grad((xi: tf.Tensor) => tf.sum(tf.square(tf.conv2d(xi as tf.Tensor4D, f as tf.Tensor4D, 1, pad))))(x),
        ],
        'Conv2D',
      );
      expect(ran).toBe(3);
      expect(maxRelative(ours[0]!, theirs[0]!)).toBeLessThan(1e-5);
      expect(maxRelative(ours[1]!, theirs[1]!)).toBeLessThan(1e-5);
      tf.dispose([x, f]);
    });
  }

  it('concat, slice and split (channels, leading axes, inner boxes, empty parts) as the backend does, exactly', () => {
    const x = seeded([3, 4, 5, 6], 35);
    const y = seeded([3, 4, 5, 2], 36);
    const cases: [kernel: string, calls: number, fn: () => tf.Tensor[]][] = [
      ['Concat', 3, () => [tf.concat([x, y], 3), tf.concat([x, x], 1), tf.concat([y, x, y], -1)]],
      ['Concat', 1, () => [tf.concat([x, tf.zeros([3, 4, 5, 0])], 3)]],
      [
        'Slice',
        4,
        () => [
          tf.slice(x, [0, 0, 0, 2], [3, 4, 5, 3]),
          tf.slice(x, [1, 1, 2, 0], [2, 2, 3, 6]),
          tf.slice(x, [1, 0, 0, 0], [1, 4, 5, 6]),
          tf.slice(x, [2, 3, 1, 4], [1, 1, 3, 2]),
        ],
      ],
      ['SplitV', 2, () => [...tf.split(x, [1, 3, 2], 3), ...tf.split(x, 2, 1)]],
    ];
    for (const [kernel, calls, fn] of cases) {
      const r = both(fn, kernel);
      expect(r.ran).toBe(calls);
      expect(r.ours).toEqual(r.theirs);
    }
    tf.dispose([x, y]);
  });

  it('leaves strided and dilated convolutions to XNNPACK', () => {
    const x = seeded([2, 8, 8, 3], 33);
    const f = seeded([3, 3, 3, 4], 34);
    const r = both(
      () => [tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 2, 'same'), tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'same', 'NHWC', 2)],
      'Conv2D',
    );
    expect(r.ran).toBe(0);
    tf.dispose([x, f]);
  });
});
