import type { CommandModule } from 'yargs';
import { DEFAULTS } from '../defaults';

export interface SampleArgs {
  backend: string;
  model: string;
  sampler: 'ddpm' | 'ddim' | 'vae';
  steps?: number;
  eta: number;
  n: number;
  batchSize: number;
  seed: number;
  out: string;
  quiet: boolean;
}

export const sampleCommand: CommandModule<object, SampleArgs> = {
  command: 'sample',
  describe: 'Draw samples: DDPM (ancestral), DDIM (deterministic at η = 0) or single-step VAE decoding',
  builder: (y) =>
    y
      .option('model', { type: 'string', demandOption: true, describe: 'A DDPM folder (ldm train) or, with --sampler vae, a VAE folder' })
      .option('sampler', { type: 'string', choices: ['ddpm', 'ddim', 'vae'], default: DEFAULTS.sample.sampler })
      .option('steps', { type: 'number', describe: `Sampling steps (default ${DEFAULTS.sample.ddpmSteps} for ddpm, ${DEFAULTS.sample.ddimSteps} for ddim)` })
      .option('eta', { type: 'number', default: DEFAULTS.sample.eta, describe: 'DDIM η (0: deterministic, 1: DDPM-like)' })
      .option('n', { type: 'number', default: DEFAULTS.sample.count, describe: 'Number of samples' })
      .option('batch-size', { type: 'number', default: DEFAULTS.sample.batchSize })
      .option('seed', { type: 'number', default: DEFAULTS.seed })
      .option('out', { type: 'string', default: DEFAULTS.sample.out, describe: 'FILE.png (a grid) | DIR (one PNG per sample) | FILE.npy (float32 [N,H,W,C] in [0,1])' })
      .option('quiet', { type: 'boolean', default: false }) as never,
  handler: async (args) => {
    const { sampleJob } = await import('../jobs/sample-job');
    await sampleJob(args);
  },
};
