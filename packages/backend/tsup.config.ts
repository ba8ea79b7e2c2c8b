import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { defineConfig } from 'tsup';
import type { Options } from 'tsup';
import { failOnWarningsPlugin } from '../../scripts/tsup-strict';

type Plugin = NonNullable<Options['esbuildPlugins']>[number];

/** tfjs-core's ESM file that registers every stock gradient (see src/register-gradients.ts). */
const coreGradients = join(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-core/package.json')), 'dist/register_all_gradients.js');

/**
 * Bundle tfjs-core's gradient registrations in place of the umbrella package the sources import, each
 * registered only where no gradient is registered yet: an app that loads both builds of this package
 * (ESM and CJS) must not have the second one put the stock Conv2D gradient back over the one
 * `initBackend` installed for wasm.
 */
const gradientsWithoutUmbrella: Plugin = {
  name: 'gradients-without-umbrella',
  setup(build) {
    build.onResolve({ filter: /^@tensorflow\/tfjs$/ }, () => ({ path: coreGradients, sideEffects: true }));
    build.onLoad({ filter: /register_all_gradients\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const register = 'registerGradient(gradientConfig);';
      const importLine = "import { registerGradient } from './kernel_registry';";
      if (!source.includes(register) || !source.includes(importLine)) {
        throw new Error(`${args.path}: tfjs-core changed its gradient registration; update tsup.config.ts`);
      }
      const contents = source
        .replace(importLine, "import { getGradient, registerGradient } from './kernel_registry';")
        .replace(register, `if (getGradient(gradientConfig.kernelName) == null) ${register}`);
      return { contents, loader: 'js', resolveDir: dirname(args.path) };
    });
  },
};

export default defineConfig({
  // errors: LdmError alone, for the CLI's option checks, which answer before tfjs is loaded.
  entry: ['src/index.ts', 'src/errors.ts', 'src/browser.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // tfjs-core's own modules inside register_all_gradients.js are bundled; the package itself stays external.
  noExternal: [/^@tensorflow\/tfjs$/],
  esbuildPlugins: [gradientsWithoutUmbrella, failOnWarningsPlugin],
});
