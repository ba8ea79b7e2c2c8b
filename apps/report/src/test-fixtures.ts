import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { Generator } from '@ldm/backend';
import type { ComparisonResults, MethodResult, ScatterPanel } from './results';
import { describeMachine } from './write-report';

/**
 * A complete, made-up comparison with every row the real one has, for tests of the report. The numbers
 * follow the expected shapes (FID falls with steps, time grows with NFE) but are not measurements.
 */
export function fakeResults(): ComparisonResults {
  const g = new Generator(7);
  const shares = (collapse = false): number[] => {
    if (collapse) return [0, 0, 0, 0.97, 0, 0.03, 0, 0, 0, 0];
    const raw = [...g.uniform(10)].map((u) => 0.8 + 0.4 * u);
    const sum = raw.reduce((a, b) => a + b, 0);
    return raw.map((r) => r / sum);
  };
  const row = (m: Omit<MethodResult, 'fidFloor' | 'classShares' | 'samples'> & { classShares?: number[] | null }): MethodResult => ({
    fidFloor: 1.9,
    samples: 1000,
    ...m,
    classShares: m.classShares === undefined ? shares() : m.classShares,
  });
  const methods: MethodResult[] = [
    row({
      name: 'noise',
      label: 'Gaussian noise',
      space: 'pixel',
      sampler: 'baseline',
      steps: null,
      eta: null,
      nfe: 0,
      msPerSample: 0.02,
      peakMemoryMB: 0.1,
      fid: 310.4,
      precision: 0,
      recall: 0,
      classShares: shares(true),
    }),
    row({
      name: 'vae',
      label: 'VAE decode',
      space: 'latent',
      sampler: 'vae',
      steps: 1,
      eta: null,
      nfe: 1,
      msPerSample: 1.3,
      peakMemoryMB: 4.2,
      fid: 38.2,
      precision: 0.55,
      recall: 0.41,
    }),
    row({
      name: 'ddpm-pixel-1000',
      space: 'pixel',
      sampler: 'ddpm',
      steps: 1000,
      eta: null,
      nfe: 1000,
      msPerSample: 4100,
      peakMemoryMB: 21.5,
      fid: 6.1,
      precision: 0.78,
      recall: 0.74,
    }),
    row({
      name: 'ddpm-latent-1000',
      space: 'latent',
      sampler: 'ddpm',
      steps: 1000,
      eta: null,
      nfe: 1001,
      msPerSample: 950,
      peakMemoryMB: 8.3,
      fid: 8.4,
      precision: 0.75,
      recall: 0.7,
    }),
  ];
  for (const space of ['pixel', 'latent'] as const) {
    for (const steps of [1, 2, 5, 10, 20, 50, 100]) {
      const base = space === 'pixel' ? 4.1 : 0.95;
      methods.push(
        row({
          name: `ddim-${space}-${steps}`,
          space,
          sampler: 'ddim',
          steps,
          eta: 0,
          nfe: steps + (space === 'latent' ? 1 : 0),
          msPerSample: base * steps + (space === 'latent' ? 1.3 : 0),
          peakMemoryMB: space === 'pixel' ? 21.5 : 8.3,
          fid: (space === 'pixel' ? 5.5 : 7.9) + 180 / steps ** 1.1,
          precision: Math.min(0.8, 0.2 + 0.12 * Math.log(steps + 1)),
          recall: Math.min(0.75, 0.1 + 0.13 * Math.log(steps + 1)),
        }),
      );
    }
    for (const steps of [10, 50]) {
      methods.push(
        row({
          name: `ddim-${space}-${steps}-eta1`,
          space,
          sampler: 'ddim',
          steps,
          eta: 1,
          nfe: steps,
          msPerSample: (space === 'pixel' ? 4.1 : 0.95) * steps,
          peakMemoryMB: 20,
          fid: 9 + 150 / steps,
          precision: 0.7,
          recall: 0.7,
        }),
      );
    }
  }
  return {
    meta: {
      title: 'Test report',
      date: '2026-11-28T18:00:00Z',
      backend: 'wasm',
      machine: describeMachine(),
      commands: ['pnpm --filter @ldm/eval train-classifier', 'ldm compare --out report --seed 0 --samples 1000'],
      seeds: { sampling: 0, split: 1, timing: 2 },
      dataset: 'MNIST (embedded, 32×32)',
      timing: 'median of 5 repeats after 1 warm-up, batch 16',
      classifier: { path: 'packages/eval/assets/mnist-classifier', heldOutAccuracy: 0.981 },
      notes: ['Numbers in this report are made up for the test.'],
    },
    methods,
  };
}

/** A small PNG grid of random grey blocks per method. */
export async function writeFakeGrids(dir: string, names: string[]): Promise<Record<string, string>> {
  await mkdir(dir, { recursive: true });
  const g = new Generator(3);
  const grids: Record<string, string> = {};
  for (const name of names) {
    const side = 64;
    const pixels = Buffer.from(Uint8Array.from(g.uniform(side * side), (u) => Math.floor(u * 255)));
    const path = join(dir, `${name}.png`);
    await sharp(pixels, { raw: { width: side, height: side, channels: 1 } })
      .png()
      .toFile(path);
    grids[name] = path;
  }
  return grids;
}

/** Three samplers on an 8-mode ring: one exact, one blurred between modes, one that dropped modes. */
export function fakeScatter(): ScatterPanel {
  const g = new Generator(5);
  const means: number[] = [];
  for (let k = 0; k < 8; k++) means.push(2 * Math.cos((2 * Math.PI * k) / 8), 2 * Math.sin((2 * Math.PI * k) / 8));
  const sample = (n: number, std: number, modes: number[]): number[] => {
    const noise = g.normal(2 * n);
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const k = modes[i % modes.length]!;
      out.push(means[2 * k]! + std * noise[2 * i]!, means[2 * k + 1]! + std * noise[2 * i + 1]!);
    }
    return out;
  };
  return {
    dataset: 'ring of 8 Gaussians (σ = 0.05)',
    modeMeans: means,
    modeRadius: 0.25,
    methods: [
      {
        name: 'VAE',
        points: sample(300, 0.4, [0, 1, 2, 3, 4, 5, 6, 7]),
        slicedWasserstein: 0.31,
        mmd: 0.12,
        betweenModes: 0.52,
        modeShares: [0.06, 0.06, 0.06, 0.06, 0.06, 0.06, 0.06, 0.06],
      },
      {
        name: 'DDPM 1000',
        points: sample(300, 0.05, [0, 1, 2, 3, 4, 5, 6, 7]),
        slicedWasserstein: 0.01,
        mmd: 0.001,
        betweenModes: 0.0,
        modeShares: [0.125, 0.125, 0.125, 0.125, 0.125, 0.125, 0.125, 0.125],
      },
      {
        name: 'DDIM 10',
        points: sample(300, 0.08, [0, 2, 4, 6]),
        slicedWasserstein: 0.2,
        mmd: 0.08,
        betweenModes: 0.01,
        modeShares: [0.25, 0, 0.25, 0, 0.25, 0, 0.25, 0],
      },
    ],
  };
}
