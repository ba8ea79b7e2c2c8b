import { defineConfig } from 'tsup';
import { strictBuild } from '../../scripts/tsup-strict';

export default defineConfig({
  entry: ['src/index.ts', 'src/main.ts'],
  format: ['esm'],
  dts: { entry: 'src/index.ts' },
  sourcemap: true,
  clean: true,
  target: 'node20',
  ...strictBuild,
});
