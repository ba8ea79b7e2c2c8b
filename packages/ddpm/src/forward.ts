import * as tf from '@tensorflow/tfjs-core';
import type { PredictionType } from './config';
import { assertSameShape, coefficientAt } from './coefficients';
import type { Timesteps } from './coefficients';
import type { NoiseSchedule } from './schedule';

/** Per-element √ᾱ_t and √(1 − ᾱ_t), cached per schedule so repeated calls do not rebuild the tables. */
const sqrtTables = new WeakMap<NoiseSchedule, { signal: Float64Array; noise: Float64Array }>();

function tables(schedule: NoiseSchedule): { signal: Float64Array; noise: Float64Array } {
  let t = sqrtTables.get(schedule);
  if (!t) {
    t = { signal: schedule.alphasCumprod.map(Math.sqrt), noise: schedule.alphasCumprod.map((a) => Math.sqrt(1 - a)) };
    sqrtTables.set(schedule, t);
  }
  return t;
}

/** x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε: a sample of q(x_t | x_0) in closed form; `t` per batch element or one number. */
export function addNoise(schedule: NoiseSchedule, x0: tf.Tensor, noise: tf.Tensor, t: Timesteps): tf.Tensor {
  assertSameShape(x0, noise, 'addNoise', 'x0', 'noise');
  return tf.tidy(() => {
    const { signal, noise: sigma } = tables(schedule);
    const batch = x0.shape[0] ?? 1;
    const a = coefficientAt(signal, t, batch, x0.rank, 'addNoise');
    const s = coefficientAt(sigma, t, batch, x0.rank, 'addNoise');
    return tf.add(tf.mul(a, x0), tf.mul(s, noise));
  });
}

/** v = √ᾱ_t · ε − √(1 − ᾱ_t) · x_0 (Salimans & Ho 2022). */
export function velocity(schedule: NoiseSchedule, x0: tf.Tensor, noise: tf.Tensor, t: Timesteps): tf.Tensor {
  assertSameShape(x0, noise, 'velocity', 'x0', 'noise');
  return tf.tidy(() => {
    const { signal, noise: sigma } = tables(schedule);
    const batch = x0.shape[0] ?? 1;
    const a = coefficientAt(signal, t, batch, x0.rank, 'velocity');
    const s = coefficientAt(sigma, t, batch, x0.rank, 'velocity');
    return tf.sub(tf.mul(a, noise), tf.mul(s, x0));
  });
}

/** What the network is trained to output for `predictionType`: ε, x_0, or v. */
export function trainingTarget(schedule: NoiseSchedule, predictionType: PredictionType, x0: tf.Tensor, noise: tf.Tensor, t: Timesteps): tf.Tensor {
  switch (predictionType) {
    case 'epsilon':
      return tf.clone(noise);
    case 'sample':
      return tf.clone(x0);
    case 'v_prediction':
      return velocity(schedule, x0, noise, t);
  }
}
