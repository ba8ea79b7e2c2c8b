import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ldm/backend';
import { parseSafetensors } from '@ldm/nn';
import { VECTORS } from '../../../test/vectors';
import { DDIMScheduler } from './ddim-scheduler';

/** The reference tensors of a vectors file (nn's safetensors reader). */
const readSafetensors = (path: string) => parseSafetensors(readFileSync(path), path).tensors;

/** The vectors' toy model, 0.1·x·t/1000 + 0.05·sin(x), in float32 tf ops. */
function toyModel(x: tf.Tensor, t: number): tf.Tensor {
  return tf.tidy(() => tf.add(tf.div(tf.mul(tf.mul(x, 0.1), t), 1000), tf.mul(tf.sin(x), 0.05)));
}

/** diffusers' test fixtures: dummy_sample_deter = i/768, dummy_noise_deter = (767 − i)/768 (paired elementwise), dummy_model = x·t/(t+1). */
const dummySample = (): tf.Tensor => tf.reshape(tf.div(tf.range(0, 768, 1, 'float32'), 768), [4, 8, 8, 3]);
const dummyNoise = (): tf.Tensor => tf.reshape(tf.div(tf.range(767, -1, -1, 'float32'), 768), [4, 8, 8, 3]);
const dummyModel = (x: tf.Tensor, t: number): tf.Tensor => tf.mul(x, t / (t + 1));

function sumAbs(x: tf.Tensor): number {
  return tf.tidy(() => tf.sum(tf.abs(x)).dataSync()[0] as number);
}

beforeAll(async () => {
  await initBackend({ backend: 'cpu' });
});

describe('DDIM full loops against diffusers (ddim_loop.safetensors)', () => {
  const meta = JSON.parse(readFileSync(`${VECTORS}/ddim_loop.json`, 'utf8')) as {
    runs: Record<string, { scheduler_config: Record<string, unknown>; timesteps: number[] }>;
  };
  const tensors = readSafetensors(`${VECTORS}/ddim_loop.safetensors`);
  const get = (k: string): Float32Array => {
    const v = tensors.get(k);
    if (!v) throw new Error(`missing ${k}`);
    return v.data;
  };
  for (const pt of ['epsilon', 'v_prediction', 'sample']) {
    it(`${pt}: 50 steps, first x̂₀, after 1/10/25 steps and final within 1e-4·max|ref|`, () => {
      const run = meta.runs[pt];
      if (!run) throw new Error(`missing run ${pt}`);
      const sched = DDIMScheduler.fromConfig(run.scheduler_config);
      sched.setTimesteps(50);
      expect(sched.timesteps).toEqual(run.timesteps);
      const close = (got: tf.Tensor, key: string): void => {
        const ref = get(`${pt}.${key}`);
        const g = got.dataSync();
        const scale = Math.max(1, ...Array.from(ref, Math.abs));
        const worst = Math.max(...Array.from(ref, (r, j) => Math.abs((g[j] as number) - r)));
        expect(worst, key).toBeLessThanOrEqual(1e-4 * scale);
      };
      let x = tf.tensor(get('x_T'), [2, 8, 8, 3]);
      const before = tf.memory().numTensors;
      sched.timesteps.forEach((t, i) => {
        const prev = x;
        const out = toyModel(prev, t);
        const { prevSample, predOriginalSample } = sched.step(out, t, prev);
        if (i === 0) {
          close(out, 'model_output_step_1');
          close(predOriginalSample, 'pred_original_sample_step_1');
        }
        out.dispose();
        predOriginalSample.dispose();
        prev.dispose();
        x = prevSample;
        const key = { 1: 'after_step_1', 10: 'after_step_10', 25: 'after_step_25', 50: 'final' }[i + 1];
        if (key) close(x, key);
      });
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
    });
  }
});

describe('diffusers test_scheduler_ddim.py constants (anchors b4)', () => {
  const base = { numTrainTimesteps: 1000, betaStart: 0.0001, betaEnd: 0.02, betaSchedule: 'linear', clipSample: true } as const;
  const loop = (sched: DDIMScheduler, start: tf.Tensor, timesteps: readonly number[]): tf.Tensor => {
    let x = start;
    for (const t of timesteps) {
      const next = tf.tidy(() => sched.step(dummyModel(x, t), t, x, { eta: 0 }).prevSample);
      x.dispose();
      x = next;
    }
    return x;
  };
  const cases: [string, ConstructorParameters<typeof DDIMScheduler>[0], number, number][] = [
    ['test_full_loop_no_noise', {}, 172.0067, 0.223967],
    ['test_full_loop_with_v_prediction', { predictionType: 'v_prediction' }, 52.5302, 0.0684],
    ['test_full_loop_with_set_alpha_to_one', { setAlphaToOne: true, betaStart: 0.01 }, 149.8295, 0.1951],
    ['test_full_loop_with_no_set_alpha_to_one', { setAlphaToOne: false, betaStart: 0.01 }, 149.0784, 0.1941],
  ];
  for (const [name, extra, sum, mean] of cases) {
    it(`${name}: sum|x| ${sum}, mean|x| ${mean}`, () => {
      const sched = new DDIMScheduler({ ...base, ...extra });
      sched.setTimesteps(10);
      const x = loop(sched, dummySample(), sched.timesteps);
      const s = sumAbs(x);
      expect(Math.abs(s - sum)).toBeLessThan(1e-2);
      expect(Math.abs(s / 768 - mean)).toBeLessThan(1e-3);
      x.dispose();
    });
  }
  it('test_full_loop_with_noise: add_noise at timesteps[8] = 100 then steps 100, 0: 354.5418', () => {
    const sched = new DDIMScheduler(base);
    sched.setTimesteps(10);
    const ts = sched.timesteps.slice(8);
    expect(ts).toEqual([100, 0]);
    const x0 = dummySample();
    const noise = dummyNoise();
    const x = loop(sched, sched.addNoise(x0, noise, ts[0] as number), ts);
    x0.dispose();
    noise.dispose();
    const s = sumAbs(x);
    expect(Math.abs(s - 354.5418)).toBeLessThan(1e-2);
    expect(Math.abs(s / 768 - 0.4616)).toBeLessThan(1e-3);
    x.dispose();
  });
  it('test_variance: _get_variance(0,0)=0, (420,400)=0.14771, (980,960)=0.32460, (487,486)=0.00979, (999,998)=0.02', () => {
    const sched = new DDIMScheduler(base);
    expect(sched.getVariance(0, 0)).toBeCloseTo(0, 5);
    expect(Math.abs(sched.getVariance(420, 400) - 0.14771)).toBeLessThan(1e-5 + 1e-5);
    expect(Math.abs(sched.getVariance(980, 960) - 0.3246)).toBeLessThan(2e-5);
    expect(Math.abs(sched.getVariance(487, 486) - 0.00979)).toBeLessThan(1e-5);
    expect(Math.abs(sched.getVariance(999, 998) - 0.02)).toBeLessThan(1e-5);
  });
  it('test_steps_offset: steps_offset=1, 5 steps → [801, 601, 401, 201, 1]', () => {
    const sched = new DDIMScheduler({ ...base, stepsOffset: 1 });
    sched.setTimesteps(5);
    expect(sched.timesteps).toEqual([801, 601, 401, 201, 1]);
  });
});
