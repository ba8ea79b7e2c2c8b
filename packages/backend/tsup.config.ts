import { defineConfig } from 'tsup';

export default defineConfig({
  // errors: LdmError alone, for the CLI's option checks, which answer before tfjs is loaded.
  entry: ['src/index.ts', 'src/errors.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
});
