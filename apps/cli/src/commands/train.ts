import type { CommandModule } from 'yargs';
import { DEFAULTS } from '../defaults';

export interface TrainArgs {
  backend: string;
  space: 'pixel' | 'latent';
  vae?: string;
  data: string;
  out: string;
  steps: number;
  batchSize: number;
  lr: number;
  warmup: number;
  emaDecay: number;
  predictionType: 'epsilon' | 'v_prediction' | 'sample';
  betaSchedule: string;
  minSnrGamma?: number;
  heldOut: number;
  checkpointEvery: number;
  sampleEvery: number;
  maxGradNorm: number;
  seed: number;
  threads?: number;
  limit?: number;
  modelConfig?: string;
  resume: boolean;
  quiet: boolean;
}

export const trainCommand: CommandModule<object, TrainArgs> = {
  command: 'train',
  describe: 'Train a DDPM (Algorithm 1: ε-loss, Adam, EMA) in pixel space or in the latent space of a trained VAE',
  builder: (y) =>
    y
      .option('space', { type: 'string', choices: ['pixel', 'latent'], default: DEFAULTS.ddpm.space })
      .option('vae', { type: 'string', describe: 'VAE folder (from ldm train-vae); required for --space latent' })
      .option('data', { type: 'string', default: DEFAULTS.data, describe: 'mnist | fashion-mnist | idx:IMAGES[,LABELS] | folder:DIR' })
      .option('out', { type: 'string', default: DEFAULTS.ddpm.out, describe: 'Run folder (the model folder is written here)' })
      .option('steps', { type: 'number', default: DEFAULTS.ddpm.steps })
      .option('batch-size', { type: 'number', default: DEFAULTS.ddpm.batchSize })
      .option('lr', { type: 'number', default: DEFAULTS.ddpm.learningRate })
      .option('warmup', { type: 'number', default: DEFAULTS.ddpm.warmupSteps, describe: 'Learning-rate warm-up steps (then cosine decay)' })
      .option('ema-decay', { type: 'number', default: DEFAULTS.ddpm.emaMaxDecay, describe: 'Maximum EMA decay (with warm-up)' })
      .option('prediction-type', { type: 'string', choices: ['epsilon', 'v_prediction', 'sample'], default: DEFAULTS.ddpm.predictionType })
      .option('beta-schedule', { type: 'string', choices: ['linear', 'scaled_linear', 'squaredcos_cap_v2', 'sigmoid'], default: DEFAULTS.ddpm.betaSchedule })
      .option('min-snr-gamma', { type: 'number', describe: 'Min-SNR-γ loss weighting (e.g. 5); off by default' })
      .option('held-out', { type: 'number', default: DEFAULTS.heldOut })
      .option('checkpoint-every', { type: 'number', default: DEFAULTS.ddpm.checkpointEvery })
      .option('sample-every', { type: 'number', default: DEFAULTS.ddpm.sampleEvery, describe: 'Write a DDIM sample grid every N steps' })
      .option('max-grad-norm', { type: 'number', default: DEFAULTS.ddpm.maxGradNorm })
      .option('seed', { type: 'number', default: DEFAULTS.seed })
      .option('threads', { type: 'number', default: 1, describe: 'Worker threads for the gradients (data parallel, one wasm backend each; 1: in-process). Up to the number of cores' })
      .option('limit', { type: 'number', describe: 'Use only the first N images of the dataset' })
      .option('model-config', { type: 'string', describe: 'JSON file of architecture options (diffusers config.json keys or camelCase) overriding the defaults' })
      .option('resume', { type: 'boolean', default: false })
      .option('quiet', { type: 'boolean', default: false }) as never,
  handler: async (args) => {
    const { trainDdpmJob } = await import('../jobs/train-ddpm-job');
    await trainDdpmJob(args);
  },
};
