import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, Generator, rand } from '@ldm/backend';
import { AutoencoderKL, vaeElbo } from './index';
import { TINY_VAE } from '../test/fixtures';

const TINY = TINY_VAE;

describe.each(['wasm', 'cpu'] as const)('AutoencoderKL training on %s', (backend) => {
  beforeAll(async () => {
    await initBackend({ backend });
  });

  it('every parameter gets a nonzero ELBO gradient; Adam steps lower the loss and leak nothing', () => {
    const gen = new Generator(21);
    const vae = new AutoencoderKL(TINY, gen.split('init'));
    const params = [...vae.trainableParameters()];
    // 8-bit grid in [−1, 1], as vaeElbo's discretized likelihood expects
    const x = tf.tidy(() => tf.sub(tf.mul(tf.round(tf.mul(rand([2, 8, 8, 1], gen), 255)), 2 / 255), 1)) as tf.Tensor4D;
    const noise = gen.split('posterior');
    const lossFn = () => {
      const terms = vaeElbo(vae, x, { generator: noise, beta: 1 });
      tf.dispose([terms.reconstruction, terms.kl, terms.elbo, terms.bitsPerDim]);
      return terms.loss;
    };
    const { value, grads } = tf.variableGrads(
      lossFn,
      params.map(([, v]) => v),
    );
    const zero = params.filter(([, v]) => !(tf.tidy(() => tf.max(tf.abs(grads[v.name]!)).dataSync()[0]!) > 0)).map(([n]) => n);
    expect(zero).toEqual([]);
    tf.dispose([value, ...Object.values(grads)]);

    const opt = tf.train.adam(1e-3);
    const varList = params.map(([, v]) => v);
    const step = () => {
      const loss = opt.minimize(lossFn, true, varList)!;
      const v = loss.dataSync()[0]!;
      loss.dispose();
      return v;
    };
    const first = step();
    const afterFirst = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 4; i++) last = step();
    expect(tf.memory().numTensors).toBe(afterFirst);
    expect(last).toBeLessThan(first);
    opt.dispose();
    x.dispose();
    vae.dispose();
  });
});
