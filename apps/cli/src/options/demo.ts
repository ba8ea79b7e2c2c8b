import { DEFAULTS } from '../defaults';
import { int, outputPath, threads } from './check';
import type { GlobalArgs } from './global';
import { MAX_STEPS, seedOption } from './training';
import type { ArgsOf } from './types';

export const demoOptions = {
  out: { type: 'string', default: DEFAULTS.demo.out, describe: 'Output folder', coerce: outputPath('out') },
  quick: { type: 'boolean', default: false, describe: 'A tiny run (about a minute) to check the pipeline end to end' },
  full: { type: 'boolean', default: false, describe: "Also train a pixel DDPM for the latent DDPM's wall-clock and compare them (adds about that long again)" },
  'ddpm-steps': {
    type: 'number',
    describe: `The latent DDPM's steps (default: what the ${DEFAULTS.demo.budgetSeconds / 60}-minute budget leaves on this machine, from a timing probe; --quick: 30)`,
    coerce: int('ddpm-steps', 1, MAX_STEPS),
  },
  seed: { ...seedOption, default: 0 },
  resume: { type: 'boolean', default: false, describe: 'Continue stages from their checkpoints' },
  threads: {
    type: 'number',
    default: 1,
    describe: 'Threads for each training stage (see ldm train --help); the second core already runs the single-step baseline beside them',
    coerce: threads('threads'),
  },
} as const;

export type DemoArgs = ArgsOf<typeof demoOptions> & GlobalArgs;
