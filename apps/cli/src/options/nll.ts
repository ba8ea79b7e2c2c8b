import { DEFAULTS } from '../defaults';
import { dataSpec, existingFolder, int } from './check';
import type { GlobalArgs } from './global';
import { seedOption } from './training';
import type { ArgsOf } from './types';

export const nllOptions = {
  model: { type: 'string', demandOption: true, describe: 'A DDPM folder or a VAE folder', coerce: existingFolder('model') },
  data: { type: 'string', default: DEFAULTS.data, coerce: dataSpec('data') },
  n: { type: 'number', default: 256, describe: 'Held-out images to evaluate', coerce: int('n', 1, 100_000) },
  timesteps: {
    type: 'number',
    default: 100,
    describe: 'Timesteps sampled (stratified) for the DDPM bound; 1000 = exact sum',
    coerce: int('timesteps', 1, 1000),
  },
  'batch-size': { type: 'number', default: 64, coerce: int('batch-size', 1, 1024) },
  seed: { ...seedOption, default: DEFAULTS.seed },
} as const;

export type NllArgs = ArgsOf<typeof nllOptions> & GlobalArgs;
