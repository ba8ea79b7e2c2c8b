import type { CommandModule } from 'yargs';
import { DEFAULTS } from '../defaults';

export interface TrainVaeArgs {
  backend: string;
  data: string;
  out: string;
  steps: number;
  batchSize: number;
  lr: number;
  klWeight: number;
  klWarmup: number;
  heldOut: number;
  checkpointEvery: number;
  sampleEvery: number;
  maxGradNorm: number;
  seed: number;
  threads?: number;
  limit?: number;
  modelConfig?: string;
  resume: boolean;
  quiet: boolean;
}

export const trainVaeCommand: CommandModule<object, TrainVaeArgs> = {
  command: 'train-vae',
  describe: 'Train the KL autoencoder (ELBO: reconstruction + β·KL), then compute its latent scaling factor',
  builder: (y) =>
    y
      .option('data', { type: 'string', default: DEFAULTS.data, describe: 'mnist | fashion-mnist | idx:IMAGES[,LABELS] | folder:DIR' })
      .option('out', { type: 'string', default: DEFAULTS.vae.out, describe: 'Run folder (the model folder is written here)' })
      .option('steps', { type: 'number', default: DEFAULTS.vae.steps, describe: 'Optimisation steps' })
      .option('batch-size', { type: 'number', default: DEFAULTS.vae.batchSize })
      .option('lr', { type: 'number', default: DEFAULTS.vae.learningRate, describe: 'Adam learning rate' })
      .option('kl-weight', { type: 'number', default: DEFAULTS.vae.klWeight, describe: 'β, the weight of the KL term' })
      .option('kl-warmup', { type: 'number', default: DEFAULTS.vae.klWarmupSteps, describe: 'Steps over which β ramps up from 0' })
      .option('held-out', { type: 'number', default: DEFAULTS.heldOut, describe: 'Fraction of the data kept out of training' })
      .option('checkpoint-every', { type: 'number', default: DEFAULTS.vae.checkpointEvery })
      .option('sample-every', { type: 'number', default: DEFAULTS.vae.sampleEvery, describe: 'Write a reconstruction grid every N steps' })
      .option('max-grad-norm', { type: 'number', default: DEFAULTS.vae.maxGradNorm, describe: 'Clip gradients to this global norm (0: off)' })
      .option('seed', { type: 'number', default: DEFAULTS.seed })
      .option('threads', { type: 'number', default: 1, describe: 'Worker threads for the gradients (data parallel, one wasm backend each; 1: in-process). Up to the number of cores' })
      .option('limit', { type: 'number', describe: 'Use only the first N images of the dataset' })
      .option('model-config', { type: 'string', describe: 'JSON file of architecture options (diffusers config.json keys or camelCase) overriding the defaults' })
      .option('resume', { type: 'boolean', default: false, describe: 'Continue the run in --out from its last checkpoint' })
      .option('quiet', { type: 'boolean', default: false, describe: 'No progress output' }) as never,
  handler: async (args) => {
    const { trainVaeJob } = await import('../jobs/train-vae-job');
    await trainVaeJob(args);
  },
};
