import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ldm/backend';
import { parseSafetensors } from '@ldm/nn';
import { VECTORS } from '../../../test/vectors';
import { DDPMScheduler } from './ddpm-scheduler';
import { NoiseSchedule } from './schedule';
import { spacedTimesteps } from './timesteps';
import type { BetaSchedule, TimestepSpacing } from './config';

/** The reference tensors of a vectors file (nn's safetensors reader). */
const readSafetensors = (path: string) => parseSafetensors(readFileSync(path), path).tensors;

interface ScheduleEntry {
  diffusers_kwargs: { beta_schedule: BetaSchedule; beta_start?: number; beta_end?: number };
  betas: number[];
  alphas_cumprod: number[];
  ddpm_get_variance: { t: number[]; fixed_small: number[]; fixed_large: number[] };
}
const schedulers = JSON.parse(readFileSync(`${VECTORS}/schedulers.json`, 'utf8')) as {
  beta_schedules: Record<string, ScheduleEntry>;
  ddim_set_timesteps: { timestep_spacing: TimestepSpacing; steps_offset: number; num_inference_steps: number; timesteps: number[] }[];
};

function expectRelClose(got: ArrayLike<number>, ref: ArrayLike<number>, rel: number): void {
  expect(got.length).toBe(ref.length);
  let worst = 0;
  for (let i = 0; i < ref.length; i++) {
    const r = ref[i] as number;
    worst = Math.max(worst, Math.abs((got[i] as number) - r) / Math.max(Math.abs(r), 1e-30));
  }
  expect(worst).toBeLessThanOrEqual(rel);
}

/** The vectors' toy model, 0.1·x·t/1000 + 0.05·sin(x), in float32 tf ops. */
function toyModel(x: tf.Tensor, t: number): tf.Tensor {
  return tf.tidy(() => tf.add(tf.div(tf.mul(tf.mul(x, 0.1), t), 1000), tf.mul(tf.sin(x), 0.05)));
}

beforeAll(async () => {
  await initBackend({ backend: 'cpu' });
});

describe('schedules against diffusers (schedulers.json)', () => {
  for (const [name, entry] of Object.entries(schedulers.beta_schedules)) {
    it(`${name}: betas and alphas_cumprod to float32 (relative 1e-6)`, () => {
      const k = entry.diffusers_kwargs;
      const s = NoiseSchedule.fromOptions({
        numTrainTimesteps: 1000,
        betaSchedule: k.beta_schedule,
        betaStart: k.beta_start ?? 0.0001,
        betaEnd: k.beta_end ?? 0.02,
      });
      expectRelClose(s.betas, entry.betas, 1e-6);
      // diffusers forms 1 − β in float32 before the product: each factor carries 2⁻²⁴·β/(1−β) relative rounding,
      // large where the cosine schedule's β reaches 0.999, so the reference itself is only that exact.
      let propagated = 0;
      entry.alphas_cumprod.forEach((ref, t) => {
        const beta = entry.betas[t] as number;
        propagated += (2 ** -24 * beta) / (1 - beta);
        expect(Math.abs((s.alphasCumprod[t] as number) - ref) / ref, `t=${t}`).toBeLessThanOrEqual(2e-6 + propagated);
      });
    });
    it(`${name}: DDPM variances fixed_small / fixed_large`, () => {
      const k = entry.diffusers_kwargs;
      for (const varianceType of ['fixed_small', 'fixed_large'] as const) {
        const sched = new DDPMScheduler({ betaSchedule: k.beta_schedule, betaStart: k.beta_start ?? 0.0001, betaEnd: k.beta_end ?? 0.02, varianceType });
        // diffusers forms β_t = 1 − ᾱ_t/ᾱ_{t−1} in float32: absolute rounding of a few 2⁻²⁴ around 1.
        entry.ddpm_get_variance.t.forEach((t, i) => {
          const ref = entry.ddpm_get_variance[varianceType][i] as number;
          expect(Math.abs(sched.getVariance(t) - ref), `${varianceType} t=${t}`).toBeLessThanOrEqual(4 * 2 ** -24 + 1e-5 * ref);
        });
      }
    });
  }

  it('every set_timesteps array (3 spacings × 2 offsets × 2 step counts), DDPM and the free function', () => {
    expect(schedulers.ddim_set_timesteps.length).toBe(12);
    for (const c of schedulers.ddim_set_timesteps) {
      expect(spacedTimesteps(1000, c.num_inference_steps, c.timestep_spacing, c.steps_offset)).toEqual(c.timesteps);
      const sched = new DDPMScheduler({ timestepSpacing: c.timestep_spacing, stepsOffset: c.steps_offset });
      sched.setTimesteps(c.num_inference_steps);
      expect(sched.timesteps).toEqual(c.timesteps);
    }
  });
});

describe('DDPM full loop against diffusers (ddpm_loop.safetensors)', () => {
  it('1000 steps with the stored per-step noise: after_step_1/10/500 and final within 1e-4·max|ref|', () => {
    const meta = JSON.parse(readFileSync(`${VECTORS}/ddpm_loop.json`, 'utf8')) as { scheduler_config: Record<string, unknown> };
    const tensors = readSafetensors(`${VECTORS}/ddpm_loop.safetensors`);
    const get = (k: string): Float32Array => {
      const v = tensors.get(k);
      if (!v) throw new Error(`missing ${k}`);
      return v.data;
    };
    const sched = DDPMScheduler.fromConfig(meta.scheduler_config);
    sched.setTimesteps(1000);
    const noiseAll = get('noise');
    const shape = [1, 4, 4, 1];
    let x = tf.tensor(get('x_T'), shape);
    const checkpoints: Record<number, string> = { 1: 'after_step_1', 10: 'after_step_10', 500: 'after_step_500', 1000: 'final' };
    const before = tf.memory().numTensors;
    for (let i = 0; i < 1000; i++) {
      const t = sched.timesteps[i] as number;
      const prev = x;
      x = tf.tidy(() => {
        const noise = tf.tensor(noiseAll.subarray(i * 16, (i + 1) * 16), shape);
        return sched.step(toyModel(prev, t), t, prev, { noise }).prevSample;
      });
      prev.dispose();
      const key = checkpoints[i + 1];
      if (key) {
        const ref = get(key);
        const got = x.dataSync();
        const scale = Math.max(1, ...Array.from(ref, Math.abs));
        const worst = Math.max(...Array.from(ref, (r, j) => Math.abs((got[j] as number) - r)));
        expect(worst, key).toBeLessThanOrEqual(1e-4 * scale);
      }
    }
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
