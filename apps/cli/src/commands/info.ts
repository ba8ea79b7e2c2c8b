import type { CommandModule } from 'yargs';

export interface InfoArgs {
  dir: string;
  json: boolean;
}

export const infoCommand: CommandModule<object, InfoArgs> = {
  command: 'info <dir>',
  describe: 'Show what a model or run folder holds: class, config, parameters, checkpoints, scaling factor',
  builder: (y) =>
    y
      .positional('dir', { type: 'string', demandOption: true, describe: 'Model or run folder' })
      .option('json', { type: 'boolean', default: false, describe: 'Print JSON' }) as never,
  handler: async (args) => {
    const { infoJob } = await import('../jobs/info-job');
    await infoJob(args);
  },
};
