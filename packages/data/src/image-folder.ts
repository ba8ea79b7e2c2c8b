import { readdir } from 'node:fs/promises';
import type { Dirent } from 'node:fs';
import { join, relative } from 'node:path';
import sharp from 'sharp';
import { LdmError } from '@ldm/backend';
import { byteToSigned } from './dataset';
import type { ImageDataset } from './dataset';

export interface ImageFolderOptions {
  /** Output size: a side or [height, width]. Without it every image must already have the same size. */
  size?: number | [number, number];
  /** 1 = greyscale, 3 = RGB (alpha is flattened onto black). Default 3. */
  channels?: 1 | 3;
  /** How to reach `size` when the aspect ratio differs: crop the centre, letterbox with black, or stretch. Default 'cover'. */
  fit?: 'cover' | 'contain' | 'fill';
  /** In a folder of images (no class subfolders), also read images in subfolders. Default false. */
  recursive?: boolean;
}

const DECODE_CONCURRENCY = 8;

async function listFiles(dir: string, recursive: boolean): Promise<{ files: string[]; subdirs: string[] }> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new LdmError('FILE_NOT_FOUND', `${dir}: image folder not found`, { cause: error });
    if (code === 'ENOTDIR') throw new LdmError('INVALID_ARGUMENT', `${dir}: expected a folder of images, got a file`, { cause: error });
    throw new LdmError('BAD_DATA', `${dir}: cannot list the folder (${(error as Error).message})`, { cause: error });
  }
  const files: string[] = [];
  const subdirs: string[] = [];
  // Hidden entries (.DS_Store, .git) are never images; everything else must decode.
  for (const e of entries.filter((x) => !x.name.startsWith('.')).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const full = join(dir, e.name);
    if (e.isDirectory()) subdirs.push(full);
    else if (e.isFile() || e.isSymbolicLink()) files.push(full);
  }
  if (recursive) {
    for (const sub of subdirs) files.push(...(await listFiles(sub, true)).files);
  }
  return { files, subdirs };
}

/** Images larger than this (16 megapixels, 4096²) are refused: a 12000² PNG decodes to gigabytes. */
export const MAX_IMAGE_PIXELS = 4096 * 4096;
/** A folder's images, as float32 in memory, may take at most this much. */
export const MAX_FOLDER_BYTES = 2 ** 31;

async function decode(file: string, options: Required<Omit<ImageFolderOptions, 'size'>> & { size?: [number, number] }, root: string) {
  // sharp reads the size from the header and refuses beyond the cap before decoding a pixel.
  let pipeline = sharp(file, { failOn: 'error', limitInputPixels: MAX_IMAGE_PIXELS }).rotate();
  if (options.size) {
    const [h, w] = options.size;
    pipeline = pipeline.resize(w, h, { fit: options.fit, background: { r: 0, g: 0, b: 0, alpha: 1 } });
  }
  pipeline = pipeline.flatten({ background: { r: 0, g: 0, b: 0 } });
  pipeline = options.channels === 1 ? pipeline.greyscale().toColourspace('b-w') : pipeline.toColourspace('srgb');
  try {
    // 16-bit PNG/TIFF come out as 8-bit: the [-1, 1] mapping assumes bytes.
    const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== options.channels) {
      throw new Error(`decoded to ${info.channels} channels, expected ${options.channels}`);
    }
    return { data, height: info.height, width: info.width };
  } catch (error) {
    throw new LdmError('BAD_DATA', `${file}: not a readable image (${(error as Error).message.split('\n')[0]}) in folder ${root}`, { cause: error });
  }
}

/**
 * Reads a folder of images (PNG, JPEG, WebP, GIF, TIFF, AVIF… anything sharp decodes) into [-1, 1].
 * When the folder holds only subfolders, each subfolder is a class (sorted names, as torchvision's ImageFolder)
 * and its images, at any depth, carry that label.
 */
export async function loadImageFolder(dir: string, options: ImageFolderOptions = {}): Promise<ImageDataset> {
  const channels = options.channels ?? 3;
  const fit = options.fit ?? 'cover';
  const recursive = options.recursive ?? false;
  if (channels !== 1 && channels !== 3) throw new LdmError('INVALID_ARGUMENT', `loadImageFolder: channels must be 1 or 3, got ${String(channels)}`);
  if (!['cover', 'contain', 'fill'].includes(fit))
    throw new LdmError('INVALID_ARGUMENT', `loadImageFolder: fit must be 'cover', 'contain' or 'fill', got '${fit}'`);
  let size: [number, number] | undefined;
  if (options.size !== undefined) {
    size = typeof options.size === 'number' ? [options.size, options.size] : options.size;
    if (!size.every((s) => Number.isInteger(s) && s > 0)) {
      throw new LdmError('INVALID_ARGUMENT', `loadImageFolder: size must be a positive integer or [height, width], got ${JSON.stringify(options.size)}`);
    }
  }

  const top = await listFiles(dir, recursive);
  let files: string[];
  let labels: number[] | undefined;
  let classNames: string[] | undefined;
  if (top.files.length === 0 && top.subdirs.length > 0) {
    files = [];
    labels = [];
    classNames = top.subdirs.map((d) => relative(dir, d));
    for (const [label, sub] of top.subdirs.entries()) {
      const inClass = (await listFiles(sub, true)).files;
      files.push(...inClass);
      labels.push(...inClass.map(() => label));
    }
  } else {
    files = top.files;
  }
  if (files.length === 0) throw new LdmError('BAD_DATA', `${dir}: the image folder is empty (no image files found)`);

  const decodeOptions = size ? { channels, fit, recursive, size } : { channels, fit, recursive };
  const decoded: Awaited<ReturnType<typeof decode>>[] = [];
  for (let i = 0; i < files.length; i += DECODE_CONCURRENCY) {
    decoded.push(...(await Promise.all(files.slice(i, i + DECODE_CONCURRENCY).map((f) => decode(f, decodeOptions, dir)))));
  }
  const first = decoded[0]!;
  const [h, w] = [first.height, first.width];
  const pixelsPerImage = h * w * channels;
  if (files.length * pixelsPerImage * 4 > MAX_FOLDER_BYTES) {
    throw new LdmError(
      'BAD_DATA',
      `${dir}: ${files.length} images of ${h}×${w}×${channels} need ${((files.length * pixelsPerImage * 4) / 2 ** 30).toFixed(1)} GiB as float32, more than ${MAX_FOLDER_BYTES / 2 ** 30} GiB; pass a smaller size`,
    );
  }
  const images = new Float32Array(files.length * pixelsPerImage);
  decoded.forEach((img, i) => {
    if (img.height !== h || img.width !== w) {
      throw new LdmError(
        'BAD_DATA',
        `${files[i]}: ${img.height}×${img.width} pixels but ${files[0]} is ${h}×${w}; pass a size (e.g. size: 32) to resize the folder ${dir}`,
      );
    }
    for (let k = 0; k < pixelsPerImage; k++) images[i * pixelsPerImage + k] = byteToSigned(img.data[k]!);
  });
  const ds: ImageDataset = { images, shape: [files.length, h, w, channels], name: `folder:${dir}` };
  if (labels && classNames) {
    ds.labels = Int32Array.from(labels);
    ds.numClasses = classNames.length;
    ds.classNames = classNames;
  }
  return ds;
}
