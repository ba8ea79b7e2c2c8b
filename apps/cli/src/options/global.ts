import type { ArgsOf } from './types';

/** Options every command takes. */
export const globalOptions = {
  backend: {
    type: 'string',
    choices: ['auto', 'tensorflow-gpu', 'tensorflow', 'native', 'wasm', 'cpu'] as const,
    default: 'auto',
    describe: 'tfjs backend (auto: the first that works of tensorflow-gpu, tensorflow, native, wasm, cpu; native = wasm with oneDNN kernels)',
    global: true,
  },
  precision: {
    type: 'string',
    choices: ['f32', 'bf16'] as const,
    default: 'f32',
    describe: 'What convolutions compute in on the native backend: f32, or bf16 (bfloat16 inputs, float32 accumulation; a CPU with AVX512-BF16)',
    global: true,
  },
  verbose: { type: 'boolean', default: false, describe: 'Print stack traces on errors', global: true },
} as const;

export type GlobalArgs = ArgsOf<typeof globalOptions>;
