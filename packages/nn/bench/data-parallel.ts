/**
 * Data-parallel training throughput: images/s of trainDDPM (LATENT_UNET_CONFIG, batch 64, 8×8×4 latents)
 * and trainVAE (DEFAULT_VAE_CONFIG, batch 32, 32×32×1 images) with threads = 1 (in-process) and
 * threads = 2..N (worker threads, one wasm backend each), on the wasm backend.
 *
 *   pnpm --filter @ldm/nn bench:parallel        (node --conditions=@ldm/source --import tsx bench/data-parallel.ts)
 *   STEPS=30 THREADS=1,2 REPEATS=3 ONLY=vae node --conditions=@ldm/source --import tsx bench/data-parallel.ts
 *
 * The figure is the steady-state rate between runTrainingLoop's first and last metrics lines (logged every
 * 10 steps): worker start-up, the first 10 steps (kernel warm-up, about 2 s in every thread) and the final
 * checkpoint are left out. STEPS must be ≥ 20. The sibling packages are imported from their sources:
 * @ldm/nn does not depend on them.
 *
 * A second table times the gradient computation alone (no optimiser), steady state (after 2 warm-up steps),
 * in-process and parallel steps alternating (so both see the same background load),
 * with each thread's CPU time from /proc/thread-self/stat: on a machine loaded by other work the wall-clock
 * speed-up understates what two free cores give, and CPU time < wall time shows the threads waiting for a
 * core. "idle estimate" = in-process CPU ms / (slowest worker's CPU ms + main-thread copy/sum ms).
 */
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Generator, initBackend } from '@ldm/backend';
import { createTrainingReplica, DataParallelEngine, sliceRows, splitRows } from '../src/index';
import type { GradientReplica, ReplicaTask, ShardInputs } from '../src/index';
import { ddpmLoss, trainDDPM } from '../../ddpm/src/index';
import { LATENT_UNET_CONFIG, UNet2DModel } from '../../unet/src/index';
import { AutoencoderKL, DEFAULT_VAE_CONFIG, trainVAE, vaeLoss } from '../../vae/src/index';

type ImageDataset = Parameters<typeof trainDDPM>[0]['data'];

const steps = Number(process.env.STEPS ?? 20);
const threadList = (process.env.THREADS ?? '1,2').split(',').map(Number);
const only = process.env.ONLY; // 'ddpm' | 'vae'
const repeats = Number(process.env.REPEATS ?? 2);

function dataset(n: number, shape: [number, number, number], kind: 'latents' | 'images'): ImageDataset {
  const g = new Generator(7);
  const size = n * shape[0] * shape[1] * shape[2];
  const images = kind === 'latents' ? g.normal(size) : Float32Array.from(g.uniform(size), (u) => Math.round(u * 255) / 127.5 - 1);
  return { images, shape: [n, ...shape], name: kind };
}

/**
 * Steady-state images/s from metrics.jsonl: runTrainingLoop logs the cumulative images/s every 10 steps,
 * so two lines give the rate between them; the first 10 steps (kernel warm-up in every thread) are left out.
 */
async function steadyImagesPerSecond(runDir: string, batch: number): Promise<number> {
  const lines = (await readFile(join(runDir, 'metrics.jsonl'), 'utf8')).trim().split('\n');
  const entries = lines.map((l) => JSON.parse(l) as { step: number; imagesPerSecond: number });
  const first = entries[0]!;
  const last = entries.at(-1)!;
  if (last.step === first.step) throw new Error(`need at least 2 logged steps (STEPS >= 20), got ${entries.length}`);
  const seconds = (e: { step: number; imagesPerSecond: number }) => (e.step * batch) / e.imagesPerSecond;
  return ((last.step - first.step) * batch) / (seconds(last) - seconds(first));
}

async function ddpm(threads: number): Promise<number> {
  const model = new UNet2DModel(LATENT_UNET_CONFIG, new Generator(1));
  const runDir = await mkdtemp(join(tmpdir(), 'bench-dp-ddpm-'));
  try {
    await trainDDPM({
      model,
      data: dataset(640, [8, 8, 4], 'latents'),
      runDir,
      steps,
      batchSize: 64,
      learningRate: 1e-4,
      seed: 1,
      checkpointEvery: 1_000_000,
      silent: true,
      saveModel: async () => {},
      loadModel: async () => {},
      threads,
    }).then((r) => r.ema.dispose());
    return await steadyImagesPerSecond(runDir, 64);
  } finally {
    model.dispose();
    await rm(runDir, { recursive: true, force: true });
  }
}

async function vae(threads: number): Promise<number> {
  const model = new AutoencoderKL(DEFAULT_VAE_CONFIG, new Generator(1));
  const runDir = await mkdtemp(join(tmpdir(), 'bench-dp-vae-'));
  try {
    await trainVAE({
      vae: model,
      data: dataset(320, [32, 32, 1], 'images'),
      runDir,
      steps,
      batchSize: 32,
      learningRate: 1e-4,
      klWeight: 1e-3,
      seed: 1,
      checkpointEvery: 1_000_000,
      silent: true,
      threads,
    });
    return await steadyImagesPerSecond(runDir, 32);
  } finally {
    model.dispose();
    await rm(runDir, { recursive: true, force: true });
  }
}

function threadCpuMs(): number {
  const stat = readFileSync('/proc/thread-self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Gradient-only timing: in-process replica vs the engine with `threads` workers (medians over `steps` steps). */
async function gradientTiming(
  name: string,
  task: ReplicaTask,
  factory: (c: unknown) => Promise<GradientReplica> | GradientReplica,
  all: ShardInputs,
  batch: number,
  threads: number,
  info: unknown,
) {
  const local = await factory(task.config);
  const vars = [...local.trainable.values()];
  const engine = await DataParallelEngine.create({ threads, task, parameters: local.parameters, trainable: local.trainable });
  const localWall: number[] = [];
  const localCpu: number[] = [];
  const wall: number[] = [];
  const overhead: number[] = [];
  const workerCpu: number[] = [];
  const workerWall: number[] = [];
  try {
    // In-process and parallel steps alternate, so both see the same background load.
    for (let i = 0; i < steps + 2; i++) {
      const lw0 = performance.now();
      const c0 = threadCpuMs();
      tf.tidy(() => {
        const { grads } = tf.variableGrads(() => local.loss(all, info).loss, vars);
        for (const g of Object.values(grads)) g.dataSync();
      });
      const lw = performance.now() - lw0;
      const lc = threadCpuMs() - c0;
      const shards = splitRows(batch, threads).map(([a, b]) => ({
        rows: b - a,
        inputs: Object.fromEntries(Object.entries(all).map(([k, v]) => [k, sliceRows(v, a, b)])),
      }));
      const w0 = performance.now();
      const r = engine.computeGradients(shards, info);
      const w = performance.now() - w0;
      tf.dispose([...r.grads.values()]);
      if (i >= 2) {
        localWall.push(lw);
        localCpu.push(lc);
        wall.push(w);
        overhead.push(r.overheadMs);
        workerCpu.push(Math.max(...r.workers.map((x) => x.cpuMs)));
        workerWall.push(Math.max(...r.workers.map((x) => x.wallMs)));
      }
    }
  } finally {
    await engine.dispose();
    local.dispose?.();
  }
  const idle = median(localCpu) / (median(workerCpu) + median(overhead));
  return `| ${name} | ${batch} | ${median(localWall).toFixed(0)} / ${median(localCpu).toFixed(0)} | ${threads} | ${median(wall).toFixed(0)} | ${median(workerWall).toFixed(0)} / ${median(workerCpu).toFixed(0)} | ${median(overhead).toFixed(0)} | ${(median(localWall) / median(wall)).toFixed(2)}× | ${idle.toFixed(2)}× |`;
}

await initBackend({
  backend: (process.env.BACKEND ?? 'wasm') as 'wasm' | 'native',
  ...(process.env.ONEDNN_THREADS ? { threads: Number(process.env.ONEDNN_THREADS) } : {}),
});
const load = loadavg()
  .map((l) => l.toFixed(2))
  .join(' ');
console.log(
  `data-parallel training, wasm backend, ${steps} steps a run (rate over steps 11–${Math.floor(steps / 10) * 10}), threads ${threadList.join('/')}; load average before: ${load}`,
);
const rows: string[] = ['| model | batch | threads | images/s, median (runs) | speed-up |', '| --- | --- | --- | --- | --- |'];
for (const [name, run, batch] of [
  ['latent UNet (LATENT_UNET_CONFIG)', ddpm, 64],
  ['VAE (DEFAULT_VAE_CONFIG)', vae, 32],
] as const) {
  if (only && !name.toLowerCase().includes(only)) continue;
  // Runs alternate between thread counts (REPEATS rounds), so a change in background load hits both.
  const results = new Map<number, number[]>(threadList.map((t) => [t, []]));
  for (let r = 0; r < repeats; r++) for (const threads of threadList) results.get(threads)!.push(await run(threads));
  const base = results.has(1) ? median(results.get(1)!) : NaN;
  for (const threads of threadList) {
    const ips = median(results.get(threads)!);
    const all = results
      .get(threads)!
      .map((x) => x.toFixed(1))
      .join(', ');
    const row = `| ${name} | ${batch} | ${threads} | ${ips.toFixed(1)} (${all}) | ${Number.isNaN(base) ? '–' : `${(ips / base).toFixed(2)}×`} |`;
    rows.push(row);
    console.log(row);
  }
}
console.log(
  `\n${rows.join('\n')}\n\nload average after: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);

// Gradient computation alone, steady state, with thread CPU times.
const g = new Generator(9);
const ddpmAll: ShardInputs = {
  x0: { data: g.normal(64 * 256), shape: [64, 8, 8, 4] },
  noise: { data: g.normal(64 * 256), shape: [64, 8, 8, 4] },
  t: { data: Int32Array.from({ length: 64 }, (_, i) => (i * 397) % 1000), shape: [64] },
};
const vaeAll: ShardInputs = {
  x: { data: Float32Array.from(g.uniform(32 * 1024), (u) => Math.round(u * 255) / 127.5 - 1), shape: [32, 32, 32, 1] },
  eps: { data: g.normal(32 * 8 * 8 * 4), shape: [32, 8, 8, 4] },
};
/** A model's worker recipe; the model itself is disposed (the replicas build their own). */
function recipeOf(model: UNet2DModel | AutoencoderKL) {
  const recipe = model.recipe();
  model.dispose();
  return recipe;
}
const grads = [
  '| gradients only | batch | in-process wall / CPU ms | threads | wall ms | slowest worker wall / CPU ms | main copy+sum ms | wall speed-up | idle estimate |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
];
const parallelThreads = threadList;
for (const threads of parallelThreads) {
  if (!only || only === 'ddpm') {
    const config = { model: recipeOf(new UNet2DModel(LATENT_UNET_CONFIG)), loss: ddpmLoss({ scheduler: {} }).recipe! };
    const task = { module: new URL('../src/training/trainer.ts', import.meta.url).href, export: 'createTrainingReplica', config };
    grads.push(await gradientTiming('latent UNet', task, createTrainingReplica, ddpmAll, 64, threads, null));
    console.log(grads.at(-1));
  }
  if (!only || only === 'vae') {
    const config = { model: recipeOf(new AutoencoderKL(DEFAULT_VAE_CONFIG)), loss: vaeLoss({ decoderLogScale: Math.log(0.1) }).recipe! };
    const task = { module: new URL('../src/training/trainer.ts', import.meta.url).href, export: 'createTrainingReplica', config };
    grads.push(await gradientTiming('VAE', task, createTrainingReplica, vaeAll, 32, threads, { beta: 1e-3 }));
    console.log(grads.at(-1));
  }
}
console.log(
  `\n${grads.join('\n')}\n\nload average after: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
