import { DEFAULTS } from '../defaults';
import { checked, existingFolder, int } from './check';
import { z } from 'zod';
import type { GlobalArgs } from './global';
import type { ArgsOf } from './types';

export const serveOptions = {
  model: {
    type: 'string',
    demandOption: true,
    describe: 'A pipeline folder (ldm train: model_index.json, unet/, scheduler/, vqvae/)',
    coerce: existingFolder('model'),
  },
  port: { type: 'number', default: DEFAULTS.serve.port, describe: 'TCP port (0: any free port)', coerce: int('port', 0, 65535) },
  host: {
    type: 'string',
    default: DEFAULTS.serve.host,
    describe: 'Address to listen on (127.0.0.1: this machine only; 0.0.0.0 exposes the model folder to the network)',
    coerce: checked('host', z.string().regex(/^[A-Za-z0-9.:[\]-]+$/, 'an IP address or a host name')),
  },
} as const;

export type ServeArgs = ArgsOf<typeof serveOptions> & GlobalArgs;
