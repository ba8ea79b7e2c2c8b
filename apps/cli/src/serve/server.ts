/*
 * The HTTP side of `ldm serve` (node:http, read-only): the page at /, its script, tfjs' wasm files
 * under /wasm/, and the files of the one pipeline folder under /model/. Everything else is 404.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import type { Asset } from './page-assets';
import { WASM_FILES } from './page-assets';
import { resolveInside } from './safe-path';

export interface ServeConfig {
  /** The pipeline folder served under /model/. */
  modelDir: string;
  /** index.html, page.js (page.js.map when bundled from sources). */
  page: ReadonlyMap<string, Asset>;
  /** Where the tfjs wasm binaries are. */
  wasmDir: string;
  /** The address listened on: on a loopback one, requests must name a loopback host (no DNS rebinding). */
  host: string;
}

const TYPES: Record<string, string> = {
  '.json': 'application/json',
  '.safetensors': 'application/octet-stream',
  '.png': 'image/png',
  '.npy': 'application/octet-stream',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
  '.jsonl': 'application/x-ndjson',
};

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith('127.');
}

/** The host name of a Host header ('localhost:8080' → 'localhost', '[::1]:80' → '[::1]'). */
function hostName(header: string | undefined): string {
  if (!header) return '';
  return header.startsWith('[') ? header.slice(0, header.indexOf(']') + 1) : (header.split(':')[0] ?? '');
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

const COMMON_HEADERS = { 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer', 'Cache-Control': 'no-store' };

async function sendFile(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const info = await stat(path);
  res.writeHead(200, { ...COMMON_HEADERS, 'Content-Type': TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream', 'Content-Length': info.size });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = createReadStream(path);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

function sendAsset(req: IncomingMessage, res: ServerResponse, asset: Asset): void {
  res.writeHead(200, { ...COMMON_HEADERS, 'Content-Type': asset.type, 'Content-Length': asset.body.byteLength });
  res.end(req.method === 'HEAD' ? undefined : asset.body);
}

/** Answers one request; exported for tests of the routing without a socket. */
export async function handle(config: ServeConfig, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(res, 405, 'read-only: GET and HEAD only\n', { Allow: 'GET, HEAD' });
    return;
  }
  if (isLoopback(config.host) && !isLoopback(hostName(req.headers.host))) {
    send(res, 403, 'this server answers requests for localhost only\n');
    return;
  }
  // The raw path, not a normalised URL: '..' must be refused, not resolved (see safe-path.ts).
  const raw = (req.url ?? '/').split(/[?#]/)[0]!;
  const notFound = () => send(res, 404, 'not found\n', COMMON_HEADERS);
  if (raw === '/' || raw === '/index.html') return sendAsset(req, res, config.page.get('index.html')!);
  const asset = raw === '/page.js' || raw === '/page.js.map' ? config.page.get(raw.slice(1)) : undefined;
  if (asset) return sendAsset(req, res, asset);
  if (raw.startsWith('/wasm/')) {
    const name = raw.slice('/wasm/'.length);
    if (!(WASM_FILES as readonly string[]).includes(name)) return notFound();
    return sendFile(req, res, join(config.wasmDir, name));
  }
  if (raw.startsWith('/model/')) {
    const file = await resolveInside(config.modelDir, raw.slice('/model/'.length));
    if (!file) return notFound();
    return sendFile(req, res, file);
  }
  notFound();
}

/** An http.Server for `config` (not yet listening). */
export function createServeServer(config: ServeConfig): Server {
  return createServer((req, res) => {
    handle(config, req, res).catch(() => {
      if (!res.headersSent) send(res, 500, 'internal error\n');
      else res.destroy();
    });
  });
}
