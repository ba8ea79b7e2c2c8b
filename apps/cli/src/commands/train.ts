import { LdmError } from '@ldm/backend/errors';
import { defineCommand } from '../options/define';
import { checkTrainingArgs } from '../options/training';
import { trainOptions } from '../options/train';

export const trainCommand = defineCommand({
  command: 'train',
  describe: 'Train a DDPM (Algorithm 1: ε-loss, Adam, EMA) in pixel space or in the latent space of a trained VAE',
  options: trainOptions,
  handler: async (args) => {
    checkTrainingArgs(args);
    if (args.space === 'latent' && !args.vae && !args.resume)
      throw new LdmError('INVALID_ARGUMENT', '--space latent needs --vae DIR (a folder written by ldm train-vae)');
    const { trainDdpmJob } = await import('../jobs/train-ddpm-job');
    await trainDdpmJob(args);
  },
});
