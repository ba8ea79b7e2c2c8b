import { defineCommand } from '../options/define';
import { nllOptions } from '../options/nll';

export const nllCommand = defineCommand({
  command: 'nll',
  describe: 'Negative log-likelihood bound in bits/dim on held-out data (DDPM variational bound, or the VAE ELBO)',
  options: nllOptions,
  handler: async (args) => {
    const { nllJob } = await import('../jobs/nll-job');
    await nllJob(args);
  },
});
