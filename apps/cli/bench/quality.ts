/**
 * Sample quality of one trained pipeline folder, measured the way issue 14 states its targets: FID of
 * the project's classifier (@ldm/eval `sampleQuality`) between N samples and the held-out digits
 * (the held-out split of `ldm train`'s seed), with the real-vs-real floor and the class shares.
 * Used to choose the demo's recipe (apps/cli/README.md, "How the demo's recipe was chosen").
 *
 *   node --conditions=@ldm/source --import tsx apps/cli/bench/quality.ts DIR [--n 1000] [--samplers ddim50,ddpm1000,vae,train,recon] [--seed S] [--noise-seed K]
 *
 * `train` scores N random training digits as if they were samples: what a generator that reproduced its
 * training set exactly would get. It sits well above the real-vs-real floor, because the classifier
 * whose features FID compares was trained on those same digits (packages/eval/README.md). `recon` scores the
 * VAE's reconstructions (decoded posterior means) of those digits: the best a latent DDPM on that VAE can reach.
 *
 * Prints one JSON line per sampler and appends it to DIR/quality.jsonl.
 */
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Generator, initBackend } from '@ldm/backend';
import { loadMnistClassifier, sampleQuality } from '@ldm/eval';
import { loadSplit, pickRandomImages } from '../src/jobs/data';
import { latentShapeOf, loadPipeline } from '@ldm/pipeline';
import { generateImages, loadVae, priorImages } from '../src/jobs/samples';
import { DEFAULTS } from '../src/defaults';

const argv = process.argv.slice(2);
const dir = argv[0]!;
const opt = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1]! : fallback;
};
const n = Number(opt('n', '1000'));
const samplers = opt('samplers', 'ddim50').split(',');
const seed = Number(opt('seed', '0'));
// The samplers' noise draw alone (default: the split seed), to compare models on the same draws: one FID at n = 1,000
// moves by ±12 (sd) with the draw alone.
const noiseSeed = Number(opt('noise-seed', String(seed)));
for (const [name, v] of [
  ['seed', seed],
  ['noise-seed', noiseSeed],
] as const) {
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${name}: expected an integer ≥ 0, got ${opt(name, '')}`);
}
const backend = await initBackend({ backend: opt('backend', 'native') as 'native' });
const classifier = await loadMnistClassifier();
const { train, heldOut } = await loadSplit(DEFAULTS.data, DEFAULTS.heldOut, seed);
const real = { images: heldOut.images, shape: heldOut.shape };
// `train` and `recon` score the same digits.
const trainingDigits = () => pickRandomImages(train, n, new Generator(seed).split('training-digits'));
const vaeOf = async () => (pipeline && 'vae' in pipeline ? pipeline.vae : await loadVae(dir));
// DIR is a pipeline folder, or a VAE folder when only `vae-only`, `recon` and `train` are asked for.
const pipeline = samplers.some((s) => s === 'vae' || /^dd[ip]m/.test(s)) ? await loadPipeline(dir) : undefined;

for (const s of samplers) {
  const t0 = performance.now();
  let images: { data: Float32Array; shape: [number, number, number, number] };
  if (s === 'train') {
    images = trainingDigits();
  } else if (s === 'recon') {
    const vae = await vaeOf();
    const digits = trainingDigits();
    const [, h, w, c] = digits.shape;
    const data = new Float32Array(digits.data.length);
    for (let i = 0; i < n; i += 100) {
      const k = Math.min(100, n - i);
      const batch = digits.data.subarray(i * h * w * c, (i + k) * h * w * c);
      const out = tf.tidy(() => tf.clipByValue(vae.forward(tf.tensor4d(batch, [k, h, w, c])), -1, 1));
      data.set(out.dataSync(), i * h * w * c);
      out.dispose();
    }
    images = { data, shape: digits.shape };
    if (!pipeline) vae.dispose();
  } else if (s === 'vae' || s === 'vae-only') {
    const vae = await vaeOf();
    images = priorImages(vae, { latentShape: latentShapeOf(vae, [32, 32, 1]), count: n, batchSize: 100, seed: noiseSeed });
    if (!pipeline) vae.dispose();
  } else {
    const m = /^(ddim|ddpm)(\d+)(?:eta([\d.]+))?$/.exec(s);
    if (!m) throw new Error(`unknown sampler ${s}`);
    images = generateImages(pipeline!, {
      sampler: m[1] as 'ddim',
      steps: Number(m[2]),
      eta: m[3] ? Number(m[3]) : m[1] === 'ddpm' ? 1 : 0,
      count: n,
      batchSize: Math.min(n, 250),
      seed: noiseSeed,
    });
  }
  const seconds = (performance.now() - t0) / 1000;
  const q = sampleQuality(real, { images: images.data, shape: images.shape }, classifier, { generator: new Generator(seed).split('fid') });
  const row = {
    dir,
    sampler: s,
    n,
    seed,
    noiseSeed,
    fid: +q.fid.toFixed(1),
    floor: +q.fidFloor.toFixed(1),
    precision: +q.precision.toFixed(3),
    recall: +q.recall.toFixed(3),
    shares: q.classShares.map((x) => +x.toFixed(3)),
    seconds: +seconds.toFixed(1),
    backend: backend.name,
  };
  console.log(JSON.stringify(row));
  await appendFile(join(dir, 'quality.jsonl'), `${JSON.stringify(row)}\n`);
}
pipeline?.dispose();
