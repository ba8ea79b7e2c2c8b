import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { defineConfig } from 'tsup';
import type { Options } from 'tsup';
import { failOnWarningsPlugin } from '../../scripts/tsup-strict';

type Plugin = NonNullable<Options['esbuildPlugins']>[number];

/** tfjs-core's ESM file that registers every stock gradient (see src/register-gradients.ts). */
const coreGradients = join(
  dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-core/package.json')),
  'dist/register_all_gradients.js',
);

/** Bundle tfjs-core's gradient registrations in place of the umbrella package the sources import. */
const gradientsWithoutUmbrella: Plugin = {
  name: 'gradients-without-umbrella',
  setup(build) {
    build.onResolve({ filter: /^@tensorflow\/tfjs$/ }, () => ({ path: coreGradients, sideEffects: true }));
  },
};

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // tfjs-core's own modules inside register_all_gradients.js are bundled; the package itself stays external.
  noExternal: [/^@tensorflow\/tfjs$/],
  esbuildPlugins: [gradientsWithoutUmbrella, failOnWarningsPlugin],
});
