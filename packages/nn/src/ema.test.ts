import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Generator, initBackend } from '@ldm/backend';
import { EMA, emaDecay } from './ema';
import { parseSafetensors, serializeSafetensors } from './safetensors';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

describe('emaDecay (diffusers EMAModel.get_decay)', () => {
  it('default rule (1 + s)/(10 + s) with s = step − 1, zero on the first step, capped at maxDecay', () => {
    expect(emaDecay(1)).toBe(0);
    expect(emaDecay(2)).toBeCloseTo(2 / 11, 15);
    expect(emaDecay(11)).toBeCloseTo(11 / 20, 15);
    expect(emaDecay(1_000_000)).toBe(0.9999);
    expect(emaDecay(50, { maxDecay: 0.5 })).toBe(0.5);
  });

  it('updateAfterStep delays averaging; minDecay floors it but not the copy phase', () => {
    for (let s = 1; s <= 6; s++) expect(emaDecay(s, { updateAfterStep: 5 })).toBe(0);
    expect(emaDecay(7, { updateAfterStep: 5 })).toBeCloseTo(2 / 11, 15);
    expect(emaDecay(1, { minDecay: 0.5 })).toBe(0);
    expect(emaDecay(2, { minDecay: 0.5 })).toBe(0.5);
  });

  it('warm-up rule 1 − (1 + s/invGamma)^−power', () => {
    expect(emaDecay(2, { useWarmup: true })).toBeCloseTo(1 - 2 ** (-2 / 3), 15);
    expect(emaDecay(101, { useWarmup: true, power: 3 / 4 })).toBeCloseTo(1 - 101 ** -0.75, 15);
    expect(emaDecay(21, { useWarmup: true, invGamma: 10, power: 1 })).toBeCloseTo(1 - 1 / 3, 15);
  });

  it('refuses bad options', () => {
    expect(() => emaDecay(2, { maxDecay: 1.5 })).toThrow(/maxDecay/);
    expect(() => emaDecay(2, { minDecay: 0.5, maxDecay: 0.4 })).toThrow(/minDecay/);
  });
});

function makeParams(seed: number) {
  const g = new Generator(seed);
  return new Map<string, tf.Variable>([
    ['w', tf.variable(tf.tensor(g.normal(6), [2, 3]), true)],
    ['running', tf.variable(tf.tensor(g.normal(3), [3]), false)],
  ]);
}

describe('EMA', () => {
  it('follows shadow ← shadow − (1 − decay)(shadow − param) in float64 to float32 rounding; non-trainable values are copied', () => {
    const params = makeParams(1);
    const ema = new EMA(params, { maxDecay: 0.9 });
    const g = new Generator(2);
    let shadow = Array.from(params.get('w')!.dataSync(), Number);
    for (let step = 1; step <= 8; step++) {
      params.get('w')!.assign(tf.tensor(g.normal(6), [2, 3]));
      params.get('running')!.assign(tf.tensor(g.normal(3), [3]));
      const p = Array.from(params.get('w')!.dataSync(), Number);
      const decay = ema.update(params);
      const expected = Math.min((1 + step - 1) / (10 + step - 1), 0.9) * (step > 1 ? 1 : 0);
      expect(decay).toBeCloseTo(expected, 15);
      shadow = shadow.map((s, i) => s - (1 - expected) * (s - p[i]!));
      const got = ema.shadowParameters.get('w')!.dataSync();
      for (let i = 0; i < 6; i++) expect(Math.abs(got[i]! - shadow[i]!)).toBeLessThan(1e-6);
      expect(Array.from(ema.shadowParameters.get('running')!.dataSync())).toEqual(Array.from(params.get('running')!.dataSync()));
    }
    expect(ema.optimizationStep).toBe(8);
    ema.dispose();
    tf.dispose([...params.values()]);
  });

  it('store swaps the averaged weights in; restore puts the live ones back exactly', () => {
    const params = makeParams(3);
    const ema = new EMA(params);
    const live0 = Array.from(params.get('w')!.dataSync());
    ema.update(params); // decay 0: the shadow copies the weights
    params.get('w')!.assign(tf.zeros([2, 3]));
    ema.update(params); // decay 2/11: shadow = 2/11 · live0 + 9/11 · 0
    const live = Array.from(params.get('w')!.dataSync());
    const averaged = Array.from(ema.shadowParameters.get('w')!.dataSync());
    averaged.forEach((x, i) => expect(x).toBeCloseTo((2 / 11) * live0[i]!, 6));
    ema.store(params);
    expect(Array.from(params.get('w')!.dataSync())).toEqual(averaged);
    expect(() => ema.store(params)).toThrow(/twice/);
    ema.restore(params);
    expect(Array.from(params.get('w')!.dataSync())).toEqual(live);
    ema.copyTo(params);
    expect(Array.from(params.get('w')!.dataSync())).toEqual(averaged);
    ema.dispose();
    tf.dispose([...params.values()]);
  });

  it('state → safetensors → state continues identically, and names match the model', () => {
    const a = makeParams(4);
    const emaA = new EMA(a, { useWarmup: true });
    const g = new Generator(5);
    const steps = Array.from({ length: 6 }, () => g.normal(6));
    for (const s of steps.slice(0, 3)) {
      a.get('w')!.assign(tf.tensor(s, [2, 3]));
      emaA.update(a);
    }
    const state = emaA.getState();
    expect([...state.tensors.keys()]).toEqual(['w', 'running']);
    const file = parseSafetensors(serializeSafetensors(state.tensors, { optimization_step: String(state.optimizationStep) }));
    const b = makeParams(99);
    const emaB = new EMA(b, { useWarmup: true });
    emaB.setState({ optimizationStep: Number(file.metadata.optimization_step), tensors: file.tensors });
    for (const s of steps.slice(3)) {
      for (const p of [a, b]) {
        p.get('w')!.assign(tf.tensor(s, [2, 3]));
        p.get('running')!.assign(a.get('running')!);
      }
      expect(emaB.update(b)).toBe(emaA.update(a));
    }
    for (const k of ['w', 'running']) {
      expect(Array.from(emaB.shadowParameters.get(k)!.dataSync())).toEqual(Array.from(emaA.shadowParameters.get(k)!.dataSync()));
    }
    const wrong = new Map(state.tensors);
    wrong.delete('running');
    expect(() => emaB.setState({ optimizationStep: 1, tensors: wrong })).toThrow(/missing running/);
    emaA.dispose();
    emaB.dispose();
    tf.dispose([...a.values(), ...b.values()]);
  });

  it('no tensor leaks across updates and swaps', () => {
    const params = makeParams(6);
    const atStart = tf.memory().numTensors;
    const ema = new EMA(params);
    expect(tf.memory().numTensors).toBe(atStart + 2); // one shadow per parameter
    ema.update(params);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) {
      ema.update(params);
      ema.store(params);
      ema.restore(params);
    }
    expect(tf.memory().numTensors).toBe(before);
    ema.getState();
    expect(tf.memory().numTensors).toBe(before);
    ema.dispose();
    expect(tf.memory().numTensors).toBe(atStart);
    tf.dispose([...params.values()]);
  });
});
