import { defineConfig } from 'tsup';
import { strictBuild } from '../../scripts/tsup-strict';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // recipe() names this module by import.meta.url (workers rebuild the model from it); the CJS build needs the shim.
  shims: true,
  ...strictBuild,
});
