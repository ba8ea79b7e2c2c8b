/**
 * Scheduler overhead per step (the `step` call alone, noise given) against one small-UNet-sized function evaluation.
 * The UNet is written in parallel, so the stand-in is 4 3×3 conv2d layers at 32 channels (C→32→32→32→C) on the same
 * input. Prints a table and writes bench/results/scheduler.json. Run: pnpm bench (wasm backend unless BACKEND=cpu).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { Generator, initBackend, randn } from '@ldm/backend';
import { DDIMScheduler } from '../../ddim/src/index';
import { DDPMScheduler } from '../src/index';
import type { Scheduler, StepOptions } from '../src/index';

const backend = (process.env.BACKEND ?? 'wasm') as 'wasm' | 'cpu';
const REPEATS = Number(process.env.REPEATS ?? 30);
/** Steps are ~0.1 ms, so they get many more runs (and warm-ups: the JIT settles after a few hundred calls). */
const STEP_REPEATS = 10 * REPEATS;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/**
 * Median milliseconds of fn(). The cpu and wasm backends run kernels synchronously, so the call's wall time is its
 * cost; no per-run read-back (a dataSync costs more than a small step and would hide the difference).
 */
function time(fn: () => tf.Tensor, repeats = REPEATS): number {
  for (let i = 0; i < Math.min(repeats, 300); i++) tf.tidy(() => void fn());
  const ms: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    tf.tidy(() => void fn());
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

function convStandIn(channels: number, generator: Generator): (x: tf.Tensor) => tf.Tensor {
  const dims = [channels, 32, 32, 32, channels];
  const kernels = dims.slice(0, 4).map((cin, i) => tf.mul(randn([3, 3, cin, dims[i + 1] as number], generator), 0.1));
  return (x) =>
    kernels.reduce((h, k, i) => {
      const y = tf.conv2d(h as tf.Tensor4D, k as tf.Tensor4D, 1, 'same');
      return i < kernels.length - 1 ? tf.relu(y) : y;
    }, x);
}

await initBackend({ backend });
const generator = new Generator(0);
// Two passes; the first warms every code path (JIT, wasm heap growth), the second is reported.
let rows: Record<string, string | number>[] = [];
for (let pass = 0; pass < 2; pass++) {
  rows = [];
  for (const shape of [
    [16, 8, 8, 4],
    [16, 32, 32, 1],
  ]) {
    const x = randn(shape, generator);
    const out = randn(shape, generator);
    const noise = randn(shape, generator);
    const net = convStandIn(shape[3] as number, generator);
    const netMs = time(() => net(x));
    const ddpm = new DDPMScheduler({ clipSample: false });
    ddpm.setTimesteps(1000);
    const ddim = new DDIMScheduler({ clipSample: false });
    ddim.setTimesteps(50);
    const cases: [string, Scheduler, number, StepOptions][] = [
      ['DDPM step', ddpm, 500, { noise }],
      ['DDIM step η=0', ddim, 500, { eta: 0 }],
      ['DDIM step η=1', ddim, 500, { eta: 1, noise }],
    ];
    for (const [name, sched, t, options] of cases) {
      const stepMs = time(() => sched.step(out, t, x, options).prevSample, STEP_REPEATS);
      rows.push({
        shape: `[${shape.join(',')}]`,
        scheduler: name,
        step_ms: +stepMs.toFixed(3),
        function_eval_ms: +netMs.toFixed(3),
        overhead_percent: +((100 * stepMs) / netMs).toFixed(2),
      });
    }
    tf.dispose([x, out, noise]);
  }
}

console.log(
  `backend ${backend}; function evaluation = stand-in of 4 conv2d 3×3 layers at 32 channels (not the real UNet); median of ${REPEATS} (function) / ${STEP_REPEATS} (step) runs`,
);
console.table(rows);
const outPath = join(dirname(fileURLToPath(import.meta.url)), 'results', 'scheduler.json');
mkdirSync(dirname(outPath), { recursive: true });
writeFileSync(
  outPath,
  `${JSON.stringify({ backend, repeats_function: REPEATS, repeats_step: STEP_REPEATS, function_eval: '4 conv2d 3x3 layers at 32 channels (stand-in for the small UNet)', target_overhead_percent: 5, rows }, null, 2)}\n`,
);
console.log(`wrote ${outPath}`);
