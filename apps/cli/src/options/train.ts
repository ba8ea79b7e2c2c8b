import { DEFAULTS } from '../defaults';
import { existingFolder, int, num } from './check';
import type { GlobalArgs } from './global';
import { seedOption, trainingOptions as t } from './training';
import type { ArgsOf } from './types';

export const trainOptions = {
  space: { type: 'string', choices: ['pixel', 'latent'] as const, default: DEFAULTS.ddpm.space },
  vae: { type: 'string', describe: 'VAE folder (from ldm train-vae); required for --space latent', coerce: existingFolder('vae') },
  data: { ...t.data, default: DEFAULTS.data },
  out: { ...t.out, default: DEFAULTS.ddpm.out },
  steps: { ...t.steps, default: DEFAULTS.ddpm.steps },
  'batch-size': { ...t['batch-size'], default: DEFAULTS.ddpm.batchSize },
  lr: { ...t.lr, default: DEFAULTS.ddpm.learningRate },
  warmup: {
    type: 'number',
    default: DEFAULTS.ddpm.warmupSteps,
    describe: 'Learning-rate warm-up steps (then cosine decay)',
    coerce: int('warmup', 0, 10_000_000),
  },
  'ema-decay': {
    type: 'number',
    default: DEFAULTS.ddpm.emaMaxDecay,
    describe: 'Maximum EMA decay (with warm-up)',
    coerce: num('ema-decay', { min: 0, max: 0.999999 }),
  },
  'prediction-type': { type: 'string', choices: ['epsilon', 'v_prediction', 'sample'] as const, default: DEFAULTS.ddpm.predictionType },
  'beta-schedule': { type: 'string', choices: ['linear', 'scaled_linear', 'squaredcos_cap_v2', 'sigmoid'] as const, default: DEFAULTS.ddpm.betaSchedule },
  'min-snr-gamma': { type: 'number', describe: 'Min-SNR-γ loss weighting (e.g. 5); off by default', coerce: num('min-snr-gamma', { above: 0, max: 1e6 }) },
  'held-out': { ...t['held-out'], default: DEFAULTS.heldOut },
  'checkpoint-every': { ...t['checkpoint-every'], default: DEFAULTS.ddpm.checkpointEvery },
  'sample-every': { ...t['sample-every'], default: DEFAULTS.ddpm.sampleEvery, describe: 'Write a DDIM sample grid every N steps (0: never)' },
  'max-grad-norm': { ...t['max-grad-norm'], default: DEFAULTS.ddpm.maxGradNorm },
  seed: { ...seedOption, default: DEFAULTS.seed },
  threads: t.threads,
  limit: t.limit,
  'model-config': t['model-config'],
  resume: t.resume,
  force: t.force,
  quiet: t.quiet,
} as const;

export type TrainArgs = ArgsOf<typeof trainOptions> & GlobalArgs;
