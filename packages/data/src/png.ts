import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { LdmError, writeFileAtomic } from '@ldm/backend';
import { signedToByte } from './dataset';

/** Images given either as a tensor or as a flat NHWC / HWC array with its shape; values in [-1, 1]. */
export type ImageInput = tf.Tensor | { data: Float32Array; shape: number[] };

async function toArray(input: ImageInput): Promise<{ data: Float32Array; shape: number[] }> {
  if (input instanceof tf.Tensor) return { data: (await input.data()) as Float32Array, shape: input.shape };
  const count = input.shape.reduce((a, b) => a * b, 1);
  if (count !== input.data.length) {
    throw new LdmError('SHAPE_MISMATCH', `image data has ${input.data.length} values, shape [${input.shape.join(', ')}] needs ${count}`);
  }
  return input;
}

function checkChannels(c: number, path: string): void {
  if (c !== 1 && c !== 3 && c !== 4) throw new LdmError('SHAPE_MISMATCH', `${path}: images need 1, 3 or 4 channels, got ${c}`);
}

async function encodePng(bytes: Uint8Array, height: number, width: number, channels: number): Promise<Uint8Array> {
  const raw = { width, height, channels: channels as 1 | 3 | 4 };
  // Without an explicit colourspace libvips promotes one-channel raw data to sRGB on output.
  const image = sharp(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { raw });
  return (channels === 1 ? image.toColourspace('b-w') : image).png().toBuffer();
}

/** Writes one image [h, w, c] (or [1, h, w, c]) in [-1, 1] as an 8-bit PNG; values outside the range are clipped. */
export async function writePng(path: string, image: ImageInput): Promise<void> {
  const { data, shape } = await toArray(image);
  const dims = shape.length === 4 && shape[0] === 1 ? shape.slice(1) : shape;
  if (dims.length !== 3) throw new LdmError('SHAPE_MISMATCH', `${path}: writePng expects one image [h, w, c], got shape [${shape.join(', ')}]`);
  const [h, w, c] = dims as [number, number, number];
  checkChannels(c, path);
  const bytes = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) bytes[i] = signedToByte(data[i]!);
  await writeFileAtomic(path, await encodePng(bytes, h, w, c), { mkdir: true });
}

export interface ImageGridOptions {
  /** Images per row; default ceil(sqrt(n)), as square as possible. */
  nrow?: number;
  /** Pixels between and around images (not scaled). Default 2. */
  padding?: number;
  /** Value of the padding, in [-1, 1]. Default 1 (white), so dark-background digits stay apart. */
  padValue?: number;
  /** Integer nearest-neighbour upscaling of each image, so 32×32 samples stay visible. Default 1. */
  scale?: number;
  /** A one-line caption drawn in a strip above the grid (e.g. the model and step). */
  label?: string;
}

const CAPTION_HEIGHT = 20;

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** A caption strip [CAPTION_HEIGHT, width, channels] rendered by sharp's SVG support, on the padding colour. */
async function captionStrip(text: string, width: number, background: number, channels: number): Promise<Uint8Array> {
  const fg = background >= 128 ? 'black' : 'white';
  const bg = `rgb(${background},${background},${background})`;
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${CAPTION_HEIGHT}">` +
    `<rect width="100%" height="100%" fill="${bg}"/>` +
    `<text x="4" y="15" font-family="DejaVu Sans, sans-serif" font-size="13" fill="${fg}">${escapeXml(text)}</text></svg>`;
  let image = sharp(Buffer.from(svg)).flatten({ background: { r: background, g: background, b: background } });
  image = channels === 1 ? image.toColourspace('b-w') : channels === 4 ? image.toColourspace('srgb').ensureAlpha(1) : image.toColourspace('srgb');
  const { data, info } = await image.raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== channels || info.width !== width || info.height !== CAPTION_HEIGHT) {
    throw new LdmError(
      'INVALID_ARGUMENT',
      `image grid: caption rendered as ${info.width}×${info.height}×${info.channels}, expected ${width}×${CAPTION_HEIGHT}×${channels}`,
    );
  }
  return data;
}

/** The grid as bytes [height, width, c], laid out as torchvision's make_grid (row-major, padding all round). */
export function imageGridPixels(
  data: Float32Array,
  shape: number[],
  options: ImageGridOptions = {},
): { bytes: Uint8Array; height: number; width: number; channels: number } {
  if (shape.length !== 4) throw new LdmError('SHAPE_MISMATCH', `image grid expects images [n, h, w, c], got shape [${shape.join(', ')}]`);
  const [n, h, w, c] = shape as [number, number, number, number];
  const { padding = 2, padValue = 1, scale = 1 } = options;
  const nrow = options.nrow ?? Math.ceil(Math.sqrt(n));
  for (const [name, v, min] of [
    ['nrow', nrow, 1],
    ['padding', padding, 0],
    ['scale', scale, 1],
  ] as const) {
    if (!Number.isInteger(v) || v < min) throw new LdmError('INVALID_ARGUMENT', `image grid: ${name} must be an integer ≥ ${min}, got ${v}`);
  }
  if (n === 0) throw new LdmError('INVALID_ARGUMENT', 'image grid: no images');
  const cols = Math.min(nrow, n);
  const rows = Math.ceil(n / cols);
  const cellH = h * scale;
  const cellW = w * scale;
  const height = rows * (cellH + padding) + padding;
  const width = cols * (cellW + padding) + padding;
  const bytes = new Uint8Array(height * width * c).fill(signedToByte(padValue));
  for (let i = 0; i < n; i++) {
    const top = padding + Math.floor(i / cols) * (cellH + padding);
    const left = padding + (i % cols) * (cellW + padding);
    for (let y = 0; y < cellH; y++) {
      const srcRow = (i * h + Math.floor(y / scale)) * w;
      for (let x = 0; x < cellW; x++) {
        const src = (srcRow + Math.floor(x / scale)) * c;
        const dst = ((top + y) * width + left + x) * c;
        for (let k = 0; k < c; k++) bytes[dst + k] = signedToByte(data[src + k]!);
      }
    }
  }
  return { bytes, height, width, channels: c };
}

/** Writes images [n, h, w, c] in [-1, 1] as one PNG grid (greyscale or RGB). */
export async function writeImageGrid(path: string, images: ImageInput, options: ImageGridOptions = {}): Promise<{ width: number; height: number }> {
  const { data, shape } = await toArray(images);
  checkChannels(shape[3] ?? 0, path);
  const grid = imageGridPixels(data, shape, options);
  let { bytes, height } = grid;
  if (options.label !== undefined && options.label.length > 0) {
    const caption = await captionStrip(options.label, grid.width, signedToByte(options.padValue ?? 1), grid.channels);
    bytes = new Uint8Array(caption.length + grid.bytes.length);
    bytes.set(caption, 0);
    bytes.set(grid.bytes, caption.length);
    height += CAPTION_HEIGHT;
  }
  await writeFileAtomic(path, await encodePng(bytes, height, grid.width, grid.channels), { mkdir: true });
  return { width: grid.width, height };
}
