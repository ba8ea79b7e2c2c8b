import { mkdtemp, readdir, readFile, writeFile, cp } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { collect, runCli, startCli, writeTinyConfigs } from './cli-helpers';

let dir: string;
let configs: { vae: string; unet: string };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ldm-e2e-'));
  configs = await writeTinyConfigs(dir);
});

const common = ['--backend', 'wasm', '--limit', '64', '--batch-size', '8', '--quiet'];

function npyShape(bytes: Buffer): number[] {
  const headerLength = bytes.readUInt16LE(8);
  const header = bytes.subarray(10, 10 + headerLength).toString('latin1');
  return header
    .match(/'shape': \(([^)]*)\)/)![1]!
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
}

describe('ldm, run as a user runs it', () => {
  it('prints help and rejects a wrong option in one line with a non-zero exit', async () => {
    const help = await runCli(['train', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--space');
    const bad = await runCli(['train', '--no-such-option', '3']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/^error: Unknown argument/);
  });

  it('trains a VAE, then a latent DDPM on it, samples to .npy, PNG grid and a folder, and describes the folders', async () => {
    const vae = join(dir, 'vae');
    const ddpm = join(dir, 'latent-ddpm');
    const trained = await runCli([
      'train-vae',
      ...common,
      '--steps',
      '6',
      '--checkpoint-every',
      '3',
      '--sample-every',
      '3',
      '--model-config',
      configs.vae,
      '--out',
      vae,
    ]);
    expect(trained.stderr).toBe('');
    expect(trained.code).toBe(0);
    const stats = JSON.parse(await readFile(join(vae, 'latent_stats.json'), 'utf8')) as { scaling_factor: number };
    const config = JSON.parse(await readFile(join(vae, 'config.json'), 'utf8')) as { scaling_factor: number; _class_name: string };
    expect(config._class_name).toBe('AutoencoderKL');
    expect(config.scaling_factor).toBeCloseTo(stats.scaling_factor, 6);
    expect((await readdir(join(vae, 'training', 'samples'))).length).toBe(2);

    const latent = await runCli([
      'train',
      '--space',
      'latent',
      '--vae',
      vae,
      ...common,
      '--steps',
      '6',
      '--checkpoint-every',
      '3',
      '--sample-every',
      '6',
      '--model-config',
      configs.unet,
      '--out',
      ddpm,
    ]);
    expect(latent.stderr).toBe('');
    expect(latent.code).toBe(0);
    // diffusers' LDMPipeline folder: model_index.json names its components, the VAE is copied into vqvae/.
    const index = JSON.parse(await readFile(join(ddpm, 'model_index.json'), 'utf8')) as Record<string, unknown>;
    expect(index).toMatchObject({
      _class_name: 'LDMPipeline',
      vqvae: ['diffusers', 'AutoencoderKL'],
      unet: ['diffusers', 'UNet2DModel'],
      scheduler: ['diffusers', 'DDPMScheduler'],
    });
    const copiedVae = JSON.parse(await readFile(join(ddpm, 'vqvae', 'config.json'), 'utf8')) as { scaling_factor: number };
    expect(copiedVae.scaling_factor).toBeCloseTo(stats.scaling_factor, 6);
    expect(JSON.parse(await readFile(join(ddpm, 'unet', 'config.json'), 'utf8')).sample_size).toBe(8);
    expect(existsSync(join(ddpm, 'unet', 'diffusion_pytorch_model.safetensors'))).toBe(true);

    const npy = await runCli(['sample', '--model', ddpm, '--sampler', 'ddim', '--steps', '5', '-n', '4', '--out', join(dir, 's.npy'), '--quiet']);
    expect(npy.code).toBe(0);
    const bytes = await readFile(join(dir, 's.npy'));
    expect(npyShape(bytes)).toEqual([4, 32, 32, 1]);
    const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset + 10 + bytes.readUInt16LE(8)));
    expect(values.length).toBe(4 * 32 * 32);
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThanOrEqual(1);

    const grid = await runCli(['sample', '--model', ddpm, '--sampler', 'ddpm', '--steps', '10', '-n', '4', '--out', join(dir, 'grid.png'), '--quiet']);
    expect(grid.code).toBe(0);
    expect((await readFile(join(dir, 'grid.png'))).subarray(1, 4).toString()).toBe('PNG');

    const folder = await runCli(['sample', '--model', ddpm, '--sampler', 'vae', '-n', '3', '--out', join(dir, 'pngs'), '--quiet']);
    expect(folder.code).toBe(0);
    expect((await readdir(join(dir, 'pngs'))).sort()).toEqual(['0.png', '1.png', '2.png']);

    const info = await runCli(['info', ddpm]);
    expect(info.code).toBe(0);
    expect(info.stdout).toContain('LDMPipeline');
    const vaeInfo = await runCli(['info', vae, '--json']);
    expect(JSON.parse(vaeInfo.stdout).config.scaling_factor).toBeCloseTo(stats.scaling_factor, 6);
    expect(JSON.parse(vaeInfo.stdout).checkpoints).toEqual([3, 6]);
  });

  it('trains a pixel DDPM from a --config file, samples it and bounds the NLL of held-out data in bits/dim', async () => {
    const out = join(dir, 'pixel-ddpm');
    const config = join(dir, 'pixel.json');
    await writeFile(config, JSON.stringify({ space: 'pixel', steps: 4, 'checkpoint-every': 2, 'sample-every': 1000, 'model-config': configs.unet, out }));
    const trained = await runCli(['train', '--config', config, ...common]);
    expect(trained.stderr).toBe('');
    expect(trained.code).toBe(0);
    expect(JSON.parse(await readFile(join(out, 'model_index.json'), 'utf8'))._class_name).toBe('DDPMPipeline');
    const sampled = await runCli(['sample', '--model', out, '--sampler', 'ddim', '--steps', '3', '-n', '2', '--out', join(dir, 'pixel.npy'), '--quiet']);
    expect(sampled.code).toBe(0);
    expect(npyShape(await readFile(join(dir, 'pixel.npy')))).toEqual([2, 32, 32, 1]);
    const nll = await runCli(['nll', '--model', out, '-n', '4', '--timesteps', '5', '--batch-size', '4']);
    expect(nll.code).toBe(0);
    const bpd = Number(nll.stdout.split(' ')[0]);
    // An untrained model's bound is poor but finite and positive; 8 bits/dim is what a uniform model gives.
    expect(bpd).toBeGreaterThan(0);
    expect(Number.isFinite(bpd)).toBe(true);
    expect(nll.stdout).toContain('bits/dim');
    const vaeNll = await runCli(['nll', '--model', join(dir, 'vae'), '-n', '4', '--batch-size', '4']);
    expect(vaeNll.code).toBe(0);
    expect(vaeNll.stdout).toContain('ELBO');
  });

  it.skipIf(availableParallelism() < 2)('spends --threads 2 inside each native kernel, and as two data-parallel workers on wasm', async () => {
    const native = process.env.LDM_REQUIRE_ONEDNN === '1' || existsSync(new URL('../packages/onednn/build/Release/ldm_onednn.node', import.meta.url));
    for (const backend of native ? ['native', 'wasm'] : ['wasm']) {
      const out = join(dir, `vae-threads-${backend}`);
      const run = await runCli([
        'train-vae',
        '--backend',
        backend,
        '--threads',
        '2',
        '--limit',
        '64',
        '--batch-size',
        '8',
        '--steps',
        '2',
        '--model-config',
        configs.vae,
        '--out',
        out,
      ]);
      expect(run.code, run.stderr).toBe(0);
      const summary = JSON.parse(await readFile(join(out, 'training', 'summary.json'), 'utf8')) as { threads: unknown };
      expect(summary.threads).toEqual(backend === 'native' ? { kernelThreads: 2, workers: 1 } : { kernelThreads: 1, workers: 2 });
      if (backend === 'native') expect(run.stderr).toMatch(/kernels: oneDNN .*, 2 threads/);
    }
  });

  it('stops on SIGINT with a checkpoint and resumes to the end', async () => {
    const out = join(dir, 'interrupted');
    const child = startCli([
      'train-vae',
      ...common,
      '--steps',
      '400',
      '--checkpoint-every',
      '2',
      '--sample-every',
      '1000',
      '--model-config',
      configs.vae,
      '--out',
      out,
    ]);
    const done = collect(child);
    while (
      !existsSync(join(out, 'training', 'checkpoints')) ||
      (await readdir(join(out, 'training', 'checkpoints'))).filter((n) => n.startsWith('ckpt-')).length === 0
    ) {
      await new Promise((r) => setTimeout(r, 200));
    }
    child.kill('SIGINT');
    const stopped = await done;
    expect(stopped.code).toBe(130);
    expect(stopped.stderr).toContain('--resume');
    const steps = (await readdir(join(out, 'training', 'checkpoints'))).filter((n) => n.startsWith('ckpt-')).map((n) => Number(n.slice(5)));
    const last = Math.max(...steps);
    expect(last).toBeLessThan(400);
    const resumed = await runCli([
      'train-vae',
      ...common,
      '--steps',
      String(last + 4),
      '--checkpoint-every',
      '2',
      '--sample-every',
      '1000',
      '--model-config',
      configs.vae,
      '--out',
      out,
      '--resume',
    ]);
    expect(resumed.code).toBe(0);
    const summary = JSON.parse(await readFile(join(out, 'training', 'summary.json'), 'utf8')) as { steps: number };
    expect(summary.steps).toBe(last + 4);
    // Refuses to start over an existing run without --resume.
    const again = await runCli(['train-vae', ...common, '--steps', '4', '--model-config', configs.vae, '--out', out]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('--resume');
  });

  it('gives one-line errors for a missing folder, a corrupt model file and a latent DDPM on a VAE with no scaling factor', async () => {
    const missing = await runCli(['sample', '--model', join(dir, 'nope'), '--quiet']);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toContain('does not exist');

    const corrupt = join(dir, 'corrupt-vae');
    await cp(join(dir, 'vae'), corrupt, { recursive: true });
    const weights = join(corrupt, 'diffusion_pytorch_model.safetensors');
    const bytes = await readFile(weights);
    await writeFile(weights, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const broken = await runCli(['sample', '--model', corrupt, '--sampler', 'vae', '-n', '2', '--out', join(dir, 'x.png'), '--quiet']);
    expect(broken.code).toBe(1);
    expect(broken.stderr.trim().split('\n')).toHaveLength(1);
    expect(broken.stderr).toContain('diffusion_pytorch_model.safetensors');

    const unmeasured = join(dir, 'unmeasured-vae');
    await cp(join(dir, 'vae'), unmeasured, { recursive: true });
    await writeFile(join(unmeasured, 'latent_stats.json'), '');
    const { rm } = await import('node:fs/promises');
    await rm(join(unmeasured, 'latent_stats.json'));
    const refused = await runCli([
      'train',
      '--space',
      'latent',
      '--vae',
      unmeasured,
      ...common,
      '--steps',
      '2',
      '--model-config',
      configs.unet,
      '--out',
      join(dir, 'refused'),
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('scaling factor');
  });
});
