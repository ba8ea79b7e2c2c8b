import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ldm/backend';
import { writeImageGrid, writePng } from './png';

const dir = mkdtempSync(join(tmpdir(), 'ldm-png-'));
beforeAll(async () => {
  await initBackend({ backend: 'cpu' });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Reads a PNG back as stored: the channel count from its header, pixels without sharp's default sRGB conversion. */
async function readRaw(path: string) {
  const meta = await sharp(path).metadata();
  const { data, info } = await sharp(path)
    .toColourspace(meta.channels === 1 ? 'b-w' : 'srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: meta.channels };
}

describe('PNG output', () => {
  it('writePng maps [-1, 1] to 0..255 with clipping, greyscale stays one channel', async () => {
    const path = join(dir, 'one.png');
    await writePng(path, { data: Float32Array.from([-1, 0, 1, 2, -3, 0.5]), shape: [2, 3, 1] });
    const img = await readRaw(path);
    expect([img.width, img.height, img.channels]).toEqual([3, 2, 1]);
    expect(Array.from(img.data)).toEqual([0, 128, 255, 255, 0, 191]);
    expect(readdirSync(dir)).toEqual(['one.png']);
  });

  it('writePng takes an RGB tensor [1, h, w, 3]', async () => {
    const path = join(dir, 'rgb.png');
    const t = tf.tensor4d([1, -1, -1, -1, 1, -1], [1, 1, 2, 3]);
    await writePng(path, t);
    t.dispose();
    const img = await readRaw(path);
    expect([img.width, img.height, img.channels]).toEqual([2, 1, 3]);
    expect(Array.from(img.data)).toEqual([255, 0, 0, 0, 255, 0]);
  });

  it('writeImageGrid lays images out row-major with padding and nearest upscaling', async () => {
    // 5 images 2×3, image i filled with a distinct grey.
    const n = 5;
    const greys = [-1, -0.5, 0, 0.5, 0.8];
    const data = new Float32Array(n * 6);
    greys.forEach((g, i) => data.fill(g, i * 6, (i + 1) * 6));
    data[6 * 2 + 5] = 1; // image 2, bottom-right pixel white
    const path = join(dir, 'grid.png');
    const size = await writeImageGrid(path, { data, shape: [n, 2, 3, 1] }, { nrow: 3, padding: 1, padValue: -1, scale: 2 });
    // 3 columns of 6 px + 4 px padding; 2 rows of 4 px + 3 px padding.
    expect(size).toEqual({ width: 22, height: 11 });
    const img = await readRaw(path);
    expect([img.width, img.height, img.channels]).toEqual([22, 11, 1]);
    const at = (x: number, y: number) => img.data[y * 22 + x];
    const byte = (v: number) => Math.round((v + 1) * 127.5);
    expect(at(0, 0)).toBe(0);
    expect(at(1, 1)).toBe(byte(-1));
    expect(at(8, 1)).toBe(byte(-0.5));
    expect(at(15, 4)).toBe(byte(0));
    expect(at(20, 4)).toBe(255); // image 2's bottom-right pixel, upscaled to 2×2 at x 19..20, y 3..4
    expect(at(19, 3)).toBe(255);
    expect(at(18, 3)).toBe(byte(0));
    expect(at(1, 6)).toBe(byte(0.5)); // row 2 starts at y = 1 + 4 + 1
    expect(at(8, 9)).toBe(byte(0.8));
    expect(at(15, 6)).toBe(byte(-1)); // empty last cell is padding
  });

  it('writeImageGrid takes an RGB tensor batch and defaults to a square layout, without leaking tensors', async () => {
    const before = tf.memory().numTensors;
    const t = tf.fill([4, 3, 3, 3], 0);
    const path = join(dir, 'rgb-grid.png');
    const size = await writeImageGrid(path, t);
    t.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(size).toEqual({ width: 2 * 5 + 2, height: 2 * 5 + 2 });
    const img = await readRaw(path);
    expect(img.channels).toBe(3);
    expect(Array.from(img.data.subarray(0, 3))).toEqual([255, 255, 255]);
    expect(Array.from(img.data.subarray((2 * 12 + 2) * 3, (2 * 12 + 2) * 3 + 3))).toEqual([128, 128, 128]);
  });

  it('label adds a caption strip above the grid, text drawn in a contrasting colour, grid unchanged below', async () => {
    const data = new Float32Array(4 * 8 * 8).fill(-1);
    const plain = join(dir, 'plain.png');
    const captioned = join(dir, 'captioned.png');
    const size = await writeImageGrid(plain, { data, shape: [4, 8, 8, 1] });
    const withLabel = await writeImageGrid(captioned, { data, shape: [4, 8, 8, 1] }, { label: 'DDIM 50 steps <&>' });
    expect(withLabel).toEqual({ width: size.width, height: size.height + 20 });
    const a = await readRaw(plain);
    const b = await readRaw(captioned);
    expect(b.channels).toBe(1);
    expect(Buffer.compare(b.data.subarray(20 * size.width), a.data)).toBe(0);
    const caption = Array.from(b.data.subarray(0, 20 * size.width));
    const dark = caption.filter((v) => v < 128).length;
    expect(dark).toBeGreaterThan(20);
    expect(dark).toBeLessThan(caption.length / 2);
  });

  it('rejects shapes that are not images', async () => {
    await expect(writePng(join(dir, 'bad.png'), { data: new Float32Array(4), shape: [2, 2] })).rejects.toThrow(/bad\.png: writePng expects one image/);
    await expect(writeImageGrid(join(dir, 'bad.png'), { data: new Float32Array(8), shape: [2, 2, 1, 2] })).rejects.toThrow(
      /bad\.png: images need 1, 3 or 4 channels, got 2/,
    );
    await expect(writeImageGrid(join(dir, 'bad.png'), { data: new Float32Array(5), shape: [2, 2, 1, 1] })).rejects.toThrow(/shape \[2, 2, 1, 1\] needs 4/);
  });
});
