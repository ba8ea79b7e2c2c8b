import { DEFAULTS } from '../defaults';
import { int, num } from './check';
import type { GlobalArgs } from './global';
import { seedOption, trainingOptions as t } from './training';
import type { ArgsOf } from './types';

export const trainVaeOptions = {
  data: { ...t.data, default: DEFAULTS.data },
  out: { ...t.out, default: DEFAULTS.vae.out },
  steps: { ...t.steps, default: DEFAULTS.vae.steps },
  'batch-size': { ...t['batch-size'], default: DEFAULTS.vae.batchSize },
  lr: { ...t.lr, default: DEFAULTS.vae.learningRate },
  'kl-weight': { type: 'number', default: DEFAULTS.vae.klWeight, describe: 'β, the weight of the KL term', coerce: num('kl-weight', { min: 0, max: 1e6 }) },
  'kl-warmup': { type: 'number', default: DEFAULTS.vae.klWarmupSteps, describe: 'Steps over which β ramps up from 0', coerce: int('kl-warmup', 0, 10_000_000) },
  'latent-norm': {
    type: 'string',
    choices: ['channel', 'global'] as const,
    default: DEFAULTS.vae.latentNorm,
    describe:
      'How latents get unit variance for diffusion: channel = each channel standardized (folded into quant_conv/post_quant_conv, so the folder stays a plain diffusers AutoencoderKL), global = one scaling_factor',
  },
  'held-out': { ...t['held-out'], default: DEFAULTS.heldOut },
  'checkpoint-every': { ...t['checkpoint-every'], default: DEFAULTS.vae.checkpointEvery },
  'sample-every': { ...t['sample-every'], default: DEFAULTS.vae.sampleEvery, describe: 'Write a reconstruction grid every N steps (0: never)' },
  'max-grad-norm': { ...t['max-grad-norm'], default: DEFAULTS.vae.maxGradNorm },
  seed: { ...seedOption, default: DEFAULTS.seed },
  threads: t.threads,
  limit: t.limit,
  'model-config': t['model-config'],
  resume: t.resume,
  force: t.force,
  quiet: t.quiet,
} as const;

export type TrainVaeArgs = ArgsOf<typeof trainVaeOptions> & GlobalArgs;
