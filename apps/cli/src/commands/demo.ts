import type { CommandModule } from 'yargs';
import { DEFAULTS } from '../defaults';

export interface DemoArgs {
  backend: string;
  out: string;
  quick: boolean;
  full: boolean;
  seed: number;
  resume: boolean;
  threads: number;
}

export const demoCommand: CommandModule<object, DemoArgs> = {
  command: 'demo',
  describe: 'The main job on the embedded MNIST: train a VAE, its scaling factor, a latent DDPM; sample with DDPM and DDIM; write grids and the comparison report',
  builder: (y) =>
    y
      .option('out', { type: 'string', default: DEFAULTS.demo.out, describe: 'Output folder' })
      .option('quick', { type: 'boolean', default: false, describe: 'A tiny run (about a minute) to check the pipeline end to end' })
      .option('full', { type: 'boolean', default: false, describe: 'Also train a pixel DDPM for the latent DDPM\'s wall-clock and compare them (adds about that long again)' })
      .option('seed', { type: 'number', default: 0 })
      .option('resume', { type: 'boolean', default: false, describe: 'Continue stages from their checkpoints' })
      .option('threads', { type: 'number', default: 1, describe: 'Worker threads for training (data parallel; see ldm train --help)' }) as never,
  handler: async (args) => {
    const { demoJob } = await import('../jobs/demo-job');
    await demoJob(args);
  },
};
