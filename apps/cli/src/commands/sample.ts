import { defineCommand } from '../options/define';
import { sampleOptions } from '../options/sample';

export const sampleCommand = defineCommand({
  command: 'sample',
  describe: 'Draw samples: DDPM (ancestral), DDIM (deterministic at η = 0) or single-step VAE decoding',
  options: sampleOptions,
  handler: async (args) => {
    const { sampleJob } = await import('../jobs/sample-job');
    await sampleJob(args);
  },
});
