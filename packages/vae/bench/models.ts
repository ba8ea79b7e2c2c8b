/**
 * Training-step and inference throughput of DEFAULT_VAE_CONFIG (32×32×1 → 8×8×4), and where a training
 * step's kernel time goes (tf.profile). Run: `npm run bench` in packages/vae. Writes bench/results/models.json.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Generator, initBackend, rand } from '@ldm/backend';
import { Adam } from '@ldm/nn';
import { AutoencoderKL, DEFAULT_VAE_CONFIG, vaeElbo } from '../src/index';

const BATCH = Number(process.env.BENCH_BATCH ?? 32);
const STEPS = Number(process.env.BENCH_STEPS ?? 3);
const CPU_BATCH = 2;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timeIt(fn: () => void, reps: number): number {
  fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

const round1 = (x: number) => Math.round(x * 10) / 10;
const [h, w, c] = [DEFAULT_VAE_CONFIG.sampleSize, DEFAULT_VAE_CONFIG.sampleSize, DEFAULT_VAE_CONFIG.inChannels];
const gen = new Generator(0);

await initBackend({ backend: 'wasm' });
const vae = new AutoencoderKL(DEFAULT_VAE_CONFIG, gen.split('init'));
const x = tf.tidy(() => tf.sub(tf.mul(tf.round(tf.mul(rand([BATCH, h, w, c], gen), 255)), 2 / 255), 1)) as tf.Tensor4D;
const params = vae.trainableParameters();
const byVar = new Map([...params].map(([name, v]) => [v.name, name] as const));
const opt = new Adam(params, { learningRate: 1e-4 });
const noise = gen.split('posterior');
const step = () =>
  tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => vaeElbo(vae, x, { generator: noise }).loss, [...params.values()]);
    opt.applyGradients(new Map(Object.entries(grads).map(([k, g]) => [byVar.get(k)!, g] as const)));
    value.dataSync();
  });

step();
const before = tf.memory().numTensors;
const stepMs = timeIt(step, STEPS);
const leaked = (tf.memory().numTensors - before) / (STEPS + 1);
vae.eval();
const inferMs = timeIt(() => tf.tidy(() => vae.forward(x).dataSync()), STEPS);
const profile = await tf.profile(step);
const byKernel: Record<string, number> = {};
let total = 0;
for (const k of profile.kernels) {
  const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
  byKernel[k.name] = (byKernel[k.name] ?? 0) + ms;
  total += ms;
}
const share = Object.fromEntries(
  Object.entries(byKernel)
    .sort((a, b) => b[1] - a[1])
    .map(([k, ms]) => [k, Math.round((1000 * ms) / total) / 1000]),
);
const state = new Map([...vae.parameters()].map(([k, v]) => [k, v.clone()]));
const numParams = vae.numParameters();
const flops = vae.forwardFlops([h, w, c]);
opt.dispose();
x.dispose();
vae.dispose();

await initBackend({ backend: 'cpu' });
const cpuVae = new AutoencoderKL(DEFAULT_VAE_CONFIG);
cpuVae.loadStateDict(state);
for (const v of state.values()) v.dispose();
cpuVae.eval();
const xc = rand([CPU_BATCH, h, w, c], gen) as tf.Tensor4D;
const cpuMs = timeIt(() => tf.tidy(() => cpuVae.forward(xc).dataSync()), 1);

const row = {
  model: 'VAE (DEFAULT_VAE_CONFIG)',
  input: [h, w, c],
  params: numParams,
  forwardMflopsPerImage: round1(flops / 1e6),
  wasm: {
    trainStepMs: Math.round(stepMs),
    trainImagesPerSec: round1((1000 * BATCH) / stepMs),
    inferImagesPerSec: round1((1000 * BATCH) / inferMs),
    batch: BATCH,
    leakedTensorsPerStep: leaked,
  },
  cpu: { inferImagesPerSec: round1((1000 * CPU_BATCH) / cpuMs), batch: CPU_BATCH },
  kernelShareOfTrainStep: share,
};
console.log(`\nVAE benchmark (encode + decode; wasm batch ${BATCH}, cpu batch ${CPU_BATCH}; medians of ${STEPS})`);
console.log('| model | input | params | fwd MFLOP/img | wasm train step ms | wasm train img/s | wasm infer img/s | cpu infer img/s | leaked/step |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
console.log(
  `| ${row.model} | ${row.input.join('×')} | ${row.params.toLocaleString('en')} | ${row.forwardMflopsPerImage} | ${row.wasm.trainStepMs} | ${row.wasm.trainImagesPerSec} | ${row.wasm.inferImagesPerSec} | ${row.cpu.inferImagesPerSec} | ${row.wasm.leakedTensorsPerStep} |`,
);
console.log(
  `train-step kernel time: ${Object.entries(share)
    .slice(0, 8)
    .map(([k, s]) => `${k} ${(100 * s).toFixed(1)}%`)
    .join(', ')}`,
);
const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'models.json');
await mkdir(dirname(out), { recursive: true });
await writeFile(out, `${JSON.stringify({ date: new Date().toISOString(), batch: BATCH, steps: STEPS, models: [row] }, null, 2)}\n`);
console.log(`wrote ${out}`);
