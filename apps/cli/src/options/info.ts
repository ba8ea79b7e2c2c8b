import { existingFolder } from './check';
import type { ArgsOf } from './types';

export const infoOptions = {
  dir: { type: 'string', demandOption: true, describe: 'Model or run folder', coerce: existingFolder('dir') },
  json: { type: 'boolean', default: false, describe: 'Print JSON' },
} as const;

export type InfoArgs = ArgsOf<typeof infoOptions>;
