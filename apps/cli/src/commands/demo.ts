import { defineCommand } from '../options/define';
import { demoOptions } from '../options/demo';

export const demoCommand = defineCommand({
  command: 'demo',
  describe:
    'The main job on the embedded MNIST: train a VAE, its scaling factor, a latent DDPM; sample with DDPM and DDIM; write grids and the comparison report. ' +
    'Within 15 minutes on 2 cores: the latent DDPM gets the steps the budget leaves, and trains its convolutions in bfloat16 where the CPU has AVX512-BF16 unless --precision is given',
  options: demoOptions,
  handler: async (args) => {
    const { demoJob } = await import('../jobs/demo-job');
    await demoJob(args);
  },
});
