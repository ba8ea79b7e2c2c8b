import { outputPath } from './check';
import type { GlobalArgs } from './global';
import { seedOption } from './training';
import type { ArgsOf } from './types';

export const toy2dOptions = {
  out: { type: 'string', default: 'runs/toy2d.json', describe: 'JSON file to write: every sampler’s points and metrics', coerce: outputPath('out') },
  seed: { ...seedOption, default: 0 },
  quick: { type: 'boolean', default: false, describe: 'Far fewer training steps and samples, for tests' },
} as const;

export type Toy2dArgs = ArgsOf<typeof toy2dOptions> & GlobalArgs;
