/**
 * Data-parallel training throughput: images/s of trainDDPM (LATENT_UNET_CONFIG, batch 64, 8×8×4 latents)
 * and trainVAE (DEFAULT_VAE_CONFIG, batch 32, 32×32×1 images) with threads = 1 (in-process) and
 * threads = 2..N (worker threads, one wasm backend each), on the wasm backend.
 *
 *   pnpm --filter @ldm/nn bench:parallel        (node --conditions=@ldm/source --import tsx bench/data-parallel.ts)
 *   STEPS=12 THREADS=1,2 node --conditions=@ldm/source --import tsx bench/data-parallel.ts
 *
 * The figure is runTrainingLoop's own images/s at the last logged step (worker start-up and the final
 * checkpoint excluded; the first step included). The sibling packages are imported from their sources:
 * @ldm/nn does not depend on them.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Generator, initBackend } from '@ldm/backend';
import type { ImageDataset } from '@ldm/data';
import { trainDDPM } from '../../ddpm/src/index';
import { LATENT_UNET_CONFIG, UNet2DModel } from '../../unet/src/index';
import { AutoencoderKL, DEFAULT_VAE_CONFIG, trainVAE } from '../../vae/src/index';

const steps = Number(process.env.STEPS ?? 10);
const threadList = (process.env.THREADS ?? '1,2').split(',').map(Number);
const only = process.env.ONLY; // 'ddpm' | 'vae'

function dataset(n: number, shape: [number, number, number], kind: 'latents' | 'images'): ImageDataset {
  const g = new Generator(7);
  const size = n * shape[0] * shape[1] * shape[2];
  const images = kind === 'latents' ? g.normal(size) : Float32Array.from(g.uniform(size), (u) => Math.round(u * 255) / 127.5 - 1);
  return { images, shape: [n, ...shape], name: kind };
}

async function lastImagesPerSecond(runDir: string): Promise<number> {
  const lines = (await readFile(join(runDir, 'metrics.jsonl'), 'utf8')).trim().split('\n');
  return (JSON.parse(lines.at(-1)!) as { imagesPerSecond: number }).imagesPerSecond;
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
    return await lastImagesPerSecond(runDir);
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
    return await lastImagesPerSecond(runDir);
  } finally {
    model.dispose();
    await rm(runDir, { recursive: true, force: true });
  }
}

await initBackend({ backend: 'wasm' });
const load = loadavg().map((l) => l.toFixed(2)).join(' ');
console.log(`data-parallel training, wasm backend, ${steps} steps a run, threads ${threadList.join('/')}; load average before: ${load}`);
const rows: string[] = ['| model | batch | threads | images/s | speed-up |', '| --- | --- | --- | --- | --- |'];
for (const [name, run, batch] of [
  ['latent UNet (LATENT_UNET_CONFIG)', ddpm, 64],
  ['VAE (DEFAULT_VAE_CONFIG)', vae, 32],
] as const) {
  if (only && !name.toLowerCase().includes(only)) continue;
  let base = NaN;
  for (const threads of threadList) {
    const ips = await run(threads);
    if (threads === 1) base = ips;
    const row = `| ${name} | ${batch} | ${threads} | ${ips.toFixed(1)} | ${Number.isNaN(base) ? '–' : `${(ips / base).toFixed(2)}×`} |`;
    rows.push(row);
    console.log(row);
  }
}
console.log(`\n${rows.join('\n')}\n\nload average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
