import type { Generator } from '@ldm/backend';
import { LdmError } from '@ldm/backend';
import { selectImages } from './dataset';
import type { ImageDataset } from './dataset';

/**
 * Holds out round(n × fraction) images chosen by the generator; both parts keep the source order,
 * so the same seed always gives the same split.
 */
export function splitHeldOut(ds: ImageDataset, fraction: number, generator: Generator): { train: ImageDataset; heldOut: ImageDataset } {
  const n = ds.shape[0];
  if (!(fraction >= 0 && fraction < 1)) {
    throw new LdmError('INVALID_ARGUMENT', `splitHeldOut: fraction must be in [0, 1), got ${fraction}`);
  }
  const heldCount = Math.round(n * fraction);
  const order = generator.permutation(n);
  const held = Int32Array.from(order.subarray(0, heldCount)).sort();
  const train = Int32Array.from(order.subarray(heldCount)).sort();
  return {
    train: selectImages(ds, train, `${ds.name}[train]`),
    heldOut: selectImages(ds, held, `${ds.name}[held-out]`),
  };
}
