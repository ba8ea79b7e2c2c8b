import { defineConfig } from 'tsup';
import { strictBuild } from '../../scripts/tsup-strict';

export default defineConfig({
  // The data-parallel worker is its own entry: the engine starts it from dist/data-parallel-worker.js.
  entry: { index: 'src/index.ts', browser: 'src/browser.ts', 'data-parallel-worker': 'src/data-parallel/worker.ts' },
  format: ['esm', 'cjs'],
  dts: { entry: { index: 'src/index.ts', browser: 'src/browser.ts' } },
  sourcemap: true,
  clean: true,
  target: 'node20',
  // import.meta.url locates the data-parallel worker and the replica module; CommonJS needs it shimmed.
  shims: true,
  ...strictBuild,
});
