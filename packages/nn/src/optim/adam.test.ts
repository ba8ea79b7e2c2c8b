import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Generator, initBackend, LdmError } from '@ldm/backend';
import { parseSafetensors, serializeSafetensors } from '../safetensors';
import { Adam, AdamW, type AdamOptions } from './adam';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

type Vec = number[];

/** PyTorch's Adam/AdamW single-tensor update, in float64, for a list of named flat parameters. */
function referenceAdam(
  params: Record<string, Vec>,
  gradSteps: Array<Record<string, Vec>>,
  o: Required<Omit<AdamOptions, 'maxGradNorm'>> & { maxGradNorm?: number; decoupled: boolean },
): { params: Record<string, Vec>; m: Record<string, Vec>; v: Record<string, Vec>; norms: number[] } {
  const p = structuredClone(params);
  const m: Record<string, Vec> = {};
  const v: Record<string, Vec> = {};
  for (const k of Object.keys(p)) {
    m[k] = p[k]!.map(() => 0);
    v[k] = p[k]!.map(() => 0);
  }
  const norms: number[] = [];
  gradSteps.forEach((grads, i) => {
    const t = i + 1;
    let sq = 0;
    for (const g of Object.values(grads)) for (const x of g) sq += x * x;
    const norm = Math.sqrt(sq);
    norms.push(norm);
    const coef = o.maxGradNorm === undefined ? 1 : Math.min(1, o.maxGradNorm / (norm + 1e-6));
    for (const [k, g0] of Object.entries(grads)) {
      const pk = p[k]!;
      const mk = m[k]!;
      const vk = v[k]!;
      for (let j = 0; j < pk.length; j++) {
        let g = g0[j]! * coef;
        if (o.decoupled) pk[j] = pk[j]! * (1 - o.learningRate * o.weightDecay);
        else g += o.weightDecay * pk[j]!;
        mk[j] = o.beta1 * mk[j]! + (1 - o.beta1) * g;
        vk[j] = o.beta2 * vk[j]! + (1 - o.beta2) * g * g;
        const stepSize = o.learningRate / (1 - o.beta1 ** t);
        const denom = Math.sqrt(vk[j]!) / Math.sqrt(1 - o.beta2 ** t) + o.epsilon;
        pk[j] = pk[j]! - stepSize * (mk[j]! / denom);
      }
    }
  });
  return { params: p, m, v, norms };
}

const SHAPES: Record<string, number[]> = { 'conv.weight': [2, 3], 'conv.bias': [4] };

function makeProblem(seed: number, steps: number, gradScale = 1) {
  const g = new Generator(seed);
  const init: Record<string, Vec> = {};
  for (const [k, shape] of Object.entries(SHAPES)) init[k] = Array.from(g.normal(shape.reduce((a, b) => a * b, 1)));
  const gradSteps = Array.from({ length: steps }, () => {
    const r: Record<string, Vec> = {};
    for (const k of Object.keys(SHAPES)) r[k] = Array.from(g.normal(init[k]!.length), (x) => x * gradScale);
    return r;
  });
  return { init, gradSteps };
}

function variables(init: Record<string, Vec>): Map<string, tf.Variable> {
  return new Map(Object.entries(init).map(([k, x]) => [k, tf.variable(tf.tensor(x, SHAPES[k]!), true)]));
}

function run(opt: Adam, gradSteps: Array<Record<string, Vec>>): number[] {
  const norms: number[] = [];
  for (const grads of gradSteps) {
    const gt = new Map(Object.entries(grads).map(([k, x]) => [k, tf.tensor(x, SHAPES[k]!)]));
    const norm = opt.applyGradients(gt);
    norms.push(norm.dataSync()[0]!);
    norm.dispose();
    for (const t of gt.values()) t.dispose();
  }
  return norms;
}

function expectClose(got: ArrayLike<number>, want: Vec, tol: number, label: string): void {
  expect(got.length, label).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    expect(Math.abs(got[i]! - want[i]!), `${label}[${i}]: ${got[i]} vs ${want[i]}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(want[i]!)));
  }
}

const BASE = { learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

describe('Adam / AdamW against a float64 reference of PyTorch’s update', () => {
  const cases: Array<[string, typeof Adam, number, boolean]> = [
    ['Adam', Adam, 0, false],
    ['Adam with L2 weight decay', Adam, 0.1, false],
    ['AdamW', AdamW, 0.1, true],
  ];
  for (const [label, Optimizer, weightDecay, decoupled] of cases) {
    it(`${label}: 5 steps match`, () => {
      const { init, gradSteps } = makeProblem(11, 5);
      const params = variables(init);
      const opt = new Optimizer(params, { ...BASE, weightDecay });
      const norms = run(opt, gradSteps);
      const ref = referenceAdam(init, gradSteps, { ...BASE, weightDecay, decoupled });
      for (const [k, p] of params) {
        expectClose(p.dataSync(), ref.params[k]!, 2e-6, `${label} ${k}`);
        // The update itself (not just the parameter) must be accurate: compare the change from init.
        const delta = Array.from(p.dataSync(), (x, i) => x - init[k]![i]!);
        expectClose(
          delta,
          ref.params[k]!.map((x, i) => x - init[k]![i]!),
          2e-5,
          `${label} Δ${k}`,
        );
      }
      expectClose(norms, ref.norms, 1e-6, 'norms');
      expect(opt.step).toBe(5);
      opt.dispose();
      for (const p of params.values()) p.dispose();
    });
  }

  it('AdamW defaults to weight decay 0.01, Adam to 0', () => {
    const params = variables(makeProblem(1, 0).init);
    expect(new AdamW(params, { learningRate: 1 }).options.weightDecay).toBe(0.01);
    expect(new Adam(params, { learningRate: 1 }).options.weightDecay).toBe(0);
    for (const p of params.values()) p.dispose();
  });

  it('a learning-rate override applies to that step only', () => {
    const { init, gradSteps } = makeProblem(5, 1);
    const params = variables(init);
    const opt = new Adam(params, { learningRate: 0.5 });
    const gt = new Map(Object.entries(gradSteps[0]!).map(([k, x]) => [k, tf.tensor(x, SHAPES[k]!)]));
    opt.applyGradients(gt, 0.01).dispose();
    const ref = referenceAdam(init, gradSteps, { ...BASE, weightDecay: 0, decoupled: false });
    expectClose(params.get('conv.bias')!.dataSync(), ref.params['conv.bias']!, 2e-6, 'bias');
    tf.dispose([...gt.values(), ...params.values()]);
    opt.dispose();
  });
});

describe('clipping by global norm', () => {
  it('scales gradients by maxNorm / (norm + 1e-6) before the moments, returns the unclipped norm', () => {
    const { init, gradSteps } = makeProblem(21, 4, 10);
    const params = variables(init);
    const opt = new Adam(params, { ...BASE, maxGradNorm: 0.5 });
    const norms = run(opt, gradSteps.slice(0, 1));
    const ref = referenceAdam(init, gradSteps.slice(0, 1), { ...BASE, weightDecay: 0, decoupled: false, maxGradNorm: 0.5 });
    expect(norms[0]).toBeGreaterThan(5);
    expectClose(norms, ref.norms, 1e-6, 'norm');
    // After one step m = (1 − β₁)·g·coef: the clipped gradient is visible in the first moment.
    const coef = 0.5 / (ref.norms[0]! + 1e-6);
    const state = opt.getState();
    const g = gradSteps[0]!['conv.weight']!;
    expectClose(
      state.tensors.get('m.conv.weight')!.data,
      g.map((x) => 0.1 * x * coef),
      1e-6,
      'm',
    );
    // And the clipped gradient vector has norm maxNorm (to the 1e-6 guard).
    let sq = 0;
    for (const k of Object.keys(SHAPES)) for (const x of state.tensors.get(`m.${k}`)!.data) sq += (x / 0.1) ** 2;
    expect(Math.sqrt(sq)).toBeCloseTo(0.5, 5);
    run(opt, gradSteps.slice(1));
    const ref4 = referenceAdam(init, gradSteps, { ...BASE, weightDecay: 0, decoupled: false, maxGradNorm: 0.5 });
    for (const [k, p] of params) expectClose(p.dataSync(), ref4.params[k]!, 2e-6, k);
    opt.dispose();
    tf.dispose([...params.values()]);
  });

  it('leaves gradients alone when the norm is below the limit', () => {
    const { init, gradSteps } = makeProblem(22, 1, 0.01);
    const params = variables(init);
    const opt = new Adam(params, { ...BASE, maxGradNorm: 100 });
    run(opt, gradSteps);
    const g = gradSteps[0]!['conv.bias']!;
    expectClose(
      opt.getState().tensors.get('m.conv.bias')!.data,
      g.map((x) => 0.1 * x),
      1e-6,
      'm',
    );
    opt.dispose();
    tf.dispose([...params.values()]);
  });
});

describe('state', () => {
  it('save → safetensors bytes → restore continues identically', () => {
    const { init, gradSteps } = makeProblem(31, 6);
    const a = variables(init);
    const optA = new AdamW(a, { ...BASE, weightDecay: 0.05, maxGradNorm: 1 });
    run(optA, gradSteps.slice(0, 3));
    const state = optA.getState();
    expect(state.step).toBe(3);
    expect([...state.tensors.keys()].sort()).toEqual(['m.conv.bias', 'm.conv.weight', 'v.conv.bias', 'v.conv.weight']);
    const bytes = serializeSafetensors(state.tensors, { step: String(state.step) });
    const file = parseSafetensors(bytes);

    const b = new Map([...a].map(([k, p]) => [k, tf.variable(p.clone(), true)]));
    const optB = new AdamW(b, { ...BASE, weightDecay: 0.05, maxGradNorm: 1 });
    optB.setState({ step: Number(file.metadata.step), tensors: file.tensors });
    run(optA, gradSteps.slice(3));
    run(optB, gradSteps.slice(3));
    for (const [k, p] of a) expect(Array.from(b.get(k)!.dataSync()), k).toEqual(Array.from(p.dataSync()));
    // And a fresh optimizer (step 0, zero moments) would not have: the state mattered.
    const ref = referenceAdam(init, gradSteps, { ...BASE, weightDecay: 0.05, decoupled: true, maxGradNorm: 1 });
    expectClose(a.get('conv.weight')!.dataSync(), ref.params['conv.weight']!, 2e-6, 'vs reference');
    optA.dispose();
    optB.dispose();
    tf.dispose([...a.values(), ...b.values()]);
  });

  it('refuses state that does not match the parameters', () => {
    const params = variables(makeProblem(1, 0).init);
    const opt = new Adam(params, BASE);
    const state = opt.getState();
    const missing = new Map(state.tensors);
    missing.delete('v.conv.bias');
    expect(() => opt.setState({ step: 1, tensors: missing })).toThrow(/missing: v\.conv\.bias/);
    const wrong = new Map(state.tensors);
    wrong.set('m.conv.bias', { shape: [5], data: new Float32Array(5) });
    expect(() => opt.setState({ step: 1, tensors: wrong })).toThrow(LdmError);
    expect(() => opt.setState({ step: -1, tensors: state.tensors })).toThrow(/step/);
    opt.dispose();
    tf.dispose([...params.values()]);
  });

  it('refuses unknown or misshapen gradients and bad options', () => {
    const params = variables(makeProblem(1, 0).init);
    const opt = new Adam(params, BASE);
    expect(() => opt.applyGradients(new Map([['nope', tf.zeros([1])]]))).toThrow(/'nope'/);
    expect(() => opt.applyGradients(new Map([['conv.bias', tf.zeros([3])]]))).toThrow(/shape/);
    expect(() => new Adam(params, { learningRate: -1 })).toThrow(/learningRate/);
    expect(() => new Adam(params, { learningRate: 1, beta2: 1 })).toThrow(/beta2/);
    expect(opt.step).toBe(0);
    opt.dispose();
    tf.dispose([...params.values()]);
  });
});

describe('memory', () => {
  it('no tensor leaks across steps', () => {
    const { init, gradSteps } = makeProblem(41, 6);
    const params = variables(init);
    const grads = gradSteps.map((s) => new Map(Object.entries(s).map(([k, x]) => [k, tf.tensor(x, SHAPES[k]!)])));
    const atStart = tf.memory().numTensors;
    const opt = new AdamW(params, { ...BASE, maxGradNorm: 1 });
    expect(tf.memory().numTensors).toBe(atStart + 4); // m and v for two parameters, nothing else
    opt.applyGradients(grads[0]!).dispose();
    const before = tf.memory().numTensors;
    for (const g of grads.slice(1)) opt.applyGradients(g).dispose();
    expect(tf.memory().numTensors).toBe(before);
    opt.getState();
    expect(tf.memory().numTensors).toBe(before);
    opt.dispose();
    expect(tf.memory().numTensors).toBe(atStart);
    tf.dispose(grads.flatMap((g) => [...g.values()]));
    tf.dispose([...params.values()]);
  });
});
