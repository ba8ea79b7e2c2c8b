import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'vitest';
import { Generator, initBackend } from '@ldm/backend';
import { UNet2DModel } from '@ldm/unet';
import { trainDDPM } from './train';
it('leak', async () => {
  await initBackend({ backend: 'wasm' });
  const model = new UNet2DModel({ sampleSize: 8, inChannels: 1, outChannels: 1, blockOutChannels: [8, 16], layersPerBlock: 1, downBlockTypes: ['DownBlock2D', 'AttnDownBlock2D'], upBlockTypes: ['AttnUpBlock2D', 'UpBlock2D'], normNumGroups: 4, attentionHeadDim: 8 } as never, new Generator(3));
  console.log('params', model.parameters().size);
  const data = { images: new Float32Array(64 * 64), shape: [64, 8, 8, 1] as [number, number, number, number], name: 'z' };
  for (const steps of [1, 5, 9]) {
    const before = tf.memory().numTensors;
    const r = await trainDDPM({ model, data, runDir: await mkdtemp(join(tmpdir(), 'l-')), steps, batchSize: 8, learningRate: 1e-3, seed: 1, checkpointEvery: 1000, checkpointAtEnd: false, silent: true, saveModel: (d) => model.save(d), loadModel: async () => {} } as never);
    r.ema.dispose();
    console.log(steps, tf.memory().numTensors - before);
  }
  const x = tf.zeros([2, 8, 8, 1]) as tf.Tensor4D;
  const b = tf.memory().numTensors; const y = model.forward(x, [1, 2]); y.dispose(); console.log('fwd', tf.memory().numTensors - b);
  const b2 = tf.memory().numTensors; const g = tf.variableGrads(() => tf.sum(model.forward(x, tf.tensor1d([1, 2], 'int32')) ) as tf.Scalar); tf.dispose([g.value, ...Object.values(g.grads)]); console.log('grad', tf.memory().numTensors - b2);
});
