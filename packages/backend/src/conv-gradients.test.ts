import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend';
import {
  conv2dFilterGradient,
  conv2dInputGradient,
  convGradientSupported,
  convGradientsInstalled,
  installConvGradients,
  setInputGradientMethod,
} from './conv-gradients';
import { Generator } from './random';

type Pad = 'same' | 'valid' | number;
interface Case {
  batch: number;
  height: number;
  width: number;
  cin: number;
  cout: number;
  k: number;
  stride: number;
  pad: Pad;
}

/** The stock kernels, called directly on the cpu backend: the reference the rewrite must match. */
function stockGradients(c: Case, x: Float32Array, w: Float32Array, dy: Float32Array, dyShape: number[]) {
  return tf.tidy(() => {
    const xt = tf.tensor4d(x, [c.batch, c.height, c.width, c.cin]);
    const wt = tf.tensor4d(w, [c.k, c.k, c.cin, c.cout]);
    const dyt = tf.tensor(dy, dyShape);
    const attrs = { strides: [c.stride, c.stride], pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: undefined };
    const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy: dyt, filter: wt }, { ...attrs, inputShape: xt.shape } as never) as tf.Tensor;
    const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x: xt, dy: dyt }, { ...attrs, filterShape: wt.shape } as never) as tf.Tensor;
    return { dx: dx.dataSync() as Float32Array, dw: dw.dataSync() as Float32Array };
  });
}

/** Gradients through `tf.grads`, i.e. through whatever Conv2D gradient is registered. */
function registeredGradients(c: Case, x: Float32Array, w: Float32Array, dy: Float32Array, dyShape: number[]) {
  return tf.tidy(() => {
    const xt = tf.tensor4d(x, [c.batch, c.height, c.width, c.cin]);
    const wt = tf.tensor4d(w, [c.k, c.k, c.cin, c.cout]);
    const dyt = tf.tensor(dy, dyShape);
    const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad), dyt)))([xt, wt]);
    return { dx: dx!.dataSync() as Float32Array, dw: dw!.dataSync() as Float32Array };
  });
}

function relativeError(actual: Float32Array, expected: Float32Array): number {
  expect(actual.length).toBe(expected.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return diff / scale;
}

function outputShape(c: Case): number[] {
  return tf.tidy(
    () => tf.conv2d(tf.zeros([c.batch, c.height, c.width, c.cin]) as tf.Tensor4D, tf.zeros([c.k, c.k, c.cin, c.cout]) as tf.Tensor4D, c.stride, c.pad).shape,
  );
}

const cases: Case[] = [];
for (const stride of [1, 2]) {
  for (const pad of ['same', 'valid'] as const) {
    for (const k of [1, 3]) {
      cases.push({ batch: 2, height: 7, width: 9, cin: 3, cout: 5, k, stride, pad });
      cases.push({ batch: 3, height: 8, width: 6, cin: 8, cout: 4, k, stride, pad });
    }
  }
}
// Explicit numeric padding, even kernels (VAE-style 4×4 stride 2), a 1-pixel-wide image.
cases.push({ batch: 2, height: 9, width: 7, cin: 4, cout: 6, k: 3, stride: 2, pad: 1 });
cases.push({ batch: 2, height: 8, width: 8, cin: 4, cout: 3, k: 4, stride: 2, pad: 'same' });
cases.push({ batch: 1, height: 6, width: 5, cin: 2, cout: 3, k: 2, stride: 2, pad: 'valid' });
cases.push({ batch: 2, height: 5, width: 1, cin: 3, cout: 2, k: 3, stride: 1, pad: 'same' });

const name = (c: Case) => `B${c.batch} ${c.height}×${c.width} ${c.cin}→${c.cout} k${c.k} s${c.stride} ${c.pad}`;

function inputsFor(c: Case, seed: number) {
  const g = new Generator(seed);
  const dyShape = outputShape(c);
  return {
    x: g.normal(c.batch * c.height * c.width * c.cin),
    w: g.normal(c.k * c.k * c.cin * c.cout),
    dy: g.normal(dyShape.reduce((a, b) => a * b, 1)),
    dyShape,
  };
}

describe('conv2d gradients as forward convs', () => {
  const reference = new Map<string, { dx: Float32Array; dw: Float32Array }>();

  beforeAll(async () => {
    await initBackend({ backend: 'cpu' });
    cases.forEach((c, i) => {
      const { x, w, dy, dyShape } = inputsFor(c, i);
      reference.set(name(c), stockGradients(c, x, w, dy, dyShape));
    });
  });

  it('initBackend installs the rewrite, idempotently', async () => {
    expect(convGradientsInstalled()).toBe(true);
    installConvGradients();
    expect(convGradientsInstalled()).toBe(true);
  });

  it.each(cases.map((c, i) => [name(c), c, i] as const))('matches the stock kernels on cpu and wasm: %s', async (_n, c, i) => {
    expect(
      convGradientSupported([c.batch, c.height, c.width, c.cin], [c.k, c.k, c.cin, c.cout], {
        strides: c.stride,
        pad: c.pad,
        dataFormat: 'NHWC',
        dilations: 1,
      }),
    ).toBe(true);
    const { x, w, dy, dyShape } = inputsFor(c, i);
    const expected = reference.get(name(c))!;
    // Strided input gradients have two methods (depth-to-space phases, zero-dilated dy); check both.
    const methods = c.stride > 1 ? (['phases', 'dilate'] as const) : (['phases'] as const);
    for (const backend of ['cpu', 'wasm'] as const) {
      await tf.setBackend(backend);
      for (const method of methods) {
        setInputGradientMethod(method);
        const actual = registeredGradients(c, x, w, dy, dyShape);
        expect(relativeError(actual.dx, expected.dx), `${backend} ${method} dx`).toBeLessThanOrEqual(1e-4);
        expect(relativeError(actual.dw, expected.dw), `${backend} dw`).toBeLessThanOrEqual(1e-4);
      }
      setInputGradientMethod('phases');
    }
    await tf.setBackend('cpu');
  });

  it('falls back to the stock gradient where the rewrite does not apply (padding wider than the kernel)', async () => {
    await tf.setBackend('cpu');
    const c: Case = { batch: 1, height: 5, width: 5, cin: 2, cout: 3, k: 3, stride: 1, pad: 3 };
    const attrs = { strides: 1, pad: 3, dataFormat: 'NHWC' as const, dilations: 1 };
    expect(convGradientSupported([1, 5, 5, 2], [3, 3, 2, 3], attrs)).toBe(false);
    const { x, w, dy, dyShape } = inputsFor(c, 99);
    const expected = stockGradients(c, x, w, dy, dyShape);
    const actual = registeredGradients(c, x, w, dy, dyShape);
    expect(relativeError(actual.dx, expected.dx)).toBeLessThanOrEqual(1e-6);
    expect(relativeError(actual.dw, expected.dw)).toBeLessThanOrEqual(1e-6);
  });

  it('handles unequal strides (1, 2) and stride 3', async () => {
    await tf.setBackend('wasm');
    const g = new Generator(3);
    for (const strides of [
      [1, 2],
      [2, 1],
      [3, 3],
    ] as [number, number][]) {
      for (const pad of ['same', 'valid'] as const) {
        const x = tf.tensor4d(g.normal(2 * 8 * 7 * 3), [2, 8, 7, 3]);
        const w = tf.tensor4d(g.normal(3 * 3 * 3 * 4), [3, 3, 3, 4]);
        const dyShape = tf.conv2d(x, w, strides, pad).shape;
        const dy = tf.tensor4d(g.normal(dyShape.reduce((a, b) => a * b, 1)), dyShape);
        const attrs = { strides, pad, dataFormat: 'NHWC' as const, dilations: 1 };
        await tf.setBackend('cpu');
        const stockAttrs = { strides, pad, dataFormat: 'NHWC', dimRoundingMode: undefined };
        const xc = tf.tensor4d(x.dataSync(), x.shape);
        const wc = tf.tensor4d(w.dataSync(), w.shape);
        const dyc = tf.tensor4d(dy.dataSync(), dy.shape);
        const refDx = (
          tf.engine().runKernel('Conv2DBackpropInput', { dy: dyc, filter: wc }, { ...stockAttrs, inputShape: x.shape } as never) as tf.Tensor
        ).dataSync() as Float32Array;
        const refDw = (
          tf.engine().runKernel('Conv2DBackpropFilter', { x: xc, dy: dyc }, { ...stockAttrs, filterShape: w.shape } as never) as tf.Tensor
        ).dataSync() as Float32Array;
        await tf.setBackend('wasm');
        const x2 = tf.tensor4d(x.dataSync(), x.shape);
        const w2 = tf.tensor4d(w.dataSync(), w.shape);
        const dy2 = tf.tensor4d(dy.dataSync(), dy.shape);
        const dx = conv2dInputGradient(dy2, w2, x2.shape, attrs).dataSync() as Float32Array;
        const dw = conv2dFilterGradient(x2, dy2, w2.shape, attrs).dataSync() as Float32Array;
        expect(relativeError(dx, refDx), `dx ${strides} ${pad}`).toBeLessThanOrEqual(1e-4);
        expect(relativeError(dw, refDw), `dw ${strides} ${pad}`).toBeLessThanOrEqual(1e-4);
      }
    }
  });

  it('the direct functions leave no tensors behind', async () => {
    await tf.setBackend('wasm');
    const x = tf.randomNormal([2, 8, 8, 4]) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, 4, 5]) as tf.Tensor4D;
    const dy = tf.randomNormal([2, 4, 4, 5]) as tf.Tensor4D;
    const attrs = { strides: 2, pad: 'same' as const, dataFormat: 'NHWC' as const, dilations: 1 };
    const before = tf.memory().numTensors;
    const dx = conv2dInputGradient(dy, w, x.shape, attrs);
    const dw = conv2dFilterGradient(x, dy, w.shape, attrs);
    expect(dx.shape).toEqual(x.shape);
    expect(dw.shape).toEqual(w.shape);
    tf.dispose([dx, dw]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, w, dy]);
  });
});
