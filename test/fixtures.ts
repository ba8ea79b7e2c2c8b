import { Generator } from '@ldm/backend';

/**
 * `n` 8×8×1 images in [−1, 1]: a bright 3×3 square at a random place (seeded) on a dark background. Simple,
 * learnable structure for the training tests of every package; shaped like @ldm/data's ImageDataset.
 */
export function squares(n: number, seed: number, name = 'squares'): { images: Float32Array; shape: [number, number, number, number]; name: string } {
  const g = new Generator(seed);
  const images = new Float32Array(n * 64).fill(-1);
  for (let i = 0; i < n; i++) {
    const x = g.int(5);
    const y = g.int(5);
    for (let dy = 0; dy < 3; dy++) for (let dx = 0; dx < 3; dx++) images[i * 64 + (y + dy) * 8 + x + dx] = 1;
  }
  return { images, shape: [n, 8, 8, 1], name };
}

/** A UNet2DModel config small enough for a training test on 8×8×1 images (one attention level). */
export const TINY_UNET = {
  sampleSize: 8,
  inChannels: 1,
  outChannels: 1,
  blockOutChannels: [8, 16],
  layersPerBlock: 1,
  downBlockTypes: ['DownBlock2D', 'AttnDownBlock2D'],
  upBlockTypes: ['AttnUpBlock2D', 'UpBlock2D'],
  normNumGroups: 4,
  attentionHeadDim: 8,
} as const;

/** Something with named parameters (a Module): what `relativeErrors` compares. */
interface WithParameters {
  parameters(): Map<string, { dataSync(): ArrayLike<number> }>;
}

/** ‖a − b‖ / ‖b‖ for each parameter of two models with the same parameter names. */
export function relativeErrors(a: WithParameters, b: WithParameters): Map<string, number> {
  const errors = new Map<string, number>();
  const pb = b.parameters();
  for (const [name, va] of a.parameters()) {
    const x = va.dataSync();
    const y = pb.get(name)!.dataSync();
    let diff = 0;
    let norm = 0;
    for (let i = 0; i < x.length; i++) {
      diff += (x[i]! - y[i]!) ** 2;
      norm += y[i]! ** 2;
    }
    errors.set(name, Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-12));
  }
  return errors;
}
