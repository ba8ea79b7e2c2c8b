import type { CommandModule } from 'yargs';
import { DEFAULTS } from '../defaults';

export interface NllArgs {
  backend: string;
  model: string;
  data: string;
  n: number;
  timesteps: number;
  batchSize: number;
  seed: number;
}

export const nllCommand: CommandModule<object, NllArgs> = {
  command: 'nll',
  describe: 'Negative log-likelihood bound in bits/dim on held-out data (DDPM variational bound, or the VAE ELBO)',
  builder: (y) =>
    y
      .option('model', { type: 'string', demandOption: true, describe: 'A DDPM folder or a VAE folder' })
      .option('data', { type: 'string', default: DEFAULTS.data })
      .option('n', { type: 'number', default: 256, describe: 'Held-out images to evaluate' })
      .option('timesteps', { type: 'number', default: 100, describe: 'Timesteps sampled (stratified) for the DDPM bound; 1000 = exact sum' })
      .option('batch-size', { type: 'number', default: 64 })
      .option('seed', { type: 'number', default: DEFAULTS.seed }) as never,
  handler: async (args) => {
    const { nllJob } = await import('../jobs/nll-job');
    await nllJob(args);
  },
};
