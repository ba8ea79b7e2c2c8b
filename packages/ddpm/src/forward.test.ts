import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ldm/backend';
import { addNoise, trainingTarget, velocity } from './forward';
import { diffusionLoss, minSnrWeights } from './loss';
import { predictionToX0AndEps } from './prediction';
import { NoiseSchedule } from './schedule';

const schedule = NoiseSchedule.fromOptions({ numTrainTimesteps: 1000, betaSchedule: 'linear', betaStart: 0.0001, betaEnd: 0.02 });

beforeAll(async () => {
  await initBackend({ backend: 'cpu' });
});

describe('forward process', () => {
  it('addNoise is √ᾱ_t x₀ + √(1−ᾱ_t) ε per batch element, for number, array and int tensor timesteps', () => {
    const x0 = tf.tensor([1, 2, 3, 4, 5, 6], [3, 2]);
    const noise = tf.tensor([0.5, -1, 2, 0, -0.3, 0.7], [3, 2]);
    const ts = [0, 500, 999];
    const expected = [1, 2, 3, 4, 5, 6].map((x, i) => {
      const a = schedule.alphasCumprod[ts[Math.floor(i / 2)] as number] as number;
      return Math.sqrt(a) * x + Math.sqrt(1 - a) * ([0.5, -1, 2, 0, -0.3, 0.7][i] as number);
    });
    const fromArray = addNoise(schedule, x0, noise, ts);
    const tTensor = tf.tensor1d(ts, 'int32');
    const fromTensor = addNoise(schedule, x0, noise, tTensor);
    Array.from(fromArray.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(expected[i] as number, 5));
    Array.from(fromTensor.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(expected[i] as number, 5));
    const single = addNoise(schedule, x0, noise, 500).dataSync();
    const a = schedule.alphasCumprod[500] as number;
    expect(single[0]).toBeCloseTo(Math.sqrt(a) + Math.sqrt(1 - a) * 0.5, 5);
    expect(() => addNoise(schedule, x0, noise, [1, 2])).toThrow(/2 timesteps for a batch of 3/);
    expect(() => addNoise(schedule, x0, noise, 1000)).toThrow(/\[0, 999\]/);
    expect(() => addNoise(schedule, x0, tf.zeros([3, 3]), 1)).toThrow(/shape/);
    tf.dispose([x0, noise, fromArray, fromTensor, tTensor]);
  });

  it('each prediction type’s training target is read back as the same (x₀, ε) at its noise level', () => {
    const x0 = tf.tensor([[0.3, -0.7]]);
    const eps = tf.tensor([[1.2, 0.4]]);
    for (const t of [3, 400, 990]) {
      const a = schedule.alphasCumprod[t] as number;
      const xt = addNoise(schedule, x0, eps, t);
      for (const pt of ['epsilon', 'sample', 'v_prediction'] as const) {
        tf.tidy(() => {
          const target = trainingTarget(schedule, pt, x0, eps, t);
          const back = predictionToX0AndEps(pt, target, xt, a);
          Array.from(back.x0.dataSync()).forEach((v, i) => expect(v).toBeCloseTo([0.3, -0.7][i] as number, 3));
          Array.from(back.eps.dataSync()).forEach((v, i) => expect(v).toBeCloseTo([1.2, 0.4][i] as number, 3));
        });
      }
      xt.dispose();
    }
    const v = velocity(schedule, x0, eps, 400).dataSync();
    const a = schedule.alphasCumprod[400] as number;
    expect(v[0]).toBeCloseTo(Math.sqrt(a) * 1.2 - Math.sqrt(1 - a) * 0.3, 5);
    tf.dispose([x0, eps]);
  });
});

describe('loss', () => {
  it('plain MSE, and Min-SNR-γ weighting per element with the weights of anchors A1/A2', () => {
    const pred = tf.tensor([
      [1, 1],
      [0, 0],
    ]);
    const target = tf.tensor([
      [0, 0],
      [2, 2],
    ]);
    const plain = diffusionLoss({ prediction: pred, target });
    expect(plain.dataSync()[0]).toBeCloseTo((1 + 4) / 2, 6);
    const ts = [10, 700];
    for (const [pt, w] of [
      ['epsilon', (snr: number) => Math.min(snr, 5) / snr],
      ['sample', (snr: number) => Math.min(snr, 5)],
      ['v_prediction', (snr: number) => Math.min(snr, 5) / (snr + 1)],
    ] as const) {
      const weights = minSnrWeights(schedule, pt, 5);
      const snr = ts.map((t) => schedule.snr[t] as number);
      expect(weights[10]).toBeCloseTo(w(snr[0] as number), 12);
      const weighted = diffusionLoss({ prediction: pred, target, t: ts, schedule, predictionType: pt, minSnrGamma: 5 });
      expect(weighted.dataSync()[0]).toBeCloseTo((w(snr[0] as number) * 1 + w(snr[1] as number) * 4) / 2, 4);
      weighted.dispose();
    }
    expect(() => diffusionLoss({ prediction: pred, target, minSnrGamma: 5 })).toThrow(/needs schedule/);
    tf.dispose([pred, target, plain]);
  });
});
