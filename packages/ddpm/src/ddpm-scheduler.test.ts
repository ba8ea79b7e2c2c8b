import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Generator, LdmError, initBackend } from '@ldm/backend';
import { DDPMScheduler } from './ddpm-scheduler';
import { SCHEDULER_DEFAULTS } from './config';
import { dynamicThreshold } from './thresholding';

const dummySample = (): tf.Tensor => tf.reshape(tf.div(tf.range(0, 768, 1, 'float32'), 768), [4, 8, 8, 3]);
const dummyModel = (x: tf.Tensor, t: number): tf.Tensor => tf.mul(x, t / (t + 1));

function errorOf(fn: () => unknown): LdmError {
  try {
    fn();
  } catch (e) {
    if (e instanceof LdmError) return e;
    throw e;
  }
  throw new Error('expected an LdmError');
}

beforeAll(async () => {
  await initBackend({ backend: 'cpu' });
});

describe('DDPMScheduler config', () => {
  it('fromConfig reads a diffusers scheduler_config.json and toConfig writes one back', () => {
    const json = {
      _class_name: 'DDPMScheduler',
      _diffusers_version: '0.38.0',
      beta_end: 0.012,
      beta_schedule: 'scaled_linear',
      beta_start: 0.00085,
      clip_sample: false,
      num_train_timesteps: 1000,
      prediction_type: 'v_prediction',
      steps_offset: 1,
      timestep_spacing: 'trailing',
      trained_betas: null,
      variance_type: 'fixed_large',
      set_alpha_to_one: false,
      skip_prk_steps: true,
      thresholding: true,
      dynamic_thresholding_ratio: 0.9,
      sample_max_value: 2,
      clip_sample_range: 3,
      rescale_betas_zero_snr: true,
    };
    const s = DDPMScheduler.fromConfig(json);
    expect(s.config.betaSchedule).toBe('scaled_linear');
    expect(s.config.predictionType).toBe('v_prediction');
    expect(s.config.varianceType).toBe('fixed_large');
    expect(s.config.rescaleBetasZeroSnr).toBe(true);
    const out = s.toConfig();
    expect(out._class_name).toBe('DDPMScheduler');
    expect(out).not.toHaveProperty('set_alpha_to_one');
    expect(out).toMatchObject({ beta_end: 0.012, steps_offset: 1, timestep_spacing: 'trailing', dynamic_thresholding_ratio: 0.9, trained_betas: null });
    expect(DDPMScheduler.fromConfig(out).config).toEqual(s.config);
    expect(new DDPMScheduler().config).toEqual({ ...SCHEDULER_DEFAULTS });
  });

  it('unknown keys and bad values are LdmErrors naming the key and the allowed values', () => {
    let e = errorOf(() => DDPMScheduler.fromConfig({ beta_schedule: 'cosine' }));
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.message).toMatch(/beta_schedule.*"linear", "scaled_linear", "squaredcos_cap_v2", "sigmoid"/);
    e = errorOf(() => new DDPMScheduler({ predictionType: 'noise' as never }));
    expect(e.message).toMatch(/predictionType.*"epsilon", "sample", "v_prediction"/);
    e = errorOf(() => DDPMScheduler.fromConfig({ num_train_steps: 10 }));
    expect(e.message).toMatch(/unknown key "num_train_steps".*num_train_timesteps/);
    e = errorOf(() => new DDPMScheduler({ varianceType: 'learned' as never }));
    expect(e.message).toMatch(/varianceType.*fixed_small.*fixed_large/);
    e = errorOf(() => new DDPMScheduler({ trainedBetas: [0.1, 0.2], numTrainTimesteps: 3 }));
    expect(e.message).toMatch(/trainedBetas.*3 values/);
    expect(new DDPMScheduler({ trainedBetas: [0.1, 0.2] }).numTrainTimesteps).toBe(2);
  });
});

describe('DDPMScheduler timesteps', () => {
  it('custom timesteps [100, 87, 50, 1, 0]: previous timestep is the next element, −1 after 0 (diffusers test_custom_timesteps)', () => {
    const s = new DDPMScheduler();
    s.setTimesteps({ timesteps: [100, 87, 50, 1, 0] });
    expect([100, 87, 50, 1, 0].map((t) => s.previousTimestep(t))).toEqual([87, 50, 1, 0, -1]);
    expect(() => s.setTimesteps({ timesteps: [100, 87, 50, 51, 0] })).toThrow(/strictly descending/);
    expect(() => s.setTimesteps({ timesteps: [1000, 50] })).toThrow(/\[0, 999\]/);
  });

  it('fewer steps than training steps; more is an error; a step at a timestep not in the schedule is an error', () => {
    const s = new DDPMScheduler();
    s.setTimesteps(10);
    expect(s.timesteps).toEqual([900, 800, 700, 600, 500, 400, 300, 200, 100, 0]);
    expect(errorOf(() => s.setTimesteps(1001)).message).toMatch(/\[1, 1000\]/);
    const x = tf.zeros([1, 2, 2, 1]);
    const e = errorOf(() => s.step(x, 950, x, { noise: x }));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(/timestep 950 is not in the schedule/);
    const wrong = tf.zeros([1, 2, 2, 2]);
    expect(errorOf(() => s.step(wrong, 900, x, { noise: x })).code).toBe('SHAPE_MISMATCH');
    expect(errorOf(() => s.step(x, 900, x)).message).toMatch(/options.noise.*options.generator/);
    tf.dispose([x, wrong]);
  });

  it('a strided step uses the strided variance: β = 1 − ᾱ_t/ᾱ_prev, β̃ = (1 − ᾱ_prev)/(1 − ᾱ_t)·β', () => {
    const s = new DDPMScheduler({ varianceType: 'fixed_large' });
    s.setTimesteps(10);
    const ac = s.schedule.alphasCumprod;
    expect(s.getVariance(500)).toBeCloseTo(1 - (ac[500] as number) / (ac[400] as number), 14);
    const small = new DDPMScheduler();
    small.setTimesteps(10);
    expect(small.getVariance(500)).toBeCloseTo(((1 - (ac[400] as number)) / (1 - (ac[500] as number))) * (1 - (ac[500] as number) / (ac[400] as number)), 14);
  });
});

describe('DDPMScheduler step', () => {
  it('zero terminal SNR with epsilon prediction is a clear error at t = T−1, not a NaN', () => {
    const s = new DDPMScheduler({ rescaleBetasZeroSnr: true, timestepSpacing: 'trailing' });
    s.setTimesteps(10);
    const x = tf.zeros([1, 2]);
    expect(errorOf(() => s.step(x, 999, x, { noise: x })).message).toMatch(/zero terminal SNR.*v_prediction/);
    x.dispose();
  });

  it('diffusers test_variance: _get_variance(0) = 0, (487) = 0.00979, (999) = 0.02', () => {
    const s = new DDPMScheduler();
    expect(s.getVariance(0)).toBeLessThan(1e-19);
    expect(Math.abs(s.getVariance(487) - 0.00979)).toBeLessThan(1e-5);
    expect(Math.abs(s.getVariance(999) - 0.02)).toBeLessThan(1e-5);
  });

  it('dynamic thresholding inside step keeps x̂₀ in [−1, 1] and leaves small predictions alone', () => {
    const s = new DDPMScheduler({ thresholding: true, sampleMaxValue: 5 });
    const x = tf.tensor([[3, -9, 0.2, 0.1]]);
    const out = tf.zeros([1, 4]);
    const a = s.schedule.alphasCumprod[999] as number;
    const { prevSample, predOriginalSample } = s.step(out, 999, x, { noise: out });
    const x0 = predOriginalSample.dataSync();
    expect(Math.max(...Array.from(x0, Math.abs))).toBeLessThanOrEqual(1 + 1e-6);
    // s = min(quantile, 5) = 5 here, so x̂₀ = clip(x/√ᾱ, −5, 5)/5.
    Array.from(x0).forEach((v, i) => expect(v).toBeCloseTo(Math.min(5, Math.max(-5, ([3, -9, 0.2, 0.1][i] as number) / Math.sqrt(a))) / 5, 5));
    tf.dispose([x, out, prevSample, predOriginalSample]);
  });

  for (const [predictionType, expected] of [
    ['epsilon', 0.6609],
    ['v_prediction', 0.1132],
  ] as const) {
    it(`mean-only 1000-step loop with the dummy model, clip on (anchors b5, ${predictionType}): sum|x| = ${expected}`, () => {
      const s = new DDPMScheduler({ predictionType });
      let x = dummySample();
      const zero = tf.zerosLike(x);
      const before = tf.memory().numTensors;
      for (const t of s.timesteps) {
        const next = tf.tidy(() => s.step(dummyModel(x, t), t, x, { noise: zero }).prevSample);
        x.dispose();
        x = next;
      }
      expect(tf.memory().numTensors).toBe(before);
      const sum = tf.tidy(() => tf.sum(tf.abs(x)).dataSync()[0] as number);
      expect(Math.abs(sum - expected)).toBeLessThan(1e-3);
      tf.dispose([x, zero]);
    });
  }

  it('one step equals μ̃(x̂₀, x_t) + σ z computed by hand in float64, and clip_sample bounds x̂₀', () => {
    const s = new DDPMScheduler({ clipSample: true, clipSampleRange: 1 });
    s.setTimesteps(50);
    const t = 500;
    const prevT = s.previousTimestep(t);
    const ac = s.schedule.alphasCumprod;
    const a = ac[t] as number;
    const ap = ac[prevT] as number;
    const xs = [0.3, -2, 4, 0.01];
    const outs = [0.5, -0.2, 0.1, 3];
    const zs = [1, -1, 0.5, 0];
    const { prevSample, predOriginalSample } = s.step(tf.tensor(outs, [4, 1]), t, tf.tensor(xs, [4, 1]), { noise: tf.tensor(zs, [4, 1]) });
    const got = prevSample.dataSync();
    const gotX0 = predOriginalSample.dataSync();
    xs.forEach((x, i) => {
      const x0 = Math.min(1, Math.max(-1, (x - Math.sqrt(1 - a) * (outs[i] as number)) / Math.sqrt(a)));
      const beta = 1 - a / ap;
      const mean = ((Math.sqrt(ap) * beta) / (1 - a)) * x0 + ((Math.sqrt(1 - beta) * (1 - ap)) / (1 - a)) * x;
      const sigma = Math.sqrt(((1 - ap) / (1 - a)) * beta);
      expect(gotX0[i]).toBeCloseTo(x0, 5);
      expect(got[i]).toBeCloseTo(mean + sigma * (zs[i] as number), 5);
    });
    tf.dispose([prevSample, predOriginalSample]);
  });

  it('same generator seed → same step noise; different seeds → different', () => {
    const s = new DDPMScheduler();
    const x = tf.ones([2, 4, 4, 1]);
    const run = (seed: number): Float32Array => tf.tidy(() => s.step(x, 999, x, { generator: new Generator(seed) }).prevSample.dataSync() as Float32Array);
    expect(run(1)).toEqual(run(1));
    expect(run(1)).not.toEqual(run(2));
    x.dispose();
  });
});

describe('dynamic thresholding', () => {
  it('per-sample s = quantile(|x|, ratio) (linear interpolation) clamped to [1, max]; x ← clip(x, −s, s)/s', () => {
    const values = Array.from({ length: 20 }, (_, i) => (i % 2 ? -1 : 1) * (i + 1) * 0.2); // |x| = 0.2 … 4
    const x = tf.tensor([...values, ...values.map((v) => v / 10)], [2, 20]);
    const out = dynamicThreshold(x, 0.9, 3).arraySync() as number[][];
    // ratio 0.9 of 20 sorted values: position 17.1 → 3.6 + 0.1·0.2 = 3.62, clamped to max 3.
    const s = 3;
    out[0]?.forEach((v, i) => expect(v).toBeCloseTo(Math.min(s, Math.max(-s, values[i] as number)) / s, 5));
    // second sample: quantile 0.362 < 1 → s = 1, a plain clip to [−1, 1].
    out[1]?.forEach((v, i) => expect(v).toBeCloseTo(Math.min(1, Math.max(-1, (values[i] as number) / 10)), 5));
    const q = dynamicThreshold(x, 0.9, 10).arraySync() as number[][];
    expect(q[0]?.[19]).toBeCloseTo(Math.max(-1, -4 / 3.62), 5);
    x.dispose();
  });
});
