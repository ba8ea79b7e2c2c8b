import { defineCommand } from '../options/define';
import { serveOptions } from '../options/serve';

export const serveCommand = defineCommand({
  command: 'serve',
  describe: 'Sample in a web page: serves a page that loads the pipeline folder over HTTP and generates in the browser (wasm)',
  options: serveOptions,
  handler: async (args) => {
    const { serveJob } = await import('../jobs/serve-job');
    await serveJob(args);
  },
});
