import { defineCommand } from '../options/define';
import { toy2dOptions } from '../options/toy2d';

export const toy2dCommand = defineCommand({
  command: 'toy2d',
  describe:
    "The report's 2-D multimodality panel on its own: a VAE and a DDPM trained on a ring of 8 Gaussians, sampled by single-step decoding, DDPM-1000 and DDIM-50; written as JSON for ldm compare --toy-panel",
  options: toy2dOptions,
  handler: async (args) => {
    const { toy2dJob } = await import('../jobs/toy2d-job');
    await toy2dJob(args);
  },
});
