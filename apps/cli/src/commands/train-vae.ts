import { defineCommand } from '../options/define';
import { checkTrainingArgs } from '../options/training';
import { trainVaeOptions } from '../options/train-vae';

export const trainVaeCommand = defineCommand({
  command: 'train-vae',
  describe: 'Train the KL autoencoder (ELBO: reconstruction + β·KL), then compute its latent scaling factor',
  options: trainVaeOptions,
  handler: async (args) => {
    checkTrainingArgs(args);
    const { trainVaeJob } = await import('../jobs/train-vae-job');
    await trainVaeJob(args);
  },
});
