import { defineCommand } from '../options/define';
import { infoOptions } from '../options/info';

export const infoCommand = defineCommand({
  command: 'info <dir>',
  describe: 'Show what a model or run folder holds: class, config, parameters, checkpoints, scaling factor',
  options: infoOptions,
  handler: async (args) => {
    const { infoJob } = await import('../jobs/info-job');
    await infoJob(args);
  },
});
