import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));
export const CLI_MAIN = join(root, 'apps/cli/src/main.ts');
/** tsx's loader by absolute URL, so the CLI also starts with a working directory outside the repository. */
const TSX = import.meta.resolve('tsx');

/** Runs `ldm` from source as a user would (a child process, real files). */
export function startCli(args: string[], options: { cwd?: string } = {}): ChildProcess {
  return spawn(process.execPath, ['--conditions=@ldm/source', '--import', TSX, CLI_MAIN, ...args], {
    cwd: options.cwd ?? root,
    env: { ...process.env, CI: '1', FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function collect(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

export function runCli(args: string[], options: { cwd?: string } = {}): Promise<CliResult> {
  return collect(startCli(args, options));
}

/** Tiny architectures, so a test trains in seconds. */
export const TINY_VAE = {
  block_out_channels: [8, 16, 16],
  norm_num_groups: 4,
  down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D'],
  up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D'],
};
export const TINY_UNET = {
  block_out_channels: [16, 32],
  norm_num_groups: 4,
  attention_head_dim: 8,
  down_block_types: ['DownBlock2D', 'AttnDownBlock2D'],
  up_block_types: ['AttnUpBlock2D', 'UpBlock2D'],
};

export async function writeTinyConfigs(dir: string): Promise<{ vae: string; unet: string }> {
  const vae = join(dir, 'tiny-vae.json');
  const unet = join(dir, 'tiny-unet.json');
  await writeFile(vae, JSON.stringify(TINY_VAE));
  await writeFile(unet, JSON.stringify(TINY_UNET));
  return { vae, unet };
}
