/*
 * Time per DDIM sample of a pipeline folder in headless Chromium (`ldm serve`'s page, wasm backend) next to
 * Node (`--backend wasm` and `native`), same folder, same steps, same batch; each after one warm-up run.
 *   node --conditions=@ldm/source --import tsx test/serve-timing.ts DIR [steps=50] [count=16] [repeats=3]
 */
import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '@ldm/backend';
import { loadPipeline } from '@ldm/pipeline';

const [model, stepsArg = '50', countArg = '16', repeatsArg = '3'] = process.argv.slice(2);
if (!model) throw new Error('usage: serve-timing.ts DIR [steps] [count] [repeats]');
const steps = Number(stepsArg);
const count = Number(countArg);
const repeats = Number(repeatsArg);
const root = fileURLToPath(new URL('..', import.meta.url));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function node(backend: 'wasm' | 'native'): Promise<number[]> {
  await initBackend({ backend });
  const pipeline = await loadPipeline(model!);
  const times: number[] = [];
  for (let r = 0; r <= repeats; r++) {
    const t0 = performance.now();
    const { images } = pipeline.generate({ sampler: 'ddim', steps, count, seed: r });
    await images.data();
    images.dispose();
    if (r > 0) times.push((performance.now() - t0) / count);
  }
  pipeline.dispose();
  return times;
}

async function browser(): Promise<{ times: number[]; kernels: string }> {
  const { chromium } = createRequire(import.meta.url)('playwright-core') as typeof import('playwright-core');
  const server = spawn(
    process.execPath,
    ['--conditions=@ldm/source', '--import', 'tsx', join(root, 'apps/cli/src/main.ts'), 'serve', '--model', model!, '--port', '0'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const base = await new Promise<string>((resolve) => server.stdout!.once('data', (d: Buffer) => resolve(d.toString().split('\n')[0]!.trim())));
  const context = await chromium.launchPersistentContext(await mkdtemp(join(tmpdir(), 'ldm-chromium-profile-')), {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await context.newPage();
    const times: number[] = [];
    let kernels = '';
    // preview=0: the sampler alone (no decode every tenth of the steps), as Node runs it.
    await page.goto(`${base}?sampler=ddim&steps=${steps}&count=${count}&seed=0&backend=wasm&preview=0`);
    for (let r = 0; r <= repeats; r++) {
      if (r > 0) {
        await page.fill('input[name=seed]', String(r));
        await page.click('#generate');
      }
      await page.waitForSelector('#samples[data-status=running]', { state: 'detached', timeout: 600_000 }).catch(() => {});
      await page.waitForSelector('#samples[data-status=done], #samples[data-status=error]', { timeout: 600_000 });
      const result = await page.evaluate(() => (globalThis as unknown as { ldm?: { msPerSample: number; kernels: string } }).ldm);
      if (!result) throw new Error(`the page failed: ${await page.textContent('#samples .message')}`);
      kernels = result.kernels;
      if (r > 0) times.push(result.msPerSample);
    }
    return { times, kernels };
  } finally {
    await context.close();
    server.kill('SIGINT');
  }
}

const page = await browser();
const wasm = await node('wasm');
const native = await node('native');
const fmt = (xs: number[]) => `${median(xs).toFixed(1)} ms (runs: ${xs.map((x) => x.toFixed(1)).join(', ')})`;
console.log(`DDIM-${steps}, ${count} samples a batch, ${model}; per sample, median of ${repeats} after a warm-up:`);
console.log(`  Chromium, ldm serve page, wasm (${page.kernels}): ${fmt(page.times)}`);
console.log(`  Node, --backend wasm:   ${fmt(wasm)}`);
console.log(`  Node, --backend native: ${fmt(native)}`);
