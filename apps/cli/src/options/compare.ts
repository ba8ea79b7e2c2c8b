import { existingFolder, int, intList, outputPath } from './check';
import type { GlobalArgs } from './global';
import { seedOption } from './training';
import type { ArgsOf } from './types';

export const compareOptions = {
  vae: { type: 'string', demandOption: true, describe: 'VAE folder', coerce: existingFolder('vae') },
  latent: { type: 'string', demandOption: true, describe: 'Latent DDPM folder', coerce: existingFolder('latent') },
  pixel: { type: 'string', describe: 'Pixel DDPM folder (optional)', coerce: existingFolder('pixel') },
  'generator-vae': {
    type: 'string',
    describe: "A VAE trained as a generator (β = 1, ldm train-vae --kl-weight 1): its single-step decoding is shown beside the diffusion VAE's (optional)",
    coerce: existingFolder('generator-vae'),
  },
  out: { type: 'string', default: 'runs/report', describe: 'Report folder', coerce: outputPath('out') },
  n: { type: 'number', default: 500, describe: 'Samples per method (at least 8: FID needs samples)', coerce: int('n', 8, 100_000) },
  steps: { type: 'string', default: '1,2,5,10,20,50,100', describe: 'DDIM step counts', coerce: intList('steps', 1, 1000) },
  repeats: { type: 'number', default: 3, describe: 'Timing repeats (median reported)', coerce: int('repeats', 1, 100) },
  seed: { ...seedOption, default: 0 },
  quick: { type: 'boolean', default: false, describe: 'Few samples and steps, for tests' },
  'toy-panel': {
    type: 'string',
    describe: 'The 2-D panel as ldm toy2d wrote it (same --seed and --quick), instead of building it here (about a minute)',
  },
  limit: { type: 'number', describe: 'Use only the first N images of the dataset (real set and baseline fits)', coerce: int('limit', 1, 10_000_000) },
} as const;

export type CompareArgs = ArgsOf<typeof compareOptions> & GlobalArgs;
