import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Generator } from '@ldm/backend';
import { collect, runCli, startCli, writeTinyConfigs } from './cli-helpers';

async function checkpoints(out: string): Promise<number[]> {
  const dir = join(out, 'training', 'checkpoints');
  if (!existsSync(dir)) return [];
  return (await readdir(dir))
    .filter((n) => n.startsWith('ckpt-'))
    .map((n) => Number(n.slice(5)))
    .sort((a, b) => a - b);
}

describe('crash safety', () => {
  it('after SIGKILL at random moments (checkpointing every step, so some kills land mid-write) the run always resumes from a loadable checkpoint', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ldm-kill-'));
    const configs = await writeTinyConfigs(dir);
    const out = join(dir, 'run');
    const args = [
      'train-vae',
      '--backend',
      'wasm',
      '--limit',
      '64',
      '--batch-size',
      '8',
      '--quiet',
      '--steps',
      '100000',
      '--checkpoint-every',
      '1',
      '--sample-every',
      '100000',
      '--model-config',
      configs.vae,
      '--out',
      out,
    ];
    const random = new Generator(2024);
    let previous = 0;
    for (let kill = 0; kill < 10; kill++) {
      const child = startCli(kill === 0 ? args : [...args, '--resume']);
      const done = collect(child);
      // Wait until this run has made progress past the last checkpoint, then kill it after a random delay.
      const started = Date.now();
      while ((await checkpoints(out)).at(-1)! <= previous || (await checkpoints(out)).length === 0) {
        if (Date.now() - started > 60_000) throw new Error(`run ${kill} made no checkpoint in 60 s: ${(await done).stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, random.uniform(1)[0]! * 400));
      child.kill('SIGKILL');
      const result = await done;
      expect(result.signal).toBe('SIGKILL');
      const steps = await checkpoints(out);
      expect(steps.length).toBeGreaterThan(0);
      const latest = steps.at(-1)!;
      expect(latest).toBeGreaterThanOrEqual(previous);
      // The newest checkpoint is whole: its state, weights and optimiser state are all there.
      const ckpt = join(out, 'training', 'checkpoints', `ckpt-${String(latest).padStart(7, '0')}`);
      expect(JSON.parse(await readFile(join(ckpt, 'state.json'), 'utf8')).step).toBe(latest);
      expect(existsSync(join(ckpt, 'model', 'diffusion_pytorch_model.safetensors'))).toBe(true);
      expect(existsSync(join(ckpt, 'optimizer.safetensors'))).toBe(true);
      previous = latest;
    }
    // And the run finishes from where the last kill left it.
    const finish = await runCli([
      ...args.slice(0, args.indexOf('--steps')),
      '--steps',
      String(previous + 2),
      '--checkpoint-every',
      '1',
      '--sample-every',
      '100000',
      '--model-config',
      configs.vae,
      '--out',
      out,
      '--resume',
    ]);
    // The killed run left its lock file; the next run takes the folder over and says so, in one line.
    expect(finish.stderr).toMatch(/^(warning: --out .* is no longer running; taking the folder over\n)?$/);
    expect(finish.code).toBe(0);
    expect(JSON.parse(await readFile(join(out, 'training', 'summary.json'), 'utf8')).steps).toBe(previous + 2);
  });
});
