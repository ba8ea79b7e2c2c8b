import { defineConfig } from 'tsup';
import { strictBuild } from '../../scripts/tsup-strict';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // loadMnist finds the `mnist` package with createRequire(import.meta.url), which CJS needs shimmed.
  shims: true,
  ...strictBuild,
});
