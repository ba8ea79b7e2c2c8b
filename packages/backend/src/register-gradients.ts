/*
 * Registers tfjs' stock gradients (tfjs-core's bundles register none; training needs them).
 *
 * - From source (the workspace: vitest, tsx) this loads the `@tensorflow/tfjs` umbrella, a
 *   devDependency, whose Node bundle registers them into tfjs' global gradient registry: tfjs-core's
 *   own `dist/register_all_gradients.js` uses directory imports that Node cannot load.
 * - In the built package, tsup.config.ts redirects this import to that tfjs-core file and bundles it
 *   (about 300 kB), so an installed @ldm/backend needs no umbrella (224 MB with layers, converter,
 *   webgl, data). The bundled copy of those tfjs-core modules uses the same global engine and gradient
 *   registry as the installed tfjs-core, as every copy of tfjs-core does.
 *
 * This file is listed in package.json's `sideEffects`, or bundlers drop the import below.
 */
import '@tensorflow/tfjs';
