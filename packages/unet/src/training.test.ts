import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, Generator, randn } from '@ldm/backend';
import { UNet2DModel, LATENT_UNET_CONFIG } from './index';

/** A UNet with every block kind (DownBlock2D, AttnDownBlock2D, mid attention, AttnUpBlock2D, UpBlock2D) but tiny widths. */
const TINY = { ...LATENT_UNET_CONFIG, blockOutChannels: [8, 16], normNumGroups: 4, attentionHeadDim: 8 };

describe.each(['wasm', 'cpu'] as const)('UNet2DModel training on %s', (backend) => {
  beforeAll(async () => {
    await initBackend({ backend });
  });

  it('every parameter gets a nonzero gradient; Adam steps lower the loss and leak nothing', () => {
    const gen = new Generator(11);
    const model = new UNet2DModel(TINY, gen.split('init'));
    const params = [...model.trainableParameters()];
    const x = randn([2, 8, 8, 4], gen) as tf.Tensor4D;
    const target = randn([2, 8, 8, 4], gen);
    const lossFn = () => tf.mean(tf.square(tf.sub(model.forward(x, [3, 500]), target))) as tf.Scalar;

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
    tf.dispose([x, target]);
    model.dispose();
  });
});
