import { LdmError } from '@ldm/backend';

/** Images in NHWC order with values in [-1, 1], the range the VAE and the DDPM are trained on. */
export interface ImageDataset {
  images: Float32Array;
  shape: [n: number, h: number, w: number, c: number];
  /** One class index per image, when the source has classes. */
  labels?: Int32Array;
  numClasses?: number;
  /** Class names by index (folder names for an image folder). */
  classNames?: string[];
  /** Where it came from, e.g. 'mnist' or 'idx:/path/to/file'. */
  name: string;
}

/** The side the default UNet and VAE configs expect. */
export const DEFAULT_IMAGE_SIZE = 32;

/** Maps a byte in [0, 255] to [-1, 1]. */
export function byteToSigned(v: number): number {
  return v / 127.5 - 1;
}

/** Maps a value in [-1, 1] to a byte, clamping out-of-range values (samples overshoot). */
export function signedToByte(v: number): number {
  const b = Math.round((v + 1) * 127.5);
  return b < 0 ? 0 : b > 255 ? 255 : Number.isNaN(b) ? 0 : b;
}

/**
 * Pads every image to 32×32 with -1 (the background of MNIST-style data), centred;
 * 28×28 gets 2 px each side. Images already 32×32 come back unchanged.
 */
export function padImagesTo32(ds: ImageDataset, source: string): ImageDataset {
  const [n, h, w, c] = ds.shape;
  const size = DEFAULT_IMAGE_SIZE;
  if (h === size && w === size) return ds;
  if (h > size || w > size) {
    throw new LdmError('INVALID_ARGUMENT', `${source}: padTo32 asked for, but its images are ${h}×${w}, larger than 32×32`);
  }
  const top = Math.floor((size - h) / 2);
  const left = Math.floor((size - w) / 2);
  const out = new Float32Array(n * size * size * c).fill(-1);
  const rowLen = w * c;
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < h; y++) {
      const src = (i * h + y) * w * c;
      const dst = ((i * size + y + top) * size + left) * c;
      out.set(ds.images.subarray(src, src + rowLen), dst);
    }
  }
  return { ...ds, images: out, shape: [n, size, size, c] };
}

/** A new dataset holding the images at `indices`, in that order. */
export function selectImages(ds: ImageDataset, indices: ArrayLike<number>, name = ds.name): ImageDataset {
  const [n, h, w, c] = ds.shape;
  const size = h * w * c;
  const images = new Float32Array(indices.length * size);
  const labels = ds.labels ? new Int32Array(indices.length) : undefined;
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    if (!Number.isInteger(i) || i < 0 || i >= n) {
      throw new LdmError('INVALID_ARGUMENT', `selectImages: index ${i} is outside ${ds.name}'s ${n} images`);
    }
    images.set(ds.images.subarray(i * size, (i + 1) * size), k * size);
    if (labels && ds.labels) labels[k] = ds.labels[i]!;
  }
  const out: ImageDataset = { images, shape: [indices.length, h, w, c], name };
  if (labels) out.labels = labels;
  if (ds.numClasses !== undefined) out.numClasses = ds.numClasses;
  if (ds.classNames) out.classNames = ds.classNames;
  return out;
}
