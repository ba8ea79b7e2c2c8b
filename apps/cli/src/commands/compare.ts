import { defineCommand } from '../options/define';
import { compareOptions } from '../options/compare';

export const compareCommand = defineCommand({
  command: 'compare',
  describe: 'Compare single-step VAE decoding, baselines, DDPM and DDIM (pixel and latent) for speed and quality; write an HTML report',
  options: compareOptions,
  handler: async (args) => {
    const { compareJob } = await import('../jobs/compare-job');
    await compareJob(args);
  },
});
