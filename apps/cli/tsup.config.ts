import { fileURLToPath } from 'node:url';
import { defineConfig } from 'tsup';
import { strictBuild } from '../../scripts/tsup-strict';
import { buildPage } from './src/serve/page-build';

export default defineConfig({
  entry: ['src/index.ts', 'src/main.ts'],
  format: ['esm'],
  dts: { entry: 'src/index.ts' },
  sourcemap: true,
  clean: true,
  target: 'node20',
  ...strictBuild,
  // `ldm serve`'s page: bundled for browsers from the built packages (their `browser` builds) into dist/page/.
  onSuccess: async () => {
    await buildPage({
      entry: fileURLToPath(new URL('./page/main.ts', import.meta.url)),
      fromSources: false,
      outdir: fileURLToPath(new URL('./dist/page/', import.meta.url)),
    });
  },
});
