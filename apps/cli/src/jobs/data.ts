import { Generator } from '@ldm/backend';
import { loadDataset, splitHeldOut } from '@ldm/data';
import type { ImageDataset } from '@ldm/data';

/** The dataset named on the command line, split into training and held-out parts by the seed. */
export async function loadSplit(spec: string, heldOut: number, seed: number, limit?: number): Promise<{ train: ImageDataset; heldOut: ImageDataset }> {
  const data = await loadDataset(spec, limit === undefined ? {} : { limit });
  if (heldOut <= 0) return { train: data, heldOut: { ...data, images: new Float32Array(0), shape: [0, data.shape[1], data.shape[2], data.shape[3]] } };
  return splitHeldOut(data, heldOut, new Generator(seed).split('held-out'));
}

/** The first `n` images of a dataset as a flat array with its shape. */
export function firstImages(ds: ImageDataset, n: number): { data: Float32Array; shape: [number, number, number, number] } {
  const [, h, w, c] = ds.shape;
  const k = Math.min(n, ds.shape[0]);
  return { data: ds.images.slice(0, k * h * w * c), shape: [k, h, w, c] };
}

/** `count` images of `ds` drawn at random without replacement (all of them, shuffled, if it has fewer). */
export function pickRandomImages(ds: ImageDataset, count: number, generator: Generator): { data: Float32Array; shape: [number, number, number, number] } {
  const [n, h, w, c] = ds.shape;
  const size = h * w * c;
  const order = generator.permutation(n).subarray(0, Math.min(count, n));
  const data = new Float32Array(order.length * size);
  order.forEach((j, i) => data.set(ds.images.subarray(j * size, (j + 1) * size), i * size));
  return { data, shape: [order.length, h, w, c] };
}
