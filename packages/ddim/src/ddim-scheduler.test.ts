import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Generator, LdmError, initBackend } from '@ldm/backend';
import { DDPMScheduler } from '@ldm/ddpm';
import { DDIMScheduler } from './ddim-scheduler';
import { slerp } from './slerp';

beforeAll(async () => {
  await initBackend({ backend: 'cpu' });
});

function errorOf(fn: () => unknown): LdmError {
  try {
    fn();
  } catch (e) {
    if (e instanceof LdmError) return e;
    throw e;
  }
  throw new Error('expected an LdmError');
}

describe('DDIMScheduler', () => {
  it('fromConfig / toConfig round trip with diffusers keys; a DDPM config builds a DDIM scheduler', () => {
    const s = DDIMScheduler.fromConfig({
      _class_name: 'DDIMScheduler',
      set_alpha_to_one: false,
      timestep_spacing: 'linspace',
      prediction_type: 'v_prediction',
      clip_sample: false,
    });
    const json = s.toConfig();
    expect(json).toMatchObject({ _class_name: 'DDIMScheduler', set_alpha_to_one: false, timestep_spacing: 'linspace', prediction_type: 'v_prediction' });
    expect(json).not.toHaveProperty('variance_type');
    expect(DDIMScheduler.fromConfig(json).config).toEqual(s.config);
    expect(DDIMScheduler.fromConfig(new DDPMScheduler({ betaSchedule: 'scaled_linear' }).toConfig()).config.betaSchedule).toBe('scaled_linear');
    expect(s.finalAlphaCumprod).toBe(s.schedule.alphasCumprod[0]);
    expect(new DDIMScheduler().finalAlphaCumprod).toBe(1);
  });

  it('bad input: unknown key, bad spacing, too many steps, timestep not in the schedule, negative η, wrong shapes', () => {
    expect(errorOf(() => DDIMScheduler.fromConfig({ eta: 0 })).message).toMatch(/unknown key "eta"/);
    expect(errorOf(() => DDIMScheduler.fromConfig({ timestep_spacing: 'karras' })).message).toMatch(/timestep_spacing.*"leading", "trailing", "linspace"/);
    const s = new DDIMScheduler();
    expect(errorOf(() => s.setTimesteps(2000)).code).toBe('INVALID_ARGUMENT');
    s.setTimesteps(10);
    const x = tf.zeros([2, 2]);
    expect(errorOf(() => s.step(x, 901, x)).message).toMatch(/timestep 901 is not in the schedule/);
    expect(errorOf(() => s.step(x, 900, x, { eta: -1 })).message).toMatch(/eta/);
    expect(errorOf(() => s.step(x, 900, x, { eta: 0.5 })).message).toMatch(/options.noise/);
    expect(errorOf(() => s.step(tf.zeros([2, 3]), 900, x)).code).toBe('SHAPE_MISMATCH');
    x.dispose();
  });

  it('linspace spacing: the previous timestep is looked up (999 → 888), not t − T/n (diffusers’ 899)', () => {
    const s = new DDIMScheduler({ timestepSpacing: 'linspace', clipSample: false });
    s.setTimesteps(10);
    expect(s.timesteps).toEqual([999, 888, 777, 666, 555, 444, 333, 222, 111, 0]);
    expect(s.previousTimestep(999)).toBe(888);
    const x = tf.tensor([[0.7, -1.1]]);
    const out = tf.tensor([[0.2, 0.4]]);
    const got = s.step(out, 999, x).prevSample.dataSync();
    const a = s.schedule.alphasCumprod[999] as number;
    const ap = s.schedule.alphasCumprod[888] as number;
    [0.7, -1.1].forEach((xi, i) => {
      const e = [0.2, 0.4][i] as number;
      const x0 = (xi - Math.sqrt(1 - a) * e) / Math.sqrt(a);
      expect(got[i]).toBeCloseTo(Math.sqrt(ap) * x0 + Math.sqrt(1 - ap) * e, 4);
    });
    tf.dispose([x, out]);
  });

  it('η = 1 is the DDPM (fixed_small) update: same step with the same noise, strided or not', () => {
    for (const steps of [1000, 25]) {
      const ddim = new DDIMScheduler({ clipSample: false });
      const ddpm = new DDPMScheduler({ clipSample: false });
      ddim.setTimesteps(steps);
      ddpm.setTimesteps(steps);
      const t = ddim.timesteps[Math.floor(steps / 2)] as number;
      tf.tidy(() => {
        const g = new Generator(5);
        const x = tf.tensor(g.normal(64), [4, 4, 4, 1]);
        const out = tf.tensor(g.normal(64), [4, 4, 4, 1]);
        const noise = tf.tensor(g.normal(64), [4, 4, 4, 1]);
        const a = ddim.step(out, t, x, { eta: 1, noise }).prevSample.dataSync();
        const b = ddpm.step(out, t, x, { noise }).prevSample.dataSync();
        a.forEach((v, i) => expect(v).toBeCloseTo(b[i] as number, 4));
        expect(ddim.getVariance(t, ddim.previousTimestep(t))).toBeCloseTo(ddpm.getVariance(t), 12);
      });
    }
  });
});

describe('slerp', () => {
  it('endpoints, constant norm between orthogonal unit-norm noises, lerp when parallel', () => {
    const a = tf.tensor([1, 0, 0, 0], [1, 2, 2, 1]);
    const b = tf.tensor([0, 1, 0, 0], [1, 2, 2, 1]);
    expect(Array.from(slerp(a, b, 0).dataSync())).toEqual([1, 0, 0, 0]);
    Array.from(slerp(a, b, 1).dataSync()).forEach((v, i) => expect(v).toBeCloseTo([0, 1, 0, 0][i] as number, 6));
    const mid = slerp(a, b, 0.5).dataSync();
    expect(mid[0]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(mid[1]).toBeCloseTo(Math.SQRT1_2, 6);
    const third = slerp(a, b, 1 / 3).dataSync();
    expect(Math.hypot(...third)).toBeCloseTo(1, 6);
    expect(third[0]).toBeCloseTo(Math.cos(Math.PI / 6), 6);
    const twice = tf.mul(a, 2);
    Array.from(slerp(a, twice, 0.5).dataSync()).forEach((v, i) => expect(v).toBeCloseTo([1.5, 0, 0, 0][i] as number, 6));
    expect(() => slerp(a, tf.zeros([4]), 0.5)).toThrow(/shape/);
    tf.dispose([a, b, twice]);
  });
});
