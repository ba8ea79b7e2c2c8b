import { mkdir } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { writeImageGrid, writeNpy, writePng } from '@ldm/data';

/**
 * Writes images in [−1, 1] where --out says: `FILE.png` a grid, `FILE.npy` float32 [N, H, W, C] in
 * [0, 1] (what Python tools expect of images), anything else a folder with one PNG per sample.
 */
export async function writeSamples(out: string, images: { data: Float32Array; shape: [number, number, number, number] }): Promise<string> {
  const ext = extname(out).toLowerCase();
  if (ext === '.png') {
    await writeImageGrid(out, images, { nrow: Math.ceil(Math.sqrt(images.shape[0])), scale: 2 });
    return `grid ${out}`;
  }
  if (ext === '.npy') {
    const unit = Float32Array.from(images.data, (v) => Math.min(1, Math.max(0, (v + 1) / 2)));
    await writeNpy(out, unit, images.shape);
    return `array ${out} [${images.shape.join(', ')}] in [0, 1]`;
  }
  await mkdir(out, { recursive: true });
  const [n, h, w, c] = images.shape;
  const size = h * w * c;
  const digits = String(n - 1).length;
  for (let i = 0; i < n; i++) {
    await writePng(join(out, `${String(i).padStart(digits, '0')}.png`), { data: images.data.subarray(i * size, (i + 1) * size), shape: [h, w, c] });
  }
  return `${n} PNG files in ${out}`;
}
