/**
 * Training-step and inference throughput of the default UNets, plus where a training step's kernel
 * time goes (tf.profile). Run: `pnpm --filter @ldm/unet bench` (or `npm run bench` in packages/unet).
 * Writes bench/results/models.json. The VAE has its own bench in packages/vae/bench.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Generator, initBackend, randn } from '@ldm/backend';
import { Adam, upsampleNearest2x } from '@ldm/nn';
import { LATENT_UNET_CONFIG, PIXEL_UNET_CONFIG, UNet2DModel } from '../src/index';
import type { UNet2DConfig } from '../src/index';

const BATCH = Number(process.env.BENCH_BATCH ?? 32);
const STEPS = Number(process.env.BENCH_STEPS ?? 3);
const CPU_BATCH = 2;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timeIt(fn: () => void, reps: number): number {
  fn(); // warm-up: kernel compilation, weight caches
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

interface ModelRow {
  model: string;
  input: number[];
  params: number;
  forwardMflopsPerImage: number;
  wasm: { trainStepMs: number; trainImagesPerSec: number; inferImagesPerSec: number; batch: number; leakedTensorsPerStep: number };
  cpu: { inferImagesPerSec: number; batch: number };
  kernelShareOfTrainStep: Record<string, number>;
}

function trainStep(model: UNet2DModel, opt: Adam, x: tf.Tensor4D, t: number[], target: tf.Tensor): void {
  const params = model.trainableParameters();
  const byVar = new Map([...params].map(([name, v]) => [v.name, name] as const));
  tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(tf.sub(model.forward(x, t), target))) as tf.Scalar, [...params.values()]);
    const named = new Map(Object.entries(grads).map(([k, g]) => [byVar.get(k)!, g] as const));
    opt.applyGradients(named);
    value.dataSync();
  });
}

async function benchModel(name: string, config: Readonly<UNet2DConfig>): Promise<ModelRow> {
  const [h, w, c] = [config.sampleSize!, config.sampleSize!, config.inChannels];
  const gen = new Generator(0);
  await initBackend({ backend: 'wasm' });
  const model = new UNet2DModel(config, gen.split('init'));
  const x = randn([BATCH, h, w, c], gen) as tf.Tensor4D;
  const target = randn([BATCH, h, w, c], gen);
  const t = Array.from({ length: BATCH }, (_, i) => (i * 37) % 1000);
  const opt = new Adam(model.trainableParameters(), { learningRate: 1e-4 });

  trainStep(model, opt, x, t, target);
  const before = tf.memory().numTensors;
  const stepMs = timeIt(() => trainStep(model, opt, x, t, target), STEPS);
  const leaked = (tf.memory().numTensors - before) / (STEPS + 1);
  model.eval();
  const inferMs = timeIt(() => tf.tidy(() => model.forward(x, t).dataSync()), STEPS);
  model.train();

  const profile = await tf.profile(() => trainStep(model, opt, x, t, target));
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
  const params = model.numParameters();
  const flops = model.forwardFlops([h, w, c]);
  const state = new Map([...model.parameters()].map(([k, v]) => [k, v.clone()]));
  opt.dispose();
  tf.dispose([x, target]);
  model.dispose();

  await initBackend({ backend: 'cpu' });
  const cpuModel = new UNet2DModel(config, new Generator(0));
  cpuModel.loadStateDict(state);
  for (const v of state.values()) v.dispose();
  cpuModel.eval();
  const xc = randn([CPU_BATCH, h, w, c], gen) as tf.Tensor4D;
  const cpuMs = timeIt(() => tf.tidy(() => cpuModel.forward(xc, t.slice(0, CPU_BATCH)).dataSync()), 1);
  xc.dispose();
  cpuModel.dispose();

  return {
    model: name,
    input: [h, w, c],
    params,
    forwardMflopsPerImage: Math.round(flops / 1e5) / 10,
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
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/** Nearest ×2 forward + backward: ours (custom 4·avgPool gradient) against the stock ResizeNearestNeighborGrad. */
async function benchUpsample(): Promise<Record<string, number>> {
  await initBackend({ backend: 'wasm' });
  const x = randn([BATCH, 16, 16, 64], new Generator(1)) as tf.Tensor4D;
  const run = (f: (v: tf.Tensor4D) => tf.Tensor4D) => () =>
    tf.tidy(() => {
      const g = tf.grad((v: tf.Tensor) => tf.sum(tf.square(f(v as tf.Tensor4D))))(x);
      g.dataSync();
    });
  const ours = timeIt(run(upsampleNearest2x), 5);
  const resize = timeIt(
    run((v) => tf.image.resizeNearestNeighbor(v, [32, 32])),
    5,
  );
  x.dispose();
  return { customGradMs: round1(ours), resizeNearestNeighborMs: round1(resize) };
}

const rows: ModelRow[] = [];
for (const [name, config] of [
  ['pixel UNet (PIXEL_UNET_CONFIG)', PIXEL_UNET_CONFIG],
  ['latent UNet (LATENT_UNET_CONFIG)', LATENT_UNET_CONFIG],
] as const) {
  rows.push(await benchModel(name, config));
}
const upsample = await benchUpsample();

console.log(`\nUNet benchmarks (wasm batch ${BATCH}, cpu batch ${CPU_BATCH}; medians of ${STEPS})`);
console.log('| model | input | params | fwd MFLOP/img | wasm train step ms | wasm train img/s | wasm infer img/s | cpu infer img/s | leaked/step |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  console.log(
    `| ${r.model} | ${r.input.join('×')} | ${r.params.toLocaleString('en')} | ${r.forwardMflopsPerImage} | ${r.wasm.trainStepMs} | ${r.wasm.trainImagesPerSec} | ${r.wasm.inferImagesPerSec} | ${r.cpu.inferImagesPerSec} | ${r.wasm.leakedTensorsPerStep} |`,
  );
}
for (const r of rows) {
  const top = Object.entries(r.kernelShareOfTrainStep)
    .slice(0, 8)
    .map(([k, s]) => `${k} ${(100 * s).toFixed(1)}%`);
  console.log(`${r.model} train-step kernel time: ${top.join(', ')}`);
}
console.log(
  `nearest ×2 fwd+bwd [${BATCH},16,16,64] on wasm: resize + 4·avgPool gradient (ours) ${upsample.customGradMs} ms, resizeNearestNeighbor with its stock gradient ${upsample.resizeNearestNeighborMs} ms`,
);

const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'models.json');
await mkdir(dirname(out), { recursive: true });
await writeFile(out, `${JSON.stringify({ date: new Date().toISOString(), batch: BATCH, steps: STEPS, models: rows, upsample }, null, 2)}\n`);
console.log(`wrote ${out}`);
