/**
 * The benchmark table of issue 7: for the default pixel UNet, latent UNet and VAE, training images/s
 * (1 and 2 worker threads) and sampling time per sample (DDPM-1000, DDIM-50, VAE decode) on the
 * wasm backend, FLOPs per image and the GFLOP/s achieved, and — where Debian's python3-torch is
 * installed — the same architecture and batch in PyTorch, measured in the same run.
 *
 *   pnpm --filter @ldm/cli bench            (or `pnpm bench` at the root, after the package benches)
 *   options: --quick (fewer steps), --full-ddpm (time pixel DDPM-1000 directly instead of from DDIM-50)
 */
import * as tf from '@tensorflow/tfjs-core';
import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Generator, initBackend } from '@ldm/backend';
import type { ImageDataset } from '@ldm/data';
import { trainDDPM, DDPMScheduler } from '@ldm/ddpm';
import { LATENT_UNET_CONFIG, PIXEL_UNET_CONFIG, UNet2DModel } from '@ldm/unet';
import { AutoencoderKL, DEFAULT_VAE_CONFIG, trainVAE } from '@ldm/vae';
import { DDPMPipeline, LatentDiffusionPipeline } from '@ldm/pipeline';
import type { Pipeline } from '@ldm/pipeline';
import { generateImages, priorImages } from '../src/jobs/samples';

const quick = process.argv.includes('--quick');
const fullDdpm = process.argv.includes('--full-ddpm');
const here = dirname(fileURLToPath(import.meta.url));
// Timed over steps 11–20 (metrics.jsonl has a record every 10 steps): the first steps warm up kernels in every worker thread.
const TRAIN_STEPS = 20;

interface Row {
  model: string;
  params: number;
  mflopPerImage: number;
  batch: number;
  trainImagesPerS: Record<string, number>;
  trainGflops: number;
  samplingMsPerSample: Record<string, number>;
  samplingNotes: string[];
  torch?: Record<string, unknown>;
}

function randomData(n: number, shape: [number, number, number], generator: Generator): ImageDataset {
  const size = shape[0] * shape[1] * shape[2];
  const images = generator.uniform(n * size).map((u) => Math.round(u * 255) / 127.5 - 1);
  return { images, shape: [n, ...shape], name: 'random' };
}

async function timeTrainingUnet(config: Record<string, unknown>, shape: [number, number, number], batch: number, threads: number): Promise<number> {
  const unet = new UNet2DModel(config, new Generator(1));
  const runDir = await mkdtemp(join(tmpdir(), 'bench-'));
  const r = await trainDDPM({ model: unet, data: randomData(batch * 2, shape, new Generator(2)), runDir, steps: TRAIN_STEPS, batchSize: batch, learningRate: 1e-4, seed: 0, checkpointEvery: 1e9, checkpointAtEnd: false, silent: true, threads, saveModel: async () => {}, loadModel: async () => {} } as never);
  r.ema.dispose();
  unet.dispose();
  return steadyRate(runDir, batch);
}

/** Images/s between the last two metrics.jsonl records (steps 10 … 20). */
async function steadyRate(runDir: string, batch: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const records = (await readFile(join(runDir, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { step: number; time: string });
  const a = records.at(-2)!;
  const b = records.at(-1)!;
  return ((b.step - a.step) * batch) / ((Date.parse(b.time) - Date.parse(a.time)) / 1000);
}

async function timeTrainingVae(config: Record<string, unknown>, batch: number, threads: number): Promise<number> {
  const vae = new AutoencoderKL(config, new Generator(1));
  const runDir = await mkdtemp(join(tmpdir(), 'bench-'));
  await trainVAE({ vae, data: randomData(batch * 2, [32, 32, 1], new Generator(2)), runDir, steps: TRAIN_STEPS, batchSize: batch, learningRate: 1e-4, klWeight: 1e-3, seed: 0, checkpointEvery: 1e9, checkpointAtEnd: false, silent: true, threads } as never);
  vae.dispose();
  return steadyRate(runDir, batch);
}

function msPerSample(run: () => void, count: number): number {
  run(); // warm-up
  const t = performance.now();
  run();
  return (performance.now() - t) / count;
}

function torchAvailable(): boolean {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function torchTiming(kind: 'unet' | 'vae', config: Record<string, unknown>, batch: number, threads: number): Promise<Record<string, unknown> | undefined> {
  const script = join(here, 'torch_models.py');
  const dir = await mkdtemp(join(tmpdir(), 'bench-torch-'));
  const configPath = join(dir, 'config.json');
  await writeFile(configPath, JSON.stringify(config));
  try {
    const out = execFileSync('/usr/bin/python3', [script, '--kind', kind, '--config', configPath, '--batch', String(batch), '--threads', String(threads), '--repeats', quick ? '2' : '3'], { encoding: 'utf8', timeout: 600_000 });
    return JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, unknown>;
  } catch (error) {
    return { error: (error as Error).message.split('\n')[0] };
  }
}

async function main(): Promise<void> {
  const backend = await initBackend({ backend: 'wasm' });
  const threadCounts = [1, 2];
  const rows: Row[] = [];
  const withTorch = torchAvailable();
  const schedulerConfig = new DDPMScheduler({ clipSample: false }).toConfig();
  const ddpmSamples = 16;

  const unets = [
    { model: 'latent UNet (8×8×4)', config: { ...LATENT_UNET_CONFIG }, shape: [8, 8, 4] as [number, number, number], batch: 64 },
    { model: 'pixel UNet (32×32×1)', config: { ...PIXEL_UNET_CONFIG }, shape: [32, 32, 1] as [number, number, number], batch: 32 },
  ];
  const vaeForDecode = new AutoencoderKL({ ...DEFAULT_VAE_CONFIG }, new Generator(1));
  for (const u of unets) {
    process.stderr.write(`bench: ${u.model}\n`);
    const unet = new UNet2DModel(u.config, new Generator(1));
    const row: Row = {
      model: u.model,
      params: unet.numParameters(),
      mflopPerImage: unet.forwardFlops(u.shape) / 1e6,
      batch: u.batch,
      trainImagesPerS: {},
      trainGflops: 0,
      samplingMsPerSample: {},
      samplingNotes: [],
    };
    for (const threads of threadCounts) row.trainImagesPerS[`${threads} thread${threads > 1 ? 's' : ''}`] = await timeTrainingUnet(u.config, u.shape, u.batch, threads);
    // Forward + backward ≈ 3 forward passes of FLOPs.
    row.trainGflops = (3 * row.mflopPerImage * Math.max(...Object.values(row.trainImagesPerS))) / 1000;
    const latent = u.shape[2] === 4;
    const pipeline: Pipeline = latent ? new LatentDiffusionPipeline({ vae: vaeForDecode, unet, schedulerConfig }) : new DDPMPipeline({ unet, schedulerConfig, sampleShape: u.shape });
    row.samplingMsPerSample['DDIM-50'] = msPerSample(() => generateImages(pipeline, { sampler: 'ddim', steps: 50, count: ddpmSamples, batchSize: ddpmSamples, seed: 0 }), ddpmSamples);
    if (latent || fullDdpm) {
      row.samplingMsPerSample['DDPM-1000'] = msPerSample(() => generateImages(pipeline, { sampler: 'ddpm', steps: quick ? 100 : 1000, count: ddpmSamples, batchSize: ddpmSamples, seed: 0 }), ddpmSamples) * (quick ? 10 : 1);
      if (quick) row.samplingNotes.push('DDPM-1000 from 100 DDPM steps × 10 (--quick)');
    } else {
      row.samplingMsPerSample['DDPM-1000'] = row.samplingMsPerSample['DDIM-50']! * 20;
      row.samplingNotes.push('pixel DDPM-1000 = DDIM-50 × 20 (run with --full-ddpm to time it directly)');
    }
    row.samplingNotes.push(`batch ${ddpmSamples}${latent ? ', VAE decode included' : ''}`);
    if (withTorch) {
      row.torch = {};
      for (const threads of threadCounts) row.torch[`${threads}`] = await torchTiming('unet', unet.toConfig(), u.batch, threads);
    }
    unet.dispose();
    rows.push(row);
  }
  {
    process.stderr.write('bench: VAE\n');
    const vae = vaeForDecode;
    const row: Row = {
      model: 'VAE (32×32×1 → 8×8×4)',
      params: vae.numParameters(),
      mflopPerImage: vae.forwardFlops([32, 32, 1]) / 1e6,
      batch: 32,
      trainImagesPerS: {},
      trainGflops: 0,
      samplingMsPerSample: {},
      samplingNotes: ['decode of z ~ N(0, I), batch 64'],
    };
    for (const threads of threadCounts) row.trainImagesPerS[`${threads} thread${threads > 1 ? 's' : ''}`] = await timeTrainingVae({ ...DEFAULT_VAE_CONFIG }, 32, threads);
    row.trainGflops = (3 * row.mflopPerImage * Math.max(...Object.values(row.trainImagesPerS))) / 1000;
    row.samplingMsPerSample['VAE decode'] = msPerSample(() => priorImages(vae, { latentShape: [8, 8, 4], count: 64, batchSize: 64, seed: 0 }), 64);
    if (withTorch) {
      row.torch = {};
      for (const threads of threadCounts) row.torch[`${threads}`] = await torchTiming('vae', vae.toConfig(), 32, threads);
    }
    rows.push(row);
  }
  vaeForDecode.dispose();

  const latentRow = rows[0]!;
  const pixelRow = rows[1]!;
  const ratios = {
    'latent DDPM-1000 / DDIM-50 (per sample; target ≥ 18)': latentRow.samplingMsPerSample['DDPM-1000']! / latentRow.samplingMsPerSample['DDIM-50']!,
    'pixel / latent, DDIM-50 per sample, decode included (target ≥ 8)': pixelRow.samplingMsPerSample['DDIM-50']! / latentRow.samplingMsPerSample['DDIM-50']!,
    'training speed-up, 2 threads / 1 (latent UNet; target ≥ 1.8)': latentRow.trainImagesPerS['2 threads']! / latentRow.trainImagesPerS['1 thread']!,
    'training speed-up, 2 threads / 1 (pixel UNet)': pixelRow.trainImagesPerS['2 threads']! / pixelRow.trainImagesPerS['1 thread']!,
    'training speed-up, 2 threads / 1 (VAE)': rows[2]!.trainImagesPerS['2 threads']! / rows[2]!.trainImagesPerS['1 thread']!,
  };

  const fmt = (v: number | undefined, d = 1) => (v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(d));
  const lines: string[] = [];
  lines.push(`backend ${backend.name}, tfjs ${tf.version_core}, node ${process.version}, ${new Date().toISOString()}${quick ? ' (--quick)' : ''}`);
  lines.push('');
  lines.push('| model | params | MFLOP/img | batch | train img/s 1 thr | train img/s 2 thr | train GFLOP/s | DDPM-1000 ms/sample | DDIM-50 ms/sample | decode ms/sample | PyTorch train img/s (1 / 2 thr) | ratio ours/PyTorch (2 thr) |');
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    const t1 = r.torch?.['1'] as { train_images_per_s?: number } | undefined;
    const t2 = r.torch?.['2'] as { train_images_per_s?: number } | undefined;
    const ours2 = r.trainImagesPerS['2 threads'];
    lines.push(
      `| ${r.model} | ${r.params.toLocaleString('en-US')} | ${fmt(r.mflopPerImage)} | ${r.batch} | ${fmt(r.trainImagesPerS['1 thread'])} | ${fmt(ours2)} | ${fmt(r.trainGflops)} | ${fmt(r.samplingMsPerSample['DDPM-1000'])} | ${fmt(r.samplingMsPerSample['DDIM-50'])} | ${fmt(r.samplingMsPerSample['VAE decode'], 2)} | ${r.torch ? `${fmt(t1?.train_images_per_s)} / ${fmt(t2?.train_images_per_s)}` : 'not installed'} | ${t2?.train_images_per_s ? fmt(ours2! / t2.train_images_per_s, 2) : '—'} |`,
    );
  }
  lines.push('');
  for (const [k, v] of Object.entries(ratios)) lines.push(`${k}: ${fmt(v, 2)}`);
  for (const r of rows) for (const n of r.samplingNotes) lines.push(`note (${r.model}): ${n}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  const resultsDir = join(here, 'results');
  await mkdir(resultsDir, { recursive: true });
  await writeFile(join(resultsDir, 'summary.json'), `${JSON.stringify({ date: new Date().toISOString(), backend: backend.name, quick, rows, ratios }, null, 2)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
