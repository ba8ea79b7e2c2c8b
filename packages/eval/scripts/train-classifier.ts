/**
 * Re-trains the FID feature network on the embedded MNIST digits and writes it to
 * packages/eval/assets/mnist-classifier/ (or --out DIR).
 *
 *   pnpm --filter @ldm/eval train-classifier [-- --epochs 6 --seed 0 --out DIR --backend wasm]
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { Generator, initBackend } from '@ldm/backend';
import type { BackendName } from '@ldm/backend';
import { loadMnist, splitHeldOut } from '@ldm/data';
import { DEFAULT_CLASSIFIER_TRAINING, MnistClassifier, defaultClassifierDir, extractFeatures, saveClassifier, trainClassifier } from '../src/index';

const { values } = parseArgs({
  // pnpm passes the `--` separator through.
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    epochs: { type: 'string', default: String(DEFAULT_CLASSIFIER_TRAINING.epochs) },
    seed: { type: 'string', default: '0' },
    out: { type: 'string', default: defaultClassifierDir() },
    backend: { type: 'string', default: 'wasm' },
    'held-out': { type: 'string', default: '0.1' },
  },
});
const epochs = Number(values.epochs);
const seed = Number(values.seed);
const heldOutFraction = Number(values['held-out']);

const info = await initBackend({ backend: values.backend as BackendName });
const root = new Generator(seed);
const mnist = loadMnist({ padTo32: true });
const { train, heldOut } = splitHeldOut(mnist, heldOutFraction, root.split('held-out'));
console.log(`backend ${info.name}; ${train.shape[0]} training and ${heldOut.shape[0]} held-out images, ${epochs} epochs, seed ${seed}`);

const model = new MnistClassifier({}, root.split('init'));
const start = performance.now();
trainClassifier(
  model,
  { images: train.images, shape: train.shape, labels: train.labels! },
  {
    epochs,
    generator: root.split('batches'),
    onEpoch: (epoch, loss) => console.log(`epoch ${epoch}: loss ${loss.toFixed(4)} (${((performance.now() - start) / 1000).toFixed(0)} s)`),
  },
);
const { predictions } = extractFeatures(model, heldOut);
let correct = 0;
for (let i = 0; i < predictions.length; i++) if (predictions[i] === heldOut.labels![i]) correct++;
const accuracy = correct / predictions.length;
console.log(`held-out accuracy ${(100 * accuracy).toFixed(2)}% (${correct}/${predictions.length})`);
await saveClassifier(values.out, model, {
  heldOutAccuracy: accuracy,
  trainImages: train.shape[0],
  heldOutImages: heldOut.shape[0],
  heldOutFraction,
  epochs,
  seed,
  backend: info.name,
  command: 'pnpm --filter @ldm/eval train-classifier',
  trainingSeconds: Math.round((performance.now() - start) / 1000),
  date: new Date().toISOString(),
});
console.log(`wrote ${values.out}`);
model.dispose();
if (tf.memory().numTensors !== 0) console.warn(`${tf.memory().numTensors} tensors still allocated`);
