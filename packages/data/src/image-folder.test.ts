import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { LdmError } from '@ldm/backend';
import { loadImageFolder } from './image-folder';
import { loadDataset } from './dataset-spec';

const root = mkdtempSync(join(tmpdir(), 'ldm-folder-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A solid-colour RGB image. */
async function solid(path: string, w: number, h: number, rgb: [number, number, number], format: 'png' | 'jpeg' | 'webp' = 'png'): Promise<void> {
  const img = sharp({ create: { width: w, height: h, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });
  await (format === 'png' ? img.png() : format === 'jpeg' ? img.jpeg({ quality: 100 }) : img.webp({ lossless: true })).toFile(path);
}

async function expectLdmError(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(LdmError.isInstance(error)).toBe(true);
  expect((error as LdmError).code).toBe(code);
  expect((error as Error).message).toMatch(pattern);
}

describe('loadImageFolder', () => {
  it('reads PNG, JPEG and WebP of one size as RGB in [-1, 1], in sorted file order', async () => {
    const dir = join(root, 'flat');
    mkdirSync(dir);
    await solid(join(dir, 'a.png'), 6, 4, [255, 0, 0]);
    await solid(join(dir, 'b.jpg'), 6, 4, [0, 0, 255], 'jpeg');
    await solid(join(dir, 'c.webp'), 6, 4, [0, 255, 0], 'webp');
    writeFileSync(join(dir, '.DS_Store'), 'not an image, but hidden');
    const ds = await loadImageFolder(dir);
    expect(ds.shape).toEqual([3, 4, 6, 3]);
    expect(ds.labels).toBeUndefined();
    const pixel = (i: number) => Array.from(ds.images.subarray(i * 72, i * 72 + 3));
    expect(pixel(0)).toEqual([1, -1, -1]);
    // JPEG is lossy even at quality 100: allow a few grey levels.
    pixel(1).forEach((v, k) => expect(Math.abs(v - [-1, -1, 1][k]!)).toBeLessThan(0.05));
    expect(pixel(2)).toEqual([-1, 1, -1]);
  });

  it('resizes mixed sizes to `size`, converts to greyscale, and uses class subfolders as labels', async () => {
    const dir = join(root, 'classes');
    mkdirSync(join(dir, 'cats', 'nested'), { recursive: true });
    mkdirSync(join(dir, 'dogs'));
    await solid(join(dir, 'cats', 'x.png'), 10, 20, [255, 255, 255]);
    await solid(join(dir, 'cats', 'nested', 'y.png'), 7, 7, [0, 0, 0]);
    await solid(join(dir, 'dogs', 'z.png'), 30, 12, [128, 128, 128]);
    // A 16-bit PNG reads as the same 8-bit values.
    await sharp({ create: { width: 9, height: 9, channels: 3, background: { r: 128, g: 128, b: 128 } } })
      .toColourspace('rgb16')
      .png()
      .toFile(join(dir, 'dogs', 'z16.png'));
    const ds = await loadImageFolder(dir, { size: 8, channels: 1, fit: 'fill' });
    expect(ds.shape).toEqual([4, 8, 8, 1]);
    expect(ds.classNames).toEqual(['cats', 'dogs']);
    expect(Array.from(ds.labels!)).toEqual([0, 0, 1, 1]);
    expect(ds.numClasses).toBe(2);
    const img = (i: number) => Array.from(ds.images.subarray(i * 64, (i + 1) * 64));
    expect(new Set(img(0))).toEqual(new Set([1]));
    expect(new Set(img(1))).toEqual(new Set([-1]));
    for (const v of [...img(2), ...img(3)]) expect(v).toBeCloseTo(128 / 127.5 - 1, 5);
  });

  it("fit 'contain' letterboxes with black, 'cover' crops the centre", async () => {
    const dir = join(root, 'wide');
    mkdirSync(dir);
    await solid(join(dir, 'w.png'), 16, 8, [255, 255, 255]);
    const contain = await loadImageFolder(dir, { size: [8, 8], channels: 1, fit: 'contain' });
    const cover = await loadImageFolder(dir, { size: [8, 8], channels: 1, fit: 'cover' });
    // 16×8 into 8×8 keeps a 4-row white band between two 2-row black bands.
    const rows = Array.from({ length: 8 }, (_, y) => contain.images[y * 8 + 4]);
    expect(rows).toEqual([-1, -1, 1, 1, 1, 1, -1, -1]);
    expect(new Set(cover.images)).toEqual(new Set([1]));
  });

  it('recursive reads images in subfolders of a flat folder', async () => {
    const dir = join(root, 'deep');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    await solid(join(dir, 'top.png'), 4, 4, [0, 0, 0]);
    await solid(join(dir, 'sub', 'low.png'), 4, 4, [255, 255, 255]);
    expect((await loadImageFolder(dir, { channels: 1 })).shape[0]).toBe(1);
    const deep = await loadImageFolder(dir, { channels: 1, recursive: true });
    expect(deep.shape).toEqual([2, 4, 4, 1]);
    expect(deep.labels).toBeUndefined();
  });

  it('errors name the file: empty folder, non-image file, truncated PNG, mixed sizes, missing folder', async () => {
    const empty = join(root, 'empty');
    mkdirSync(empty);
    await expectLdmError(loadImageFolder(empty), 'BAD_DATA', /empty: the image folder is empty/);
    await expectLdmError(loadImageFolder(join(root, 'nope')), 'FILE_NOT_FOUND', /nope: image folder not found/);

    const text = join(root, 'text');
    mkdirSync(text);
    await solid(join(text, 'ok.png'), 4, 4, [0, 0, 0]);
    writeFileSync(join(text, 'notes.txt'), 'hello');
    await expectLdmError(loadImageFolder(text), 'BAD_DATA', /notes\.txt: not a readable image/);

    const broken = join(root, 'broken');
    mkdirSync(broken);
    const png = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#808080' } })
      .png()
      .toBuffer();
    writeFileSync(join(broken, 'cut.png'), png.subarray(0, png.length / 2));
    await expectLdmError(loadImageFolder(broken), 'BAD_DATA', /cut\.png: not a readable image/);

    const mixed = join(root, 'mixed');
    mkdirSync(mixed);
    await solid(join(mixed, 'a.png'), 4, 4, [0, 0, 0]);
    await solid(join(mixed, 'b.png'), 5, 4, [0, 0, 0]);
    await expectLdmError(loadImageFolder(mixed), 'BAD_DATA', /b\.png: 4×5 pixels but .*a\.png is 4×4; pass a size/);
    expect((await loadImageFolder(mixed, { size: 4 })).shape).toEqual([2, 4, 4, 3]);

    await expectLdmError(loadImageFolder(mixed, { size: 0 }), 'INVALID_ARGUMENT', /size must be a positive integer/);
  });

  it('loadDataset folder:<dir> passes the folder options through', async () => {
    const ds = await loadDataset(`folder:${join(root, 'mixed')}`, { size: 28, channels: 1, padTo32: true });
    expect(ds.shape).toEqual([2, 32, 32, 1]);
    expect(ds.name).toBe(`folder:${join(root, 'mixed')}`);
  });
});
