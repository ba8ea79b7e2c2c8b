import { LdmError } from '@ldm/backend/errors';
import { int, num, threads, outputPath, dataSpec, jsonObjectFile } from './check';

/** Bounds shared by the training commands; a batch beyond this does not fit a 2-core, 8 GB machine's tfjs. */
export const MAX_TRAIN_BATCH = 1024;
export const MAX_STEPS = 10_000_000;
export const MAX_SEED = 2 ** 32 - 1;

export const seedOption = { type: 'number', describe: 'Random seed (an integer)', coerce: int('seed', 0, MAX_SEED) } as const;

/** The options train and train-vae share, with their checks (defaults differ and are set by each command). */
export const trainingOptions = {
  data: { type: 'string', describe: 'mnist | fashion-mnist | idx:IMAGES[,LABELS] | folder:DIR', coerce: dataSpec('data') },
  out: { type: 'string', describe: 'Run folder (the model folder is written here)', coerce: outputPath('out') },
  steps: { type: 'number', describe: 'Optimisation steps', coerce: int('steps', 1, MAX_STEPS) },
  'batch-size': { type: 'number', coerce: int('batch-size', 1, MAX_TRAIN_BATCH) },
  lr: { type: 'number', describe: 'Adam learning rate', coerce: num('lr', { above: 0, max: 10 }) },
  'held-out': { type: 'number', describe: 'Fraction of the data kept out of training', coerce: num('held-out', { min: 0, max: 0.9 }) },
  'checkpoint-every': { type: 'number', describe: 'Write a checkpoint every N steps', coerce: int('checkpoint-every', 1, MAX_STEPS) },
  'sample-every': { type: 'number', coerce: int('sample-every', 0, MAX_STEPS) },
  'max-grad-norm': { type: 'number', describe: 'Clip gradients to this global norm (0: off)', coerce: num('max-grad-norm', { min: 0, max: 1e6 }) },
  threads: {
    type: 'number',
    default: 1,
    describe:
      'Threads for training: on the native backend threads inside each kernel, on wasm data-parallel workers (one wasm backend each). Up to the cores and the batch size; a second one pays only on an idle machine',
    coerce: threads('threads'),
  },
  limit: { type: 'number', describe: 'Use only the first N images of the dataset', coerce: int('limit', 1, 10_000_000) },
  'model-config': {
    type: 'string',
    describe: 'JSON file of architecture options (diffusers config.json keys or camelCase) overriding the defaults',
    coerce: jsonObjectFile('model-config'),
  },
  resume: { type: 'boolean', default: false, describe: 'Continue the run in --out from its last checkpoint, with its stored options' },
  force: { type: 'boolean', default: false, describe: 'Replace whatever --out holds (a model or run folder this command did not write)' },
  quiet: { type: 'boolean', default: false, describe: 'No progress output' },
} as const;

/** Checks between options of a training command, before anything is loaded. */
export function checkTrainingArgs(args: { threads: number; batchSize: number; resume: boolean; force: boolean }): void {
  if (args.threads > args.batchSize) {
    throw new LdmError(
      'INVALID_ARGUMENT',
      `--threads ${args.threads} is more than --batch-size ${args.batchSize}: each thread needs at least one image of the batch`,
    );
  }
  if (args.resume && args.force)
    throw new LdmError('INVALID_ARGUMENT', '--resume and --force contradict each other: --resume continues the run in --out, --force replaces it');
}
