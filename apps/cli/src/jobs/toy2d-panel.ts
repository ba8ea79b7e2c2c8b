import * as tf from '@tensorflow/tfjs-core';
import { Generator, LdmError, randn } from '@ldm/backend';
import { Linear, Module, silu, sinusoidalEmbedding, toTensor, train } from '@ldm/nn';
import type { ShardInputs, TrainingLoss } from '@ldm/nn';
import { DDPMScheduler, addNoise, gaussianMixtureDenoiser, sample } from '@ldm/ddpm';
import type { Denoiser, NoiseSchedule } from '@ldm/ddpm';
import { DDIMScheduler } from '@ldm/ddim';
import { ringOfGaussians } from '@ldm/data';
import { toyQuality } from '@ldm/eval';
import type { ScatterMethod, ScatterPanel } from '@ldm/report';
import { DEFAULTS } from '../defaults';

/**
 * The report's 2-D multimodality panel (the primer's point, on a ring of 8 Gaussians): a VAE decoded in one step
 * from N(0, I) smears mass between the modes, a DDPM sampled over 1000 steps covers every mode, and DDIM at 50
 * steps (η = 0) does too; DDIM-50 driven by the exact mixture denoiser shows what a perfect network would give.
 */

export type ToyMethodName = 'vae-1-step' | 'ddpm-1000' | 'ddim-50' | 'ddim-50-exact';

export interface ToyPanelTimings {
  vaeTrainSeconds: number;
  ddpmTrainSeconds: number;
  /** Sampling time per method, seconds. */
  sampleSeconds: Partial<Record<ToyMethodName, number>>;
  /** Final training losses (mean of the last 50 steps): the VAE's negative ELBO per point, the ε-MSE. */
  vaeLoss: number;
  ddpmLoss: number;
}

export interface ToyPanelOptions {
  seed: number;
  /** Points per method and reference points (default 1000; quick: 200). */
  samples?: number;
  /** Far fewer training steps and samples, for tests (a few seconds). */
  quick?: boolean;
  /** Training steps (default VAE 600 / DDPM 3000; quick 80 / 150). */
  vaeSteps?: number;
  ddpmSteps?: number;
  /**
   * β schedule of the DDPM/DDIM (default linear, 1000 steps). Measured at 2000 steps: squaredcos_cap_v2 trained no
   * better (DDPM-1000 4/8 modes either way) and its ᾱ_T ≈ 0 makes the ε-network's DDIM-50 from t = 999 diverge.
   */
  betaSchedule?: 'linear' | 'squaredcos_cap_v2';
  ddpmLearningRate?: number;
  /** Filled with training and sampling times if given. */
  timings?: ToyPanelTimings;
  onLog?: (line: string) => void;
}

export const TOY_PANEL_DEFAULTS = {
  trainPoints: 4000,
  modes: 8,
  radius: 2,
  std: 0.05,
  vaeSteps: 600,
  vaeBatch: 256,
  vaeLearningRate: 3e-3,
  /** Fixed std of the Gaussian decoder p(x|z) = N(dec(z), σ²I); β = 1. */
  vaeDecoderStd: 0.1,
  latentDim: 2,
  ddpmSteps: 3000,
  ddpmBatch: 256,
  ddpmLearningRate: 3e-3,
  betaSchedule: 'linear',
  timeEmbeddingDim: 32,
  hidden: 128,
  /** Mode radius for the shares: 3σ of a mode holds 98.9% of its mass. */
  modeRadiusInStd: 3,
} as const;

/** A SiLU MLP: Linear → SiLU → … → Linear. */
class Mlp extends Module {
  private readonly layers: Linear[] = [];

  constructor(sizes: readonly number[], generator: Generator) {
    super();
    for (let i = 0; i + 1 < sizes.length; i++) {
      this.layers.push(this.addModule(`layers.${i}`, new Linear(sizes[i]!, sizes[i + 1]!, generator.split(`layer${i}`))));
    }
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      let h = x;
      this.layers.forEach((layer, i) => {
        h = layer.forward(h);
        if (i < this.layers.length - 1) h = silu(h);
      });
      return h;
    });
  }
}

/** ε_θ(x_t, t): [x_t, sinusoidal(t)] → 128 → 128 → 128 → 2. */
class ToyDenoiser extends Module {
  readonly net: Mlp;

  constructor(
    generator: Generator,
    readonly embeddingDim: number = TOY_PANEL_DEFAULTS.timeEmbeddingDim,
    hidden: number = TOY_PANEL_DEFAULTS.hidden,
  ) {
    super();
    this.net = this.addModule('net', new Mlp([2 + embeddingDim, hidden, hidden, hidden, 2], generator));
  }

  forward(xt: tf.Tensor, t: ArrayLike<number> | number): tf.Tensor {
    return tf.tidy(() => {
      const batch = xt.shape[0]!;
      const ts = typeof t === 'number' ? new Int32Array(batch).fill(t) : Int32Array.from(t);
      const emb = sinusoidalEmbedding(tf.tensor1d(ts, 'int32'), this.embeddingDim);
      return this.net.forward(tf.concat([tf.reshape(xt, [batch, 2]), emb], 1));
    });
  }
}

class ToyVae extends Module {
  readonly encoder: Mlp;
  readonly decoder: Mlp;

  constructor(
    generator: Generator,
    readonly latentDim: number = TOY_PANEL_DEFAULTS.latentDim,
  ) {
    super();
    this.encoder = this.addModule('encoder', new Mlp([2, 64, 64, 2 * latentDim], generator.split('encoder')));
    this.decoder = this.addModule('decoder', new Mlp([latentDim, 64, 64, 2], generator.split('decoder')));
  }

  /** Negative ELBO per point (nats, dropping the constant log(2πσ²)): ‖x − dec(z)‖²/(2σ²) + KL(q(z|x) ‖ N(0, I)). */
  loss(x: tf.Tensor2D, eps: tf.Tensor2D, decoderStd: number): tf.Scalar {
    return tf.tidy(() => {
      const h = this.encoder.forward(x);
      const mu = tf.slice(h, [0, 0], [-1, this.latentDim]);
      const logVar = tf.clipByValue(tf.slice(h, [0, this.latentDim], [-1, this.latentDim]), -12, 6);
      const z = tf.add(mu, tf.mul(tf.exp(tf.mul(logVar, 0.5)), eps));
      const recon = tf.div(tf.sum(tf.squaredDifference(this.decoder.forward(z), x), 1), 2 * decoderStd * decoderStd);
      const kl = tf.mul(tf.sum(tf.sub(tf.add(tf.square(mu), tf.exp(logVar)), tf.add(logVar, 1)), 1), 0.5);
      return tf.mean(tf.add(recon, kl)) as tf.Scalar;
    });
  }
}

/**
 * Trains `model` with nn's training skeleton (in memory: no run folder) on `loss`, drawing each step's rows
 * with `nextBatch`; cosine decay to 1% of the base rate (the late small steps average out the minibatch noise,
 * as an EMA would). Returns the mean loss of the last 50 steps.
 */
async function fit<M extends Module>(
  model: M,
  steps: number,
  batchSize: number,
  learningRate: number,
  loss: TrainingLoss<M>['compute'],
  nextBatch: () => ShardInputs,
  maxGradNorm?: number,
): Promise<number> {
  const tail: number[] = [];
  await train({
    model,
    loss: { compute: loss },
    nextBatch,
    steps,
    batchSize,
    learningRate: { base: learningRate, totalSteps: steps, minRatio: 0.01 },
    ...(maxGradNorm === undefined ? {} : { maxGradNorm }),
    onStep: (step, value) => step > steps - 50 && tail.push(value),
    label: 'toy',
    silent: true,
  });
  return tail.reduce((a, b) => a + b, 0) / Math.max(1, tail.length);
}

/** Random minibatch (with replacement) of row-major [n, 2] points. */
function minibatch(points: Float32Array, n: number, batch: number, generator: Generator): Float32Array {
  const u = generator.uniform(batch);
  const out = new Float32Array(batch * 2);
  for (let i = 0; i < batch; i++) {
    const j = Math.min(n - 1, Math.floor(u[i]! * n));
    out[2 * i] = points[2 * j]!;
    out[2 * i + 1] = points[2 * j + 1]!;
  }
  return out;
}

async function trainVae(points: Float32Array, n: number, steps: number, generator: Generator): Promise<{ vae: ToyVae; loss: number }> {
  const d = TOY_PANEL_DEFAULTS;
  const vae = new ToyVae(generator.split('init'));
  const batchGen = generator.split('batches');
  const noiseGen = generator.split('noise');
  const loss = await fit(
    vae,
    steps,
    d.vaeBatch,
    d.vaeLearningRate,
    (model, batch) => ({ loss: model.loss(toTensor(batch.x!) as tf.Tensor2D, toTensor(batch.eps!) as tf.Tensor2D, d.vaeDecoderStd) }),
    () => ({
      x: { data: minibatch(points, n, d.vaeBatch, batchGen), shape: [d.vaeBatch, 2] },
      eps: { data: noiseGen.normal(d.vaeBatch * d.latentDim), shape: [d.vaeBatch, d.latentDim] },
    }),
    1,
  );
  return { vae, loss };
}

/** Algorithm 1 on the toy: x₀ ~ data, t ~ U{0..T−1}, ε ~ N(0, I), step on ‖ε − ε_θ(x_t, t)‖² (`ddpmLoss` does this for images). */
async function trainDenoiser(
  points: Float32Array,
  n: number,
  steps: number,
  schedule: NoiseSchedule,
  generator: Generator,
  learningRate: number,
): Promise<{ model: ToyDenoiser; loss: number }> {
  const d = TOY_PANEL_DEFAULTS;
  const model = new ToyDenoiser(generator.split('init'));
  const batchGen = generator.split('batches');
  const timeGen = generator.split('timesteps');
  const noiseGen = generator.split('noise');
  const T = schedule.betas.length;
  const loss = await fit(
    model,
    steps,
    d.ddpmBatch,
    learningRate,
    (m, batch) => {
      const t = batch.t!.data as Int32Array;
      const noise = toTensor(batch.noise!);
      const xt = addNoise(schedule, toTensor(batch.x0!), noise, t);
      return { loss: tf.mean(tf.squaredDifference(m.forward(xt, t), noise)) as tf.Scalar };
    },
    () => ({
      x0: { data: minibatch(points, n, d.ddpmBatch, batchGen), shape: [d.ddpmBatch, 2] },
      t: { data: Int32Array.from(timeGen.uniform(d.ddpmBatch), (u) => Math.min(T - 1, Math.floor(u * T))), shape: [d.ddpmBatch] },
      noise: { data: noiseGen.normal(d.ddpmBatch * 2), shape: [d.ddpmBatch, 2] },
    }),
  );
  return { model, loss };
}

function readPoints(x: tf.Tensor): number[] {
  const values = x.dataSync();
  return Array.from(values, (v) => Number(v));
}

/** Builds the multimodality panel: trains the toy VAE and denoiser, samples every method and scores it against fresh real samples. */
export async function buildToyPanel(options: ToyPanelOptions): Promise<ScatterPanel> {
  const { seed, quick = false, onLog } = options;
  const d = TOY_PANEL_DEFAULTS;
  const count = options.samples ?? (quick ? 200 : 1000);
  const vaeSteps = options.vaeSteps ?? (quick ? 80 : d.vaeSteps);
  const ddpmSteps = options.ddpmSteps ?? (quick ? 150 : d.ddpmSteps);
  if (!Number.isInteger(count) || count < 2) throw new LdmError('INVALID_ARGUMENT', `buildToyPanel: samples must be an integer ≥ 2, got ${count}`);
  const timings: ToyPanelTimings = options.timings ?? { vaeTrainSeconds: 0, ddpmTrainSeconds: 0, sampleSeconds: {}, vaeLoss: NaN, ddpmLoss: NaN };
  const root = new Generator(seed);
  const trainData = ringOfGaussians({ n: d.trainPoints, modes: d.modes, radius: d.radius, std: d.std, generator: root.split('train-data') });
  const real = ringOfGaussians({ n: count, modes: d.modes, radius: d.radius, std: d.std, generator: root.split('reference') });
  const { density } = trainData;
  const modeMeans = Array.from(density.means);
  const modeRadius = d.modeRadiusInStd * density.std;
  const evalGen = root.split('metrics');

  const methods: ScatterMethod[] = [];
  const score = (name: ToyMethodName, points: number[]): void => {
    const q = toyQuality(points, real.points, density.means, modeRadius, evalGen.split(name));
    methods.push({ name, points, slicedWasserstein: q.slicedWasserstein, mmd: q.mmd, modeShares: q.modeShares, betweenModes: q.betweenModes });
    onLog?.(
      `${name}: SW ${q.slicedWasserstein.toFixed(4)}, MMD ${q.mmd.toFixed(4)}, modes ${q.modesCovered}/${d.modes}, between ${(100 * q.betweenModes).toFixed(1)}%`,
    );
  };
  const timed = <T>(fn: () => T): [T, number] => {
    const start = performance.now();
    const out = fn();
    return [out, (performance.now() - start) / 1000];
  };
  const timedAsync = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
    const start = performance.now();
    const out = await fn();
    return [out, (performance.now() - start) / 1000];
  };

  // 1. VAE, decoded once from z ~ N(0, I).
  const [{ vae, loss: vaeLoss }, vaeSeconds] = await timedAsync(() => trainVae(trainData.points, trainData.n, vaeSteps, root.split('vae')));
  timings.vaeTrainSeconds = vaeSeconds;
  timings.vaeLoss = vaeLoss;
  onLog?.(`vae: ${vaeSteps} steps in ${vaeSeconds.toFixed(1)} s, -ELBO ${vaeLoss.toFixed(3)}`);
  try {
    const [vaePoints, s] = timed(() => {
      const x = tf.tidy(() => vae.decoder.forward(randn([count, d.latentDim], root.split('vae-sample'))));
      try {
        return readPoints(x);
      } finally {
        x.dispose();
      }
    });
    timings.sampleSeconds['vae-1-step'] = s;
    score('vae-1-step', vaePoints);
  } finally {
    vae.dispose();
  }

  // 2. DDPM (linear β, 1000 steps) and DDIM-50 with the trained ε-network; 3. DDIM-50 with the exact denoiser.
  const schedulerOptions = {
    numTrainTimesteps: DEFAULTS.ddpm.numTrainTimesteps,
    betaSchedule: options.betaSchedule ?? d.betaSchedule,
    clipSample: false,
  } as const;
  const ddpm = new DDPMScheduler(schedulerOptions);
  const ddim = new DDIMScheduler({ ...schedulerOptions, timestepSpacing: 'trailing' });
  ddim.setTimesteps(50);
  const [{ model, loss: ddpmLoss }, ddpmSeconds] = await timedAsync(() =>
    trainDenoiser(trainData.points, trainData.n, ddpmSteps, ddpm.schedule, root.split('ddpm'), options.ddpmLearningRate ?? d.ddpmLearningRate),
  );
  timings.ddpmTrainSeconds = ddpmSeconds;
  timings.ddpmLoss = ddpmLoss;
  onLog?.(`ddpm: ${ddpmSteps} steps in ${ddpmSeconds.toFixed(1)} s, ε-MSE ${ddpmLoss.toFixed(4)}`);
  try {
    const network: Denoiser = (xt, t) => model.forward(xt, t);
    const exact = gaussianMixtureDenoiser(
      {
        weights: Array.from(density.weights),
        means: Array.from({ length: d.modes }, (_, k) => [density.means[2 * k]!, density.means[2 * k + 1]!]),
        variances: new Array<number>(d.modes).fill(density.std ** 2),
      },
      ddim.schedule.alphasCumprod,
    );
    const runs: [ToyMethodName, Denoiser, DDPMScheduler | DDIMScheduler][] = [
      ['ddpm-1000', network, ddpm],
      ['ddim-50', network, ddim],
      ['ddim-50-exact', exact, ddim],
    ];
    for (const [name, denoiser, scheduler] of runs) {
      const [points, s] = timed(() => {
        const x = sample({ denoiser, scheduler, shape: [count, 2], generator: root.split(`sample-${name}`), eta: 0 });
        try {
          return readPoints(x);
        } finally {
          x.dispose();
        }
      });
      timings.sampleSeconds[name] = s;
      onLog?.(`${name}: ${scheduler.timesteps.length} steps for ${count} points in ${s.toFixed(1)} s`);
      score(name, points);
    }
  } finally {
    model.dispose();
  }

  return { dataset: 'ring of 8 Gaussians', modeMeans, modeRadius, reference: Array.from(real.points), methods };
}
