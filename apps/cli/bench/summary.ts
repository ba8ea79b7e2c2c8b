/**
 * Speed of the default models on each compute path, side by side with PyTorch in the same run.
 *
 * For the latent UNet (B64), the pixel UNet (B32) and the VAE (B32): training images/s (forward, loss,
 * backward, Adam: the step the PyTorch twin `torch_models.py` times) and inference images/s (one
 * forward pass: what every sampling step costs), on
 *   - native ×1 / ×2: the wasm backend with oneDNN kernels (@ldm/onednn), 1 and 2 threads inside each op;
 *   - wasm ×1: XNNPACK alone (what runs where the addon is not built);
 *   - PyTorch ×1 / ×2: Debian's python3-torch (oneDNN), the same architecture, batch and threads.
 * Rounds are interleaved (every path once per round, PyTorch included) and medians reported, so a
 * change in load hits every path alike; the CPU time other processes used during our timings is
 * measured from /proc/stat and printed: a figure taken on a busy machine says so.
 * Then the latent DDPM's whole training step as `ldm train` runs it (`trainDDPM`: loss with Min-SNR, clipping,
 * Adam, EMA), in-process on 1 and 2 oneDNN threads and data parallel on 2 workers of one thread each: how
 * the second core pays. Then sampling per sample on each native path: latent DDPM-1000 vs DDIM-50, latent
 * vs pixel DDIM-50.
 *
 * With `--sections profile` (not run by default): where each model's training step spends its time on the native
 * path on 1 and on 2 threads, kernel by kernel (kernel-profile.ts): what does not speed up on the second thread.
 *
 *   pnpm --filter @ldm/cli bench [--quick] [--sections models,loop,sampling,profile] [--models latent,pixel,vae] [--rounds N] [--results DIR]      (or `pnpm bench` at the root)
 */
import * as tf from '@tensorflow/tfjs-core';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Generator,
  initBackend,
  loadOneDnn,
  oneDnnBf16UnavailableReason,
  oneDnnInfo,
  oneDnnUnavailableReason,
  randn,
  setKernelPath,
  setOneDnnConvPrecision,
  setOneDnnThreads,
} from '@ldm/backend';
import { DDIMScheduler } from '@ldm/ddim';
import { DDPMScheduler, sample, trainDDPM } from '@ldm/ddpm';
import { Adam } from '@ldm/nn';
import { LATENT_UNET_CONFIG, PIXEL_UNET_CONFIG, UNet2DModel } from '@ldm/unet';
import { AutoencoderKL, DEFAULT_VAE_CONFIG } from '@ldm/vae';
import { DEFAULTS } from '../src/defaults';
import { cpuSeconds as machineCpuSeconds } from '../src/jobs/cpu-steal';
import { type KernelProfile, profileKernels } from './kernel-profile';

const quick = process.argv.includes('--quick');
const sectionsArg = process.argv.indexOf('--sections');
const sections = new Set(sectionsArg >= 0 ? (process.argv[sectionsArg + 1] ?? '').split(',') : ['models', 'loop', 'sampling']);
const modelsArg = process.argv.indexOf('--models');
/** `--models latent,pixel,vae`: which models the models section times (default all three). */
const models = modelsArg >= 0 ? (process.argv[modelsArg + 1] ?? '').split(',') : undefined;
/** `--rounds N`: interleaved rounds, each figure their median (default 3; 1 with --quick); more of them steady the figures on a noisy host. */
const roundsArg = process.argv.indexOf('--rounds');
const ROUNDS = roundsArg >= 0 ? Number(process.argv[roundsArg + 1]) : quick ? 1 : 3;
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) {
  process.stderr.write(`bench: --rounds takes a whole number ≥ 1, got '${process.argv[roundsArg + 1] ?? ''}'\n`);
  process.exit(2);
}
// Timed training steps per measurement, after WARMUP untimed ones: at least STEPS, more for a model whose step is short,
// so each measurement lasts 1.5–2 s of native ×1 time (8 latent-UNet steps, 0.7 s, spread its
// 2-thread rounds over 955–1,186 img/s).
const STEPS = quick ? 3 : 8;
const WARMUP = 3;
const here = dirname(fileURLToPath(import.meta.url));

type PathName = 'native ×1' | 'native bf16 ×1' | 'native ×2' | 'wasm ×1';
interface Measure {
  train: number[];
  forward: number[];
  /** images per CPU-second of this process (all threads): for one thread, robust to other load. */
  trainCpu: number[];
  forwardCpu: number[];
}

// ---------------------------------------------------------------------------------------------
// Load other processes put on the machine while we time: busy CPU from /proc/stat minus our own.

let otherCpuSeconds = 0;
let stolenSeconds = 0;
let timedSeconds = 0;
function timed<T>(fn: () => T): { value: T; seconds: number; cpuSeconds: number } {
  const machine0 = machineCpuSeconds();
  const own0 = process.cpuUsage();
  const t0 = performance.now();
  const value = fn();
  const seconds = (performance.now() - t0) / 1000;
  const machine1 = machineCpuSeconds();
  const own = process.cpuUsage(own0);
  const cpuSeconds = (own.user + own.system) / 1e6;
  if (machine0 && machine1) {
    otherCpuSeconds += Math.max(0, machine1.busy - machine0.busy - cpuSeconds);
    stolenSeconds += Math.max(0, machine1.steal - machine0.steal);
    timedSeconds += seconds;
  }
  return { value, seconds, cpuSeconds };
}

/** `timed` for async work (the training loop, whose workers' CPU time process.cpuUsage includes). */
async function timedAsync<T>(fn: () => Promise<T>): Promise<T> {
  const machine0 = machineCpuSeconds();
  const own0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const machine1 = machineCpuSeconds();
  const own = process.cpuUsage(own0);
  if (machine0 && machine1) {
    otherCpuSeconds += Math.max(0, machine1.busy - machine0.busy - (own.user + own.system) / 1e6);
    stolenSeconds += Math.max(0, machine1.steal - machine0.steal);
    timedSeconds += (performance.now() - t0) / 1000;
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Our side: the same train step as the twin (ε-loss on random data for a UNet, reconstruction MSE + KL for the VAE).

interface Subject {
  name: string;
  batch: number;
  params: number;
  mflop: number;
  /** Timed steps per measurement (every path and PyTorch alike). */
  steps: number;
  trainStep: () => void;
  forward: () => void;
  torch: { kind: 'unet' | 'vae'; config: Record<string, unknown> };
  dispose: () => void;
}

function unetSubject(name: string, config: Record<string, unknown>, shape: [number, number, number], batch: number, steps: number): Subject {
  const gen = new Generator(1);
  const model = new UNet2DModel(config, gen.split('init'));
  const params = model.trainableParameters();
  const opt = new Adam(params, { learningRate: 1e-4 });
  const x = randn([batch, ...shape], gen.split('x')) as tf.Tensor4D;
  const target = randn([batch, ...shape], gen.split('target'));
  const tgen = gen.split('t');
  const timesteps = () => Array.from(tgen.uniform(batch), (u) => Math.floor(u * 1000));
  const byVar = new Map([...params].map(([n, v]) => [v.name, n] as const));
  return {
    name,
    batch,
    steps,
    params: model.numParameters(),
    mflop: model.forwardFlops(shape) / 1e6,
    trainStep: () =>
      tf.tidy(() => {
        const t = timesteps();
        const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(tf.sub(model.forward(x, t), target))) as tf.Scalar, [...params.values()]);
        opt.applyGradients(new Map(Object.entries(grads).map(([k, g]) => [byVar.get(k)!, g] as const))).dataSync();
        value.dataSync();
      }),
    forward: () => tf.tidy(() => void model.forward(x, timesteps()).dataSync()),
    torch: { kind: 'unet', config: model.toConfig() },
    dispose: () => {
      opt.dispose();
      model.dispose();
      tf.dispose([x, target]);
    },
  };
}

function vaeSubject(batch: number, steps: number): Subject {
  const gen = new Generator(1);
  const vae = new AutoencoderKL({ ...DEFAULT_VAE_CONFIG }, gen.split('init'));
  const params = vae.trainableParameters();
  const opt = new Adam(params, { learningRate: 1e-4 });
  const x = tf.tidy(() => tf.sub(tf.mul(tf.tensor(gen.split('x').uniform(batch * 32 * 32), [batch, 32, 32, 1]), 2), 1)) as tf.Tensor4D;
  const noise = gen.split('z');
  const byVar = new Map([...params].map(([n, v]) => [v.name, n] as const));
  return {
    name: 'VAE (32×32×1 → 8×8×4)',
    batch,
    steps,
    params: vae.numParameters(),
    mflop: vae.forwardFlops([32, 32, 1]) / 1e6,
    trainStep: () =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => {
          const posterior = vae.encode(x);
          const z = posterior.sample(noise);
          const recon = tf.mean(tf.square(tf.sub(vae.decode(z), x)));
          const kl = tf.mean(posterior.kl());
          posterior.dispose();
          return tf.add(recon, kl) as tf.Scalar;
        }, [...params.values()]);
        opt.applyGradients(new Map(Object.entries(grads).map(([k, g]) => [byVar.get(k)!, g] as const))).dataSync();
        value.dataSync();
      }),
    forward: () =>
      tf.tidy(() => {
        const posterior = vae.encode(x);
        vae.decode(posterior.mean).dataSync();
        posterior.dispose();
      }),
    torch: { kind: 'vae', config: vae.toConfig() },
    dispose: () => {
      opt.dispose();
      vae.dispose();
      x.dispose();
    },
  };
}

function measure(subject: Subject, warm: boolean): { train: number; forward: number; trainCpu: number; forwardCpu: number } {
  if (warm) for (let i = 0; i < WARMUP; i++) subject.trainStep();
  const train = timed(() => {
    for (let i = 0; i < subject.steps; i++) subject.trainStep();
  });
  if (warm) subject.forward();
  const reps = subject.steps;
  const fwd = timed(() => {
    for (let i = 0; i < reps; i++) subject.forward();
  });
  return {
    train: (reps * subject.batch) / train.seconds,
    forward: (reps * subject.batch) / fwd.seconds,
    trainCpu: (reps * subject.batch) / train.cpuSeconds,
    forwardCpu: (reps * subject.batch) / fwd.cpuSeconds,
  };
}

function setPath(path: PathName): void {
  if (path === 'wasm ×1') {
    setKernelPath('wasm');
    return;
  }
  setKernelPath('onednn');
  setOneDnnThreads(path === 'native ×2' ? 2 : 1);
  setOneDnnConvPrecision(path === 'native bf16 ×1' ? 'bf16' : 'f32');
}

// ---------------------------------------------------------------------------------------------
// PyTorch side: the twin in a subprocess, timed in the same rounds.

let torchMissing: string | undefined;
const diffusersRunnerPath = join(here, '../../../../shared/tools/diffusers/run.sh');
const diffusersRunner = process.env.DIFFUSERS_GIT && existsSync(diffusersRunnerPath) ? diffusersRunnerPath : undefined;
function torchAvailable(): boolean {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' });
    return true;
  } catch {
    torchMissing = 'python3-torch is not installed (apt-get install python3-torch)';
    return false;
  }
}

async function torchMeasure(
  subject: Subject,
  threads: number,
  bf16 = false,
): Promise<{ train: number; forward: number; trainCpu: number; forwardCpu: number } | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-torch-'));
  const configPath = join(dir, 'config.json');
  await writeFile(configPath, JSON.stringify(subject.torch.config));
  try {
    const args = [
      join(here, 'torch_models.py'),
      '--kind',
      subject.torch.kind,
      '--config',
      configPath,
      '--batch',
      String(subject.batch),
      '--threads',
      String(threads),
      '--repeats',
      String(subject.steps),
      ...(bf16 ? ['--bf16'] : []),
    ];
    // diffusers' own classes where it can run offline (DIFFUSERS_GIT + ../shared/tools/diffusers), else the twin.
    const [cmd, cmdArgs] = diffusersRunner ? [diffusersRunner, [...args, '--impl', 'diffusers']] : ['/usr/bin/python3', args];
    const out = execFileSync(cmd, cmdArgs, { encoding: 'utf8', timeout: 600_000, env: { ...process.env, OMP_NUM_THREADS: String(threads) } });
    const r = JSON.parse(out.trim().split('\n').at(-1)!) as Record<
      'train_images_per_s' | 'forward_images_per_s' | 'train_images_per_cpu_s' | 'forward_images_per_cpu_s',
      number
    >;
    return { train: r.train_images_per_s, forward: r.forward_images_per_s, trainCpu: r.train_images_per_cpu_s, forwardCpu: r.forward_images_per_cpu_s };
  } catch (error) {
    torchMissing = `the PyTorch twin failed: ${(error as Error).message.split('\n')[0]}`;
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------

function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** ms per sample of a sampler on the active path: the UNet's evaluations plus the VAE decode for latents. */
function samplingMs(
  unet: UNet2DModel,
  vae: AutoencoderKL | undefined,
  shape: [number, number, number],
  sampler: 'ddpm' | 'ddim',
  steps: number,
  count: number,
): number {
  const run = () =>
    tf.tidy(() => {
      const scheduler = sampler === 'ddpm' ? new DDPMScheduler({ clipSample: false }) : new DDIMScheduler({ clipSample: false });
      scheduler.setTimesteps(steps);
      const x0 = sample({ denoiser: (x, t) => unet.forward(x as tf.Tensor4D, t), scheduler, shape: [count, ...shape], seed: 0 });
      (vae ? vae.decodeLatents(x0 as tf.Tensor4D) : x0).dataSync();
    });
  run();
  return (timed(run).seconds * 1000) / count;
}

type LoopPath = 'in-process ×1' | 'in-process ×2' | '2 workers ×1';

/**
 * Training images/s of `trainDDPM` on the latent UNet: the steps after the first 10 (the worker start-up,
 * kernel caches and the first checkpoint stay out), timed from the run's metrics.jsonl.
 */
async function trainingLoopImagesPerSecond(path: LoopPath, batchSize: number): Promise<number> {
  setKernelPath('onednn');
  setOneDnnThreads(path === 'in-process ×2' ? 2 : 1);
  const runDir = await mkdtemp(join(tmpdir(), 'bench-loop-'));
  const gen = new Generator(3);
  const model = new UNet2DModel({ ...LATENT_UNET_CONFIG }, gen.split('init'));
  const n = 2048;
  const data = { name: 'bench-latents', images: gen.split('data').normal(n * 8 * 8 * 4), shape: [n, 8, 8, 4] as [number, number, number, number] };
  const steps = quick ? 20 : 10 + 3 * STEPS;
  try {
    await timedAsync(() =>
      trainDDPM({
        model,
        data,
        runDir,
        steps,
        batchSize,
        learningRate: 1e-3,
        warmupSteps: 5,
        minSnrGamma: 5,
        maxGradNorm: 1,
        seed: 0,
        checkpointEvery: 10_000,
        saveModel: async () => {},
        loadModel: async () => {},
        threads: path === '2 workers ×1' ? 2 : 1,
        silent: true,
      }),
    );
    const rows = (await readFile(join(runDir, 'metrics.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { step: number; time: string });
    const from = rows.find((r) => r.step === 10)!;
    const to = rows.at(-1)!;
    return ((to.step - from.step) * batchSize) / ((Date.parse(to.time) - Date.parse(from.time)) / 1000);
  } finally {
    model.dispose();
    await rm(runDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const native = await loadOneDnn();
  await initBackend({ backend: native ? 'native' : 'wasm' });
  // --precision bf16 where the CPU has bfloat16 dot products, against PyTorch's CPU autocast to bfloat16.
  const bf16 = native && oneDnnBf16UnavailableReason() === null;
  const paths: PathName[] = native ? ['native ×1', ...(bf16 ? (['native bf16 ×1'] as const) : []), 'native ×2', 'wasm ×1'] : ['wasm ×1'];
  const withTorch = torchAvailable();
  const allSubjects = {
    // Steps: 1.5–2 s of native ×1 training each (85, 250 and 140 ms a step).
    latent: () => unetSubject('latent UNet (8×8×4)', { ...LATENT_UNET_CONFIG }, [8, 8, 4], 64, quick ? STEPS : 20),
    pixel: () => unetSubject('pixel UNet (32×32×1)', { ...PIXEL_UNET_CONFIG }, [32, 32, 1], 32, STEPS),
    vae: () => vaeSubject(32, quick ? STEPS : 12),
  };
  const subjects = Object.entries(allSubjects)
    .filter(([key]) => models === undefined || models.includes(key))
    .map(([, make]) => make);
  const load0 = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
  const results: { name: string; batch: number; steps: number; params: number; mflop: number; rows: Record<string, Measure> }[] = [];
  for (const make of sections.has('models') ? subjects : []) {
    const subject = make();
    process.stderr.write(`bench: ${subject.name}\n`);
    const rows: Record<string, Measure> = {};
    const torchRuns = [
      { name: 'PyTorch ×1', threads: 1, bf16: false },
      ...(bf16 ? [{ name: 'PyTorch bf16 ×1', threads: 1, bf16: true }] : []),
      { name: 'PyTorch ×2', threads: 2, bf16: false },
    ];
    for (const p of [...paths, ...torchRuns.map((t) => t.name)]) rows[p] = { train: [], forward: [], trainCpu: [], forwardCpu: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const path of paths) {
        setPath(path);
        const m = measure(subject, round === 0);
        for (const k of ['train', 'forward', 'trainCpu', 'forwardCpu'] as const) rows[path]![k].push(m[k]);
        process.stderr.write(`  round ${round + 1} ${path}: train ${m.train.toFixed(1)} img/s, forward ${m.forward.toFixed(1)} img/s\n`);
      }
      if (withTorch) {
        for (const run of torchRuns) {
          const m = await torchMeasure(subject, run.threads, run.bf16);
          if (!m) continue;
          for (const k of ['train', 'forward', 'trainCpu', 'forwardCpu'] as const) rows[run.name]![k].push(m[k]);
          process.stderr.write(`  round ${round + 1} ${run.name}: train ${m.train.toFixed(1)} img/s, forward ${m.forward.toFixed(1)} img/s\n`);
        }
      }
    }
    results.push({ name: subject.name, batch: subject.batch, steps: subject.steps, params: subject.params, mflop: subject.mflop, rows });
    subject.dispose();
  }

  // The training loop as `ldm train` runs it: does the second core pay inside each op or as a second worker?
  const loopPaths: LoopPath[] = ['in-process ×1', 'in-process ×2', '2 workers ×1'];
  const loop: Record<string, number[]> = {};
  if (native && sections.has('loop')) {
    for (let round = 0; round < ROUNDS; round++) {
      for (const batch of [64, 128]) {
        for (const path of loopPaths) {
          const v = await trainingLoopImagesPerSecond(path, batch);
          loop[`${batch} ${path}`] = [...(loop[`${batch} ${path}`] ?? []), v];
          process.stderr.write(`  round ${round + 1} training loop B${batch} ${path}: ${v.toFixed(1)} img/s\n`);
        }
      }
    }
  }

  // Where each model's training step goes, kernel by kernel, on 1 and on 2 threads: what does not speed up is
  // what keeps 2 threads from 2×.
  const profiles: { name: string; batch: number; one: KernelProfile; two: KernelProfile }[] = [];
  if (native && sections.has('profile')) {
    process.stderr.write('bench: kernel profile\n');
    for (const make of subjects) {
      const subject = make();
      const at = (path: PathName) => {
        setPath(path);
        for (let i = 0; i < WARMUP; i++) subject.trainStep();
        return profileKernels(subject.trainStep, quick ? 3 : 20);
      };
      profiles.push({ name: subject.name, batch: subject.batch, one: at('native ×1'), two: at('native ×2') });
      subject.dispose();
    }
  }

  // Sampling, on each native path (or wasm).
  // `ldm sample`'s batch: per-sample time as a user meets it (the latent UNet's kernels are small, so batching pays more there).
  const count = DEFAULTS.sample.batchSize;
  const gen = new Generator(2);
  const latentUnet = new UNet2DModel({ ...LATENT_UNET_CONFIG }, gen.split('l'));
  // `ldm demo` trains the latent UNet without self-attention (DEFAULTS.demo.latentUnet): its samples are timed too.
  const demoLatentUnet = new UNet2DModel({ ...LATENT_UNET_CONFIG, ...DEFAULTS.demo.latentUnet }, gen.split('d'));
  const pixelUnet = new UNet2DModel({ ...PIXEL_UNET_CONFIG }, gen.split('p'));
  const vae = new AutoencoderKL({ ...DEFAULT_VAE_CONFIG }, gen.split('v'));
  process.stderr.write('bench: sampling\n');
  const samplingPaths: PathName[] = native ? ['native ×1', 'native ×2'] : ['wasm ×1'];
  const samplingByPath: Record<string, Record<string, number>> = {};
  for (const path of sections.has('sampling') ? samplingPaths : []) {
    setPath(path);
    samplingByPath[path] = {
      'latent DDIM-50 (decode included)': samplingMs(latentUnet, vae, [8, 8, 4], 'ddim', 50, count),
      'latent DDPM-1000 (decode included)': quick ? Number.NaN : samplingMs(latentUnet, vae, [8, 8, 4], 'ddpm', 1000, count),
      'pixel DDIM-50': samplingMs(pixelUnet, undefined, [32, 32, 1], 'ddim', 50, count),
      "latent DDIM-50, the demo's UNet (decode included)": samplingMs(demoLatentUnet, vae, [8, 8, 4], 'ddim', 50, count),
    };
  }
  // The arithmetic each sample needs: 50 UNet evaluations (and one decode for latents). At equal GFLOP/s the
  // pixel / latent time ratio would be this FLOP ratio, so it is the ceiling kernels alone can move it to.
  const decodeFlops = vae.decoder.flops(8, 8).flops + (vae.postQuantConv?.flops(8, 8) ?? 0);
  const samplingFlops = {
    latent: 50 * latentUnet.forwardFlops([8, 8, 4]) + decodeFlops,
    demo: 50 * demoLatentUnet.forwardFlops([8, 8, 4]) + decodeFlops,
    pixel: 50 * pixelUnet.forwardFlops([32, 32, 1]),
  };
  tf.dispose([latentUnet, demoLatentUnet, pixelUnet, vae].flatMap((m) => [...m.trainableParameters().values()]));

  // ------------------------------------------------------------------- the table
  const fmt = (v: number | undefined, d = 1) => (v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(d));
  const lines: string[] = [];
  const info = oneDnnInfo();
  lines.push(
    `tfjs ${tf.version_core}, node ${process.version}, ${new Date().toISOString()}${quick ? ' (--quick)' : ''}, ${ROUNDS} interleaved round(s), ${results.map((r) => `${r.steps} timed steps (${r.name.split(' (')[0]})`).join(', ') || 'no model rounds'}`,
  );
  lines.push(native ? `native: oneDNN ${info!.onednn} (${info!.isa})` : `native: not available (${oneDnnUnavailableReason()})`);
  lines.push(
    withTorch
      ? `PyTorch: ${diffusersRunner ? "diffusers 0.38's own UNet2DModel / AutoencoderKL" : 'the twin torch_models.py (set DIFFUSERS_GIT to time diffusers itself)'}`
      : `PyTorch: ${torchMissing}`,
  );
  const otherCores = timedSeconds > 0 ? otherCpuSeconds / timedSeconds : Number.NaN;
  const stolenCores = timedSeconds > 0 ? stolenSeconds / timedSeconds : Number.NaN;
  const busy = otherCores > 0.15 || stolenCores > 0.05;
  lines.push(
    `machine: load average ${load0} at the start; other processes used ${fmt(otherCores, 2)} cores and the hypervisor took ${fmt(stolenCores, 2)} (CPU steal) on average while we timed${Number.isNaN(otherCores) ? ' (not measured)' : busy ? ' — NOT IDLE: absolute figures are low, compare the ratios within a round' : ' (idle)'}`,
  );
  lines.push('');
  lines.push('Wall-clock columns need an idle machine. The per-CPU-second columns (images per second of CPU time of the whole process,');
  lines.push('all its threads) compare one-thread paths fairly even under load: that is the per-core figure.');
  lines.push('');
  lines.push(
    '| model | batch | path | train img/s | × PyTorch | inference img/s | × PyTorch | train img/CPU-s | × PyTorch | inference img/CPU-s | × PyTorch |',
  );
  lines.push('| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    const med = (p: string, k: keyof Measure) => median(r.rows[p]?.[k] ?? []);
    for (const p of Object.keys(r.rows)) {
      if (r.rows[p]!.train.length === 0) continue;
      const threads = p.endsWith('×2') ? 2 : 1;
      // Each path against PyTorch at the same threads and precision (bf16: its CPU autocast).
      const peer = p.startsWith('PyTorch') ? undefined : p.includes('bf16') ? 'PyTorch bf16 ×1' : `PyTorch ×${threads}`;
      const ratio = (k: keyof Measure) => (peer ? fmt(med(p, k) / med(peer, k), 2) : '');
      lines.push(
        `| ${r.name} | ${r.batch} | ${p} | ${fmt(med(p, 'train'))} | ${ratio('train')} | ${fmt(med(p, 'forward'))} | ${ratio('forward')} | ${fmt(med(p, 'trainCpu'))} | ${ratio('trainCpu')} | ${fmt(med(p, 'forwardCpu'))} | ${ratio('forwardCpu')} |`,
      );
    }
  }
  lines.push('');
  const latent = results[0];
  if (native) {
    for (const r of results) {
      lines.push(
        `${r.name}: native ×2 / ×1 training ${fmt(median(r.rows['native ×2']!.train) / median(r.rows['native ×1']!.train), 2)} (target ≥ 1.8), native ×1 / wasm ×1 training ${fmt(median(r.rows['native ×1']!.train) / median(r.rows['wasm ×1']!.train), 2)}` +
          (bf16 ? `, native bf16 ×1 / native ×1 training ${fmt(median(r.rows['native bf16 ×1']!.train) / median(r.rows['native ×1']!.train), 2)}` : ''),
      );
    }
  }
  if (native && sections.has('loop')) {
    lines.push('');
    lines.push(
      "The latent DDPM's training loop (`trainDDPM` as `ldm train` runs it: Min-SNR loss, clipping, Adam, EMA), images/s; `ldm train --threads 2` runs the second column on native, the third on wasm:",
    );
    lines.push('');
    lines.push('| batch | in-process, 1 oneDNN thread | in-process, 2 oneDNN threads | 2 data-parallel workers × 1 thread | 2 threads / 1 | 2 workers / 1 |');
    lines.push('| ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const batch of [64, 128]) {
      const m = (p: LoopPath) => median(loop[`${batch} ${p}`] ?? []);
      lines.push(
        `| ${batch} | ${fmt(m('in-process ×1'))} | ${fmt(m('in-process ×2'))} | ${fmt(m('2 workers ×1'))} | ${fmt(m('in-process ×2') / m('in-process ×1'), 2)} (target ≥ 1.8) | ${fmt(m('2 workers ×1') / m('in-process ×1'), 2)} |`,
      );
    }
  }
  for (const { name, batch, one, two } of profiles) {
    lines.push('');
    lines.push(
      `${name}, training step at batch ${batch}: ${fmt(one.stepMs)} ms on 1 thread, ${fmt(two.stepMs)} on 2 (${fmt(one.stepMs / two.stepMs, 2)}×); per kernel, the most time on 2 threads first:`,
    );
    lines.push('');
    lines.push('| kernel | calls / step | ms, 1 thread | ms, 2 threads | 1 / 2 |');
    lines.push('| --- | ---: | ---: | ---: | ---: |');
    const onOne = new Map(one.kernels.map((k) => [k.name, k.ms] as const));
    for (const k of two.kernels.slice(0, 15)) {
      const ms1 = onOne.get(k.name) ?? Number.NaN;
      lines.push(`| ${k.name} | ${fmt(k.calls, 0)} | ${fmt(ms1, 2)} | ${fmt(k.ms, 2)} | ${fmt(ms1 / k.ms, 2)} |`);
    }
    const rest = two.kernels.slice(15);
    const restOne = rest.reduce((sum, k) => sum + (onOne.get(k.name) ?? 0), 0);
    const restTwo = rest.reduce((sum, k) => sum + k.ms, 0);
    lines.push(
      `| ${rest.length} others | ${fmt(
        rest.reduce((sum, k) => sum + k.calls, 0),
        0,
      )} | ${fmt(restOne, 2)} | ${fmt(restTwo, 2)} | ${fmt(restOne / restTwo, 2)} |`,
    );
    lines.push(`| outside kernels (tfjs' engine, our JS) | | ${fmt(one.outsideMs, 2)} | ${fmt(two.outsideMs, 2)} | ${fmt(one.outsideMs / two.outsideMs, 2)} |`);
  }
  for (const [path, sampling] of Object.entries(samplingByPath)) {
    lines.push('');
    lines.push(`sampling on ${path}, ms per sample (batch ${count}):`);
    for (const [k, v] of Object.entries(sampling)) lines.push(`  ${k}: ${fmt(v, 2)}`);
    lines.push(
      `  DDPM-1000 / DDIM-50 (latent; target ≥ 18): ${fmt(sampling['latent DDPM-1000 (decode included)']! / sampling['latent DDIM-50 (decode included)']!, 1)}`,
    );
    lines.push(
      `  pixel / latent DDIM-50 (target ≥ 8): ${fmt(sampling['pixel DDIM-50']! / sampling['latent DDIM-50 (decode included)']!, 1)}; their FLOP ratio, the ratio at equal GFLOP/s: ${fmt(samplingFlops.pixel / samplingFlops.latent, 1)}`,
    );
    lines.push(
      `  pixel / latent DDIM-50 with the demo's latent UNet (no self-attention): ${fmt(sampling['pixel DDIM-50']! / sampling["latent DDIM-50, the demo's UNet (decode included)"]!, 1)}; FLOP ratio ${fmt(samplingFlops.pixel / samplingFlops.demo, 1)}`,
    );
    lines.push(
      `  GFLOP/s (per sample FLOPs / time): latent ${fmt(samplingFlops.latent / sampling['latent DDIM-50 (decode included)']! / 1e6, 0)}, demo's latent ${fmt(samplingFlops.demo / sampling["latent DDIM-50, the demo's UNet (decode included)"]! / 1e6, 0)}, pixel ${fmt(samplingFlops.pixel / sampling['pixel DDIM-50']! / 1e6, 0)}`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  const resultsArg = process.argv.indexOf('--results');
  const resultsDir = resultsArg >= 0 ? process.argv[resultsArg + 1]! : join(here, 'results');
  await mkdir(resultsDir, { recursive: true });
  await writeFile(
    join(resultsDir, 'summary.json'),
    `${JSON.stringify({ date: new Date().toISOString(), quick, native: info, otherCores, stolenCores, results, trainingLoop: loop, sampling: samplingByPath, kernelProfiles: profiles, latentParams: latent?.params }, null, 2)}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
