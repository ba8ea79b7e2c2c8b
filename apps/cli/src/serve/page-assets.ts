/* What `ldm serve` answers besides the model folder: the page, its script, and tfjs' wasm binaries. */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPage } from './page-build';
import { pageHtml } from './page-html';
import type { PageBackend } from './page-html';

export interface Asset {
  body: Uint8Array;
  type: string;
}

/** The wasm binaries setWasmPaths('/wasm/') makes the page fetch: plain, SIMD, and threaded SIMD (cross-origin-isolated pages only). */
export const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'] as const;

/** The installed @tensorflow/tfjs-backend-wasm's dist folder, where its .wasm files are. */
export function wasmDirectory(): string {
  return dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm'));
}

/**
 * The page: index.html, page.js (and page.js.map from sources). The built CLI has page.js in dist/page/ (beside this
 * module's chunk); run from sources (no dist/page), it is bundled now from apps/cli/page/main.ts.
 * `backend` is the one the page's form starts with.
 */
export async function loadPageAssets(backend: PageBackend): Promise<Map<string, Asset>> {
  const built = fileURLToPath(new URL('./page/', import.meta.url));
  let files: Map<string, Uint8Array>;
  if (existsSync(join(built, 'page.js'))) {
    files = new Map([['page.js', await readFile(join(built, 'page.js'))]]);
  } else {
    files = await buildPage({ entry: fileURLToPath(new URL('../../page/main.ts', import.meta.url)), fromSources: true });
  }
  const assets = new Map<string, Asset>([['index.html', { body: new TextEncoder().encode(pageHtml(backend)), type: 'text/html; charset=utf-8' }]]);
  for (const [name, body] of files) assets.set(name, { body, type: name.endsWith('.map') ? 'application/json' : 'text/javascript; charset=utf-8' });
  return assets;
}
