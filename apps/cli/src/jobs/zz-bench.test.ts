import { it } from 'vitest';
import { initBackend } from '@ldm/backend';
import { buildToyPanel } from './toy2d-panel';
it('bench', async () => {
  const info = await initBackend({ backend: (process.env.BK ?? 'wasm') as 'cpu' });
  console.log('backend', info.name);
  const t0 = performance.now();
  const e = process.env;
  await buildToyPanel({ seed: Number(e.SEED ?? 0), quick: e.QUICK === '1',
    ...(e.VAE ? { vaeSteps: Number(e.VAE) } : {}), ...(e.STEPS ? { ddpmSteps: Number(e.STEPS) } : {}), ...(e.N ? { samples: Number(e.N) } : {}),
    ...(e.SCHED ? { betaSchedule: e.SCHED as 'linear' } : {}), ...(e.LR ? { ddpmLearningRate: Number(e.LR) } : {}),
    onLog: (l) => console.log(((performance.now() - t0) / 1000).toFixed(1), l) });
}, 1200000);
