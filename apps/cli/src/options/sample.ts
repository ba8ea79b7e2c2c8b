import { DEFAULTS } from '../defaults';
import { existingFolder, int, num, outputPath } from './check';
import type { GlobalArgs } from './global';
import { seedOption } from './training';
import type { ArgsOf } from './types';

export const MAX_SAMPLES = 100_000;

export const sampleOptions = {
  model: { type: 'string', demandOption: true, describe: 'A DDPM folder (ldm train) or, with --sampler vae, a VAE folder', coerce: existingFolder('model') },
  sampler: { type: 'string', choices: ['ddpm', 'ddim', 'vae'] as const, default: DEFAULTS.sample.sampler },
  steps: {
    type: 'number',
    describe: `Sampling steps (default ${DEFAULTS.sample.ddpmSteps} for ddpm, ${DEFAULTS.sample.ddimSteps} for ddim)`,
    coerce: int('steps', 1, 1000),
  },
  eta: { type: 'number', default: DEFAULTS.sample.eta, describe: 'DDIM η (0: deterministic, 1: DDPM-like)', coerce: num('eta', { min: 0, max: 1 }) },
  n: { type: 'number', default: DEFAULTS.sample.count, describe: 'Number of samples', coerce: int('n', 1, MAX_SAMPLES) },
  'batch-size': { type: 'number', default: DEFAULTS.sample.batchSize, coerce: int('batch-size', 1, 1024) },
  seed: { ...seedOption, default: DEFAULTS.seed },
  out: {
    type: 'string',
    default: DEFAULTS.sample.out,
    describe: 'FILE.png (a grid) | DIR (one PNG per sample) | FILE.npy (float32 [N,H,W,C] in [0,1])',
    coerce: outputPath('out'),
  },
  quiet: { type: 'boolean', default: false },
} as const;

export type SampleArgs = ArgsOf<typeof sampleOptions> & GlobalArgs;
