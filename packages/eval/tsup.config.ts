import { defineConfig } from 'tsup';
import { strictBuild } from '../../scripts/tsup-strict';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // loadMnistClassifier finds the shipped folder through import.meta.url, which CJS lacks without the shim.
  shims: true,
  ...strictBuild,
});
