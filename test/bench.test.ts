import { spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadOneDnn } from '@ldm/backend';
import { expect, it } from 'vitest';

/*
 * `pnpm bench` as a user runs it, in its quick form: every section runs to the end and prints its tables.
 * What it measures is not checked here (speed is the benchmark's job, never a test's); that it runs, times
 * every path on every model and writes its JSON is.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const TSX = import.meta.resolve('tsx');
const native = await loadOneDnn();

function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--conditions=@ldm/source', '--import', TSX, join(root, 'apps/cli/bench/summary.ts'), ...args], {
    cwd: join(root, 'apps/cli'),
    env: { ...process.env, FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

it('pnpm bench --quick runs every section: each model on each path, the loop, sampling and the kernel profile', { timeout: 600_000 }, async () => {
  const results = await mkdtemp(join(tmpdir(), 'ldm-bench-'));
  const { code, stdout, stderr } = await runBench(['--quick', '--sections', 'models,loop,sampling,profile', '--results', results]);
  expect(code, stderr).toBe(0);
  const paths = native ? ['native ×1', 'native ×2', 'wasm ×1'] : ['wasm ×1'];
  for (const model of ['latent UNet (8×8×4)', 'pixel UNet (32×32×1)', 'VAE (32×32×1 → 8×8×4)']) {
    for (const path of paths) expect(stdout).toMatch(new RegExp(`\\| ${model.replace(/[()]/g, '\\$&')} \\| \\d+ \\| ${path} \\| \\d+\\.\\d \\|`));
  }
  const summary = JSON.parse(await readFile(join(results, 'summary.json'), 'utf8')) as {
    results: { name: string; rows: Record<string, { train: number[] }> }[];
    sampling: Record<string, Record<string, number>>;
  };
  expect(summary.results.map((r) => r.name)).toEqual(['latent UNet (8×8×4)', 'pixel UNet (32×32×1)', 'VAE (32×32×1 → 8×8×4)']);
  for (const r of summary.results) for (const path of paths) expect(r.rows[path]!.train[0]).toBeGreaterThan(0);
  // Sampling: per-sample times on each path, and the FLOP ratio printed beside the measured one.
  for (const path of native ? ['native ×1', 'native ×2'] : ['wasm ×1']) {
    expect(summary.sampling[path]!['pixel DDIM-50']).toBeGreaterThan(0);
    expect(stdout).toContain(`sampling on ${path}, ms per sample`);
  }
  expect(stdout).toMatch(/pixel \/ latent DDIM-50 \(target ≥ 8\): \d+\.\d; their FLOP ratio, the ratio at equal GFLOP\/s: 5\.6/);
  if (native) {
    expect(stdout).toMatch(/\| 64 \| \d+\.\d \| \d+\.\d \| \d+\.\d \| \d\.\d\d \(target ≥ 1\.8\)/); // the training loop
    expect(stdout.match(/\| kernel \| calls \/ step \| ms, 1 thread \| ms, 2 threads \| 1 \/ 2 \|/g)).toHaveLength(3);
    expect(stdout).toMatch(/\| Conv2DBackpropFilter \| \d+ \| \d+\.\d\d \| \d+\.\d\d \|/);
  }
});

it('pnpm bench refuses a wrong --rounds in one line, before it times anything', async () => {
  for (const value of ['0', '2.5', 'x']) {
    const { code, stdout, stderr } = await runBench(['--rounds', value]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toEqual([`bench: --rounds takes a whole number ≥ 1, got '${value}'`]);
  }
});
