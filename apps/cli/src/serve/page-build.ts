/*
 * Bundles the page `ldm serve` serves (apps/cli/page/main.ts) with esbuild for browsers: the
 * @ldm packages through their `browser` export condition (no Node modules), tfjs-core and its wasm
 * backend. The CLI's build writes it to dist/page/; run from sources, `ldm serve` bundles it in memory.
 */

export interface PageBuildOptions {
  /** apps/cli/page/main.ts */
  entry: string;
  /** Resolve workspace packages to their TypeScript sources (running from sources) rather than dist/. */
  fromSources: boolean;
  /** Write page.js (and its map) here; otherwise return the files. */
  outdir?: string;
}

/** page.js (and page.js.map from sources) by name. */
export type PageFiles = Map<string, Uint8Array>;

export async function buildPage(options: PageBuildOptions): Promise<PageFiles> {
  // A variable specifier: the built CLI never loads esbuild (its page is prebuilt), so tsup must not bundle it.
  const specifier = 'esbuild';
  const esbuild = (await import(/* @vite-ignore */ specifier)) as typeof import('esbuild');
  const result = await esbuild.build({
    entryPoints: { page: options.entry },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    // A source map (5.8 MB) when bundled from sources, for debugging; the built CLI ships page.js alone (1.3 MB).
    sourcemap: options.fromSources ? 'linked' : false,
    legalComments: 'none',
    conditions: options.fromSources ? ['@ldm/source'] : [],
    define: { 'process.env.NODE_ENV': '"production"' },
    outdir: options.outdir ?? 'page',
    write: options.outdir !== undefined,
    logLevel: 'silent',
  });
  if (result.errors.length > 0) throw new Error(`page bundle: ${result.errors[0]!.text}`);
  const files: PageFiles = new Map();
  for (const file of result.outputFiles ?? []) files.set(file.path.split(/[\\/]/).pop()!, file.contents);
  return files;
}
