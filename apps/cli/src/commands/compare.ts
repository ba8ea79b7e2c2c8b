import type { CommandModule } from 'yargs';

export interface CompareArgs {
  backend: string;
  vae: string;
  latent: string;
  pixel?: string;
  generatorVae?: string;
  out: string;
  n: number;
  steps: string;
  repeats: number;
  seed: number;
  quick: boolean;
  limit?: number;
}

export const compareCommand: CommandModule<object, CompareArgs> = {
  command: 'compare',
  describe: 'Compare single-step VAE decoding, baselines, DDPM and DDIM (pixel and latent) for speed and quality; write an HTML report',
  builder: (y) =>
    y
      .option('vae', { type: 'string', demandOption: true, describe: 'VAE folder' })
      .option('latent', { type: 'string', demandOption: true, describe: 'Latent DDPM folder' })
      .option('pixel', { type: 'string', describe: 'Pixel DDPM folder (optional)' })
      .option('generator-vae', { type: 'string', describe: 'A VAE trained as a generator (β = 1, ldm train-vae --kl-weight 1): its single-step decoding is shown beside the diffusion VAE\'s (optional)' })
      .option('out', { type: 'string', default: 'runs/report', describe: 'Report folder' })
      .option('n', { type: 'number', default: 500, describe: 'Samples per method' })
      .option('steps', { type: 'string', default: '1,2,5,10,20,50,100', describe: 'DDIM step counts' })
      .option('repeats', { type: 'number', default: 3, describe: 'Timing repeats (median reported)' })
      .option('seed', { type: 'number', default: 0 })
      .option('quick', { type: 'boolean', default: false, describe: 'Few samples and steps, for tests' })
      .option('limit', { type: 'number', describe: 'Use only the first N images of the dataset (real set and baseline fits)' }) as never,
  handler: async (args) => {
    const { compareJob } = await import('../jobs/compare-job');
    await compareJob(args);
  },
};
