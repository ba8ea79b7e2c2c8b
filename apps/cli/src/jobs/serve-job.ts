import type { AddressInfo } from 'node:net';
import { LdmError } from '@ldm/backend';
import { readModelIndex } from '@ldm/pipeline';
import type { ServeArgs } from '../options/serve';
import { loadPageAssets, wasmDirectory } from '../serve/page-assets';
import { PAGE_BACKENDS } from '../serve/page-html';
import type { PageBackend } from '../serve/page-html';
import { createServeServer } from '../serve/server';

/** Why listen failed, in one line naming the option. */
function listenError(error: NodeJS.ErrnoException, args: ServeArgs): LdmError {
  if (error.code === 'EADDRINUSE')
    return new LdmError('INVALID_ARGUMENT', `--port ${args.port}: already in use on ${args.host}; pick another (or --port 0 for any free one)`);
  if (error.code === 'EACCES') return new LdmError('INVALID_ARGUMENT', `--port ${args.port}: not allowed on ${args.host} (ports below 1024 need privileges)`);
  if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN') {
    return new LdmError('INVALID_ARGUMENT', `--host ${args.host}: not an address of this machine (${error.code})`);
  }
  return new LdmError('INVALID_ARGUMENT', `--port ${args.port} on --host ${args.host}: cannot listen (${error.code ?? error.message})`);
}

/**
 * `ldm serve`: checks the folder is a pipeline, then serves the page and the folder (read-only)
 * until Ctrl-C / SIGTERM, which close the server and end with one line.
 */
export async function serveJob(args: ServeArgs): Promise<void> {
  // --backend picks the page's starting backend; auto is wasm (what `ldm sample --backend wasm` matches).
  const backend = args.backend === 'auto' ? 'wasm' : args.backend;
  if (!(PAGE_BACKENDS as readonly string[]).includes(backend)) {
    throw new LdmError('INVALID_ARGUMENT', `--backend ${backend}: needs Node; the page runs in a browser on ${PAGE_BACKENDS.join(', ')}`);
  }
  const index = await readModelIndex(args.model);
  if (index.format === 'legacy' && index.kind === 'latent') {
    // Its VAE is a path outside the folder, which the server does not serve (only the folder's own files).
    throw new LdmError(
      'INVALID_ARGUMENT',
      `--model ${args.model}: an older pipeline folder whose VAE lies outside it (${index.json.vae}); convert it with LatentDiffusionPipeline.fromPretrained(dir) then save(newDir), or retrain with ldm train`,
    );
  }
  const page = await loadPageAssets(backend as PageBackend);
  const server = createServeServer({ modelDir: args.model, page, wasmDir: wasmDirectory(), host: args.host });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(listenError(error, args)));
    server.listen(args.port, args.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = args.host.includes(':') ? `[${args.host}]` : args.host;
  const url = `http://${host}:${port}/`;
  process.stdout.write(`${url}\n`);
  process.stderr.write(
    `serving ${args.model} (${index.kind === 'latent' ? 'latent diffusion' : 'pixel DDPM'}) at ${url} — open ${url}?sampler=ddim&steps=50&count=16&seed=0; Ctrl-C stops\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      server.close(() => resolve());
      server.closeAllConnections();
      process.stderr.write(`stopped (${signal})\n`);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
