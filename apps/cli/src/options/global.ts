import type { ArgsOf } from './types';

/** Options every command takes. */
export const globalOptions = {
  backend: {
    type: 'string',
    choices: ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const,
    default: 'auto',
    describe: 'tfjs backend (auto: the first that works of tensorflow-gpu, tensorflow, wasm, cpu)',
    global: true,
  },
  verbose: { type: 'boolean', default: false, describe: 'Print stack traces on errors', global: true },
} as const;

export type GlobalArgs = ArgsOf<typeof globalOptions>;
