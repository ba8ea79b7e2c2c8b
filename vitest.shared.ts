import { defineConfig } from 'vitest/config';

/**
 * Tests resolve sibling packages to their TypeScript source (the `@ldm/source` export condition),
 * so no build is needed first. tfjs is loaded by Node itself (its CommonJS bundles), as in
 * production: one copy, and no per-file transform of its ESM sources.
 */
export default defineConfig({
  resolve: { conditions: ['@ldm/source', 'import', 'default'] },
  ssr: { resolve: { conditions: ['@ldm/source', 'import', 'default'] } },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    server: { deps: { external: [/@tensorflow/] } },
  },
});
