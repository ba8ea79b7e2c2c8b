import * as tf from '@tensorflow/tfjs-core';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Generator } from '@ldm/backend';
import { readNpy, writeImageGrid } from '@ldm/data';
import { loadMnistClassifier, measurePeakMemory, sampleQuality, defaultClassifierDir } from '@ldm/eval';
import type { MnistClassifier } from '@ldm/eval';
import { UNet2DModel } from '@ldm/unet';
import { describeMachine, writeReport } from '@ldm/report';
import type { ComparisonResults, MethodResult, ScatterPanel } from '@ldm/report';
import { readToyPanel } from './toy2d-job';
import type { CompareArgs } from '../options/compare';
import { DEFAULTS } from '../defaults';
import { startBackend } from './common';
import { loadSplit, pickRandomImages } from './data';
import { DDPMPipeline, latentShapeOf, loadPipeline } from '@ldm/pipeline';
import type { Pipeline } from '@ldm/pipeline';
import { generateImages, loadVae, priorImages } from './samples';
import { startBackgroundCommand } from './background-command';
import { commandLine } from '../options/command-line';
import { globalOptions } from '../options/global';
import { sampleOptions } from '../options/sample';
import type { SampleArgs } from '../options/sample';
import { fitDiagonalGmm, fitPcaGaussian, sampleDiagonalGmm, samplePcaGaussian } from '@ldm/eval';

type Images = { data: Float32Array; shape: [number, number, number, number] };

/** One way to produce samples: how to describe it, and how to make `count` of them. */
interface MethodSpec {
  name: string;
  label: string;
  space: 'pixel' | 'latent';
  sampler: MethodResult['sampler'];
  steps: number | null;
  eta: number | null;
  /** Network evaluations per sample (UNet calls + one decoder pass for latent methods). */
  nfe: number;
  run: (count: number, seed: number) => Images;
  /** Quality is not measured (e.g. an untrained network timed for speed only). */
  speedOnly?: string;
  /**
   * Time a cheaper run and scale it: DDPM-1000 is timed as DDPM-100 × 10 (the same UNet call per step, so the same
   * time per step), which keeps a second 1,000-step run out of the report's budget.
   */
  timing?: { run: (count: number, seed: number) => Images; scale: number; note: string };
  /**
   * The same samples as `run` makes, made by `ldm sample` in a child process instead (the model folder and the sampler's
   * settings), and a short run of the same batch for the peak memory (it does not grow with the steps).
   */
  child?: {
    sample: Omit<SampleArgs, 'out' | 'n' | 'seed' | 'backend' | 'precision' | 'verbose' | 'quiet'>;
    memoryRun: (count: number, seed: number) => Images;
  };
}

const TIMING_BATCH = 25;

/**
 * Issue 14's anchor: the project's default VAE and latent UNet trained with diffusers 0.38 / PyTorch 1.13 on
 * one thread of this kind of machine for 15 minutes, scored with this FID on 1,000 DDIM-50 samples.
 */
const FID_REFERENCES = [
  {
    label: 'PyTorch/diffusers, same models, 300-step VAE + latent DDPM 7,548 steps × 64 with Min-SNR-γ 5 (15 min, 1 core), DDIM-50',
    fid: 159,
    fidFloor: 102,
    source: 'issue 14, ../shared/FACTS.md',
  },
  { label: 'PyTorch/diffusers, same models and time, no Min-SNR (6,471 DDPM steps × 64), DDIM-50', fid: 183, fidFloor: 102, source: 'issue 14' },
];

/**
 * `ldm compare`: every sampler against the same held-out digits — quality (FID over the project's
 * classifier with its real-vs-real floor, precision/recall, class shares) and speed (median wall
 * time per sample over repeats at a fixed batch, peak tensor memory) — written as an HTML report.
 */
export async function compareJob(args: CompareArgs): Promise<ComparisonResults> {
  // A panel from `ldm toy2d` is checked first: a wrong file fails now, not after minutes of sampling.
  let toyPanel: ScatterPanel | undefined = args.toyPanel === undefined ? undefined : readToyPanel(args.toyPanel, { seed: args.seed, quick: args.quick });
  const backend = await startBackend(args);
  const steps = args.steps;
  const vae = await loadVae(args.vae);
  const latent = await loadPipeline(args.latent);
  const pixel: Pipeline | undefined = args.pixel ? await loadPipeline(args.pixel) : undefined;
  const generatorVae = args.generatorVae ? await loadVae(args.generatorVae, false) : undefined;
  const { train, heldOut } = await loadSplit(DEFAULTS.data, DEFAULTS.heldOut, args.seed, args.limit);
  const [, h, w, c] = train.shape;
  const latentShape = latentShapeOf(vae, [h, w, c]);
  const notes: string[] = [];
  let untrainedPixel: Pipeline | undefined;

  let classifier: MnistClassifier | undefined;
  try {
    classifier = await loadMnistClassifier();
  } catch (error) {
    notes.push(`FID not computed: the classifier in ${defaultClassifierDir()} could not be loaded (${(error as Error).message})`);
  }

  // Baselines, fitted once.
  const log = (m: string) => process.stderr.write(`${m}\n`);
  log('compare: fitting baselines (pixel PCA Gaussian, Gaussian mixture on the VAE latents)');
  const fitGenerator = new Generator(args.seed).split('baselines');
  const pca = fitPcaGaussian(train.images, train.shape[0], h * w * c, 32, fitGenerator);
  const trainLatents = encodeMeans(vae, train);
  const gmm = fitDiagonalGmm(trainLatents.data, trainLatents.n, trainLatents.dim, { components: 10, iterations: 30, generator: fitGenerator });

  const specs: MethodSpec[] = [
    {
      name: 'pca-gaussian',
      label: 'Gaussian on pixels (PCA, 32 components)',
      space: 'pixel',
      sampler: 'baseline',
      steps: null,
      eta: null,
      nfe: 0,
      run: (count, seed) => ({ data: samplePcaGaussian(pca, count, new Generator(seed).split('pca')), shape: [count, h, w, c] }),
    },
    {
      // Not a generator: the FID of a perfect copy of the training set. The classifier was trained on these digits, so
      // it sits above the real-vs-real floor (which compares held-out digits with held-out digits).
      name: 'training-digits',
      label: 'The training digits themselves (what a generator that copied its training set would score)',
      space: 'pixel',
      sampler: 'baseline',
      steps: null,
      eta: null,
      nfe: 0,
      run: (count, seed) => pickRandomImages(train, count, new Generator(seed).split('training-digits')),
    },
    {
      name: 'vae-gmm',
      label: 'VAE decode of a 10-component mixture fitted to latents',
      space: 'latent',
      sampler: 'baseline',
      steps: 1,
      eta: null,
      nfe: 1,
      run: (count, seed) => decodeLatents(vae, sampleDiagonalGmm(gmm, count, new Generator(seed).split('gmm')), count, latentShape),
    },
    {
      name: 'vae-1',
      label: 'VAE single-step decode of z ~ N(0, I)',
      space: 'latent',
      sampler: 'vae',
      steps: 1,
      eta: null,
      nfe: 1,
      run: (count, seed) => priorImages(vae, { latentShape, count, batchSize: Math.min(count, 100), seed }),
    },
  ];
  if (generatorVae) {
    // The fair single-step baseline: a VAE trained for generation (β = 1, the primer's ELBO), not for diffusion.
    specs.push({
      name: 'vae-generator-1',
      label: 'VAE trained as a generator (β = 1), single-step decode of z ~ N(0, I)',
      space: 'latent',
      sampler: 'vae',
      steps: 1,
      eta: null,
      nfe: 1,
      run: (count, seed) => priorImages(generatorVae, { latentShape: latentShapeOf(generatorVae, [h, w, c]), count, batchSize: Math.min(count, 100), seed }),
    });
  }
  specs.push(ddpmSpec(latent, 'latent', 'ddpm', args.quick ? 100 : 1000, 1, args.latent));
  for (const s of steps) specs.push(ddpmSpec(latent, 'latent', 'ddim', s, 0));
  for (const s of steps.filter((s) => [10, 50].includes(s) || (args.quick && s === 20))) specs.push(ddpmSpec(latent, 'latent', 'ddim', s, 1));
  if (pixel) {
    specs.push(ddpmSpec(pixel, 'pixel', 'ddpm', args.quick ? 100 : 1000, 1, args.pixel));
    for (const s of steps) specs.push(ddpmSpec(pixel, 'pixel', 'ddim', s, 0));
  } else {
    // No pixel model given: time an untrained pixel UNet of the default size (speed does not depend on the weights).
    const { PIXEL_UNET_CONFIG } = await import('@ldm/unet');
    const unet = new UNet2DModel({ ...PIXEL_UNET_CONFIG, inChannels: c, outChannels: c, sampleSize: h }, new Generator(1));
    const untrained = new DDPMPipeline({ unet, schedulerConfig: latent.schedulerConfig, sampleShape: [h, w, c] });
    const why = 'speed only: an untrained pixel UNet of the default size (no --pixel model given)';
    specs.push({ ...ddpmSpec(untrained, 'pixel', 'ddim', 50, 0), speedOnly: why });
    notes.push(
      `pixel rows time an untrained pixel UNet (${unet.numParameters().toLocaleString('en-US')} parameters) for speed; pixel DDPM-1000 time is DDIM-50's per-step time × 1000`,
    );
    untrainedPixel = untrained;
  }

  const gridsDir = join(args.out, 'grid-sources');
  await mkdir(gridsDir, { recursive: true });
  const methods: MethodResult[] = [];
  const grids: Record<string, string> = {};
  const realForFid = { images: heldOut.images, shape: heldOut.shape };
  // 1. Every method's samples. The DDPM rows (1,000 UNet calls a sample, the report's slowest) are made by `ldm sample`
  // in a child process on the second core while this one works through the other rows; the native kernels run one
  // thread per process, so that is how the report uses two cores.
  const inChild = availableParallelism() >= 2 ? specs.filter((s) => s.child) : [];
  const childDir = inChild.length > 0 ? await mkdtemp(join(tmpdir(), 'ldm-compare-')) : undefined;
  const fromChild = new Map<MethodSpec, Promise<Images | undefined>>();
  let queue: Promise<unknown> = Promise.resolve();
  for (const spec of inChild) {
    // One child at a time (the second core), in the order of the rows.
    const made = queue.then(() => sampleInChild(spec, childDir!, args, log));
    fromChild.set(spec, made);
    queue = made;
  }
  const produced = new Map<MethodSpec, { images: Images; peakTensorBytes: number; firstRunMs: number }>();
  const produce = async (spec: MethodSpec) => {
    const t0 = performance.now();
    const count = spec.speedOnly ? Math.min(args.n, TIMING_BATCH) : args.n;
    const made = await fromChild.get(spec);
    if (made) {
      const memory = await measurePeakMemory(() => spec.child!.memoryRun(count, args.seed));
      // A row worth a child is a slow one: one timing repeat unless it has a cheaper timing run.
      produced.set(spec, { images: made, peakTensorBytes: memory.peakTensorBytes, firstRunMs: Number.POSITIVE_INFINITY });
      return;
    }
    const probe = await measurePeakMemory(() => spec.run(count, args.seed));
    produced.set(spec, { images: probe.result, peakTensorBytes: probe.peakTensorBytes, firstRunMs: performance.now() - t0 });
  };
  try {
    for (const spec of specs) if (!fromChild.has(spec)) await produce(spec);
    for (const spec of specs) if (fromChild.has(spec)) await produce(spec);
  } finally {
    await queue.catch(() => {});
    if (childDir) await rm(childDir, { recursive: true, force: true });
  }
  // 2. Speed, quality and grids, row by row: the timing runs come after the child has finished, on an otherwise idle machine.
  for (const spec of specs) {
    const count = spec.speedOnly ? Math.min(args.n, TIMING_BATCH) : args.n;
    const { images, peakTensorBytes, firstRunMs } = produced.get(spec)!;
    // Time per sample at a fixed batch, median of repeats (one repeat for the slow ones).
    const timingCount = Math.min(TIMING_BATCH, count);
    const repeats = firstRunMs > 30_000 && !spec.timing ? 1 : args.repeats;
    const times: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const t = performance.now();
      (spec.timing?.run ?? spec.run)(timingCount, args.seed + 1 + r);
      times.push(((performance.now() - t) / timingCount) * (spec.timing?.scale ?? 1));
    }
    times.sort((a, b) => a - b);
    const msPerSample = times[times.length >> 1]!;
    let quality: ReturnType<typeof sampleQuality> | undefined;
    if (classifier && !spec.speedOnly)
      quality = sampleQuality(realForFid, { images: images.data, shape: images.shape }, classifier, { generator: new Generator(args.seed).split('fid') });
    if (!spec.speedOnly) {
      // An untrained network's noise is not worth a picture.
      const gridPath = join(gridsDir, `${spec.name}.png`);
      const shown = Math.min(64, images.shape[0]);
      await writeImageGrid(gridPath, { data: images.data.subarray(0, shown * h * w * c), shape: [shown, h, w, c] }, { nrow: 8, scale: 2 });
      grids[spec.name] = gridPath;
    }
    methods.push({
      name: spec.name,
      label: spec.label,
      space: spec.space,
      sampler: spec.sampler,
      steps: spec.steps,
      eta: spec.eta,
      nfe: spec.nfe,
      msPerSample,
      peakMemoryMB: peakTensorBytes / 2 ** 20,
      fid: quality?.fid ?? null,
      fidFloor: quality?.fidFloor ?? null,
      precision: quality?.precision ?? null,
      recall: quality?.recall ?? null,
      classShares: quality?.classShares ?? null,
      samples: quality?.n ?? count,
      ...(spec.speedOnly || spec.timing ? { notes: spec.speedOnly ?? spec.timing!.note } : {}),
    });
    log(
      `compare: ${spec.label}: ${msPerSample.toFixed(1)} ms/sample${quality ? `, FID ${quality.fid.toFixed(2)} (floor ${quality.fidFloor.toFixed(2)}), precision ${quality.precision.toFixed(2)}, recall ${quality.recall.toFixed(2)}` : ''}`,
    );
  }
  if (untrainedPixel) {
    const ddim50 = methods.find((m) => m.space === 'pixel' && m.sampler === 'ddim' && m.steps === 50);
    if (ddim50) {
      methods.push({
        ...ddim50,
        name: 'pixel-ddpm-1000',
        label: 'Pixel DDPM, 1000 steps (speed only, extrapolated)',
        sampler: 'ddpm',
        steps: 1000,
        eta: 1,
        nfe: 1000,
        msPerSample: (ddim50.msPerSample * 1000) / 50,
        notes: 'speed only: DDIM-50 per-step time × 1000 on an untrained pixel UNet',
      });
    }
    untrainedPixel.dispose();
  }

  if (toyPanel === undefined) {
    try {
      const { buildToyPanel } = await import('./toy2d-panel');
      log('compare: 2-D multimodality panel (ring of 8 Gaussians)');
      toyPanel = await buildToyPanel({ seed: args.seed, quick: args.quick });
    } catch (error) {
      notes.push(`2-D panel not built: ${(error as Error).message}`);
    }
  }

  const results: ComparisonResults = {
    meta: {
      title: 'Single-step VAE decoding vs multi-step diffusion on MNIST',
      date: new Date().toISOString(),
      backend: backend.name,
      machine: describeMachine(),
      commands: [
        `ldm compare --vae ${args.vae} --latent ${args.latent}${args.pixel ? ` --pixel ${args.pixel}` : ''}${args.generatorVae ? ` --generator-vae ${args.generatorVae}` : ''}${args.toyPanel ? ` --toy-panel ${args.toyPanel}` : ''} --out ${args.out} -n ${args.n} --steps ${args.steps} --repeats ${args.repeats} --seed ${args.seed}${args.quick ? ' --quick' : ''}`,
      ],
      seeds: { sampling: args.seed, split: args.seed },
      dataset: `${train.name} (${heldOut.shape[0]} held-out images as the real set)`,
      timing: `median of ${args.repeats} repeats of ${TIMING_BATCH} samples per batch (1 repeat when a run takes over 30 s), after one untimed run of ${args.n}`,
      ...(classifier ? { classifier: { path: defaultClassifierDir() } } : {}),
      notes,
      // Comparable only at the same sample size: the anchor scored 1,000 samples (500 used, as here at -n ≥ 500).
      ...(args.n >= 500 ? { references: FID_REFERENCES } : {}),
    },
    methods,
  };
  const written = await writeReport(args.out, results, { grids, ...(toyPanel ? { scatter: toyPanel } : {}) });
  latent.dispose();
  pixel?.dispose();
  generatorVae?.dispose();
  vae.dispose();
  log(`compare: report ${written.indexHtml}, numbers ${written.resultsJson}`);
  return results;
}

function ddpmSpec(p: Pipeline, space: 'pixel' | 'latent', sampler: 'ddpm' | 'ddim', steps: number, eta: number, modelDir?: string): MethodSpec {
  const decoder = space === 'latent' ? 1 : 0;
  const name = `${space}-${sampler}-${steps}${sampler === 'ddim' && eta !== 0 ? `-eta${eta}` : ''}`;
  const label = `${space === 'latent' ? 'Latent' : 'Pixel'} ${sampler.toUpperCase()}, ${steps} step${steps > 1 ? 's' : ''}${sampler === 'ddim' ? `, η = ${eta}` : ''}`;
  return {
    name,
    label,
    space,
    sampler,
    steps,
    eta: sampler === 'ddim' ? eta : 1,
    nfe: steps + decoder,
    run: (count, seed) => generateImages(p, { sampler, steps, eta, count, batchSize: Math.min(count, 100), seed }),
    ...(sampler === 'ddpm' && steps >= 500 && steps % 10 === 0
      ? {
          timing: {
            run: (count: number, seed: number) => generateImages(p, { sampler, steps: steps / 10, eta, count, batchSize: Math.min(count, 100), seed }),
            scale: 10,
            note: `time per sample: DDPM-${steps / 10} × 10 (the same UNet call per step${space === 'latent' ? '; the one VAE decode, counted 10×, adds about 3 %' : ''})`,
          },
        }
      : {}),
    ...(sampler === 'ddpm' && modelDir !== undefined
      ? {
          child: {
            sample: { model: modelDir, sampler, steps, eta, batchSize: 100 },
            memoryRun: (count: number, seed: number) =>
              generateImages(p, { sampler, steps: Math.min(steps, 10), eta, count, batchSize: Math.min(count, 100), seed }),
          },
        }
      : {}),
  };
}

/**
 * `spec`'s samples from `ldm sample` in a child process (the same pipeline, sampler, count, batch and seed, so the same
 * images up to the .npy's [0, 1] rounding); undefined, with a note on stderr, if the child failed: the caller samples here.
 */
async function sampleInChild(spec: MethodSpec, dir: string, args: CompareArgs, log: (m: string) => void): Promise<Images | undefined> {
  const out = join(dir, `${spec.name}.npy`);
  const logPath = join(dir, `${spec.name}.log`);
  const sampleArgs: SampleArgs = {
    ...spec.child!.sample,
    batchSize: Math.min(args.n, spec.child!.sample.batchSize),
    n: args.n,
    seed: args.seed,
    out,
    backend: args.backend,
    precision: args.precision,
    verbose: args.verbose,
    quiet: true,
  };
  log(`compare: ${spec.label}: sampling in a child process on the second core`);
  try {
    const child = await startBackgroundCommand(commandLine('sample', { ...globalOptions, ...sampleOptions }, sampleArgs), logPath);
    await child.done;
    const { data, shape } = await readNpy(out);
    if (shape.length !== 4 || shape[0] !== args.n) throw new Error(`${out} holds [${shape}], not ${args.n} images`);
    return { data: Float32Array.from(data, (u) => u * 2 - 1), shape: shape as Images['shape'] };
  } catch (error) {
    // Its log goes with the temporary folder: its last line is the error the child printed.
    const last = (await readFile(logPath, 'utf8').catch(() => '')).trim().split('\n').pop();
    log(`compare: ${spec.label}: the child failed (${(error as Error).message}${last ? `: ${last}` : ''}); sampling here instead`);
    return undefined;
  }
}

/** Posterior means of the training set, unscaled (the space the VAE's prior lives in). */
function encodeMeans(
  vae: Awaited<ReturnType<typeof loadVae>>,
  data: { images: Float32Array; shape: [number, number, number, number] },
): { data: Float32Array; n: number; dim: number } {
  const [n, h, w, c] = data.shape;
  const size = h * w * c;
  const parts: Float32Array[] = [];
  let dim = 0;
  for (let start = 0; start < n; start += 256) {
    const b = Math.min(256, n - start);
    const z = tf.tidy(() => {
      const posterior = vae.encode(tf.tensor4d(data.images.subarray(start * size, (start + b) * size), [b, h, w, c]));
      const m = tf.clone(posterior.mean);
      posterior.dispose();
      return m;
    });
    dim = z.size / b;
    parts.push(z.dataSync() as Float32Array);
    z.dispose();
  }
  const out = new Float32Array(n * dim);
  parts.forEach((p, i) => out.set(p, i * 256 * dim));
  return { data: out, n, dim };
}

function decodeLatents(vae: Awaited<ReturnType<typeof loadVae>>, z: Float32Array, count: number, latentShape: [number, number, number]): Images {
  const x = tf.tidy(() => tf.clipByValue(vae.decode(tf.tensor4d(z, [count, ...latentShape])), -1, 1));
  const out = { data: x.dataSync() as Float32Array, shape: x.shape as [number, number, number, number] };
  x.dispose();
  return out;
}
