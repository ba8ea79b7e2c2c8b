import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LdmError } from '@ldm/backend';
import type { InfoArgs } from '../options/info';
import { exists, PIPELINE_INDEX, readJson } from './common';

interface FolderInfo {
  path: string;
  kind: string;
  config?: Record<string, unknown>;
  parameters?: number;
  files: { name: string; bytes: number }[];
  checkpoints?: number[];
  index?: Record<string, unknown>;
  lastMetrics?: Record<string, unknown>;
}

async function describeFolder(dir: string): Promise<FolderInfo> {
  const names = await readdir(dir);
  const files = await Promise.all(names.map(async (name) => ({ name, bytes: (await stat(join(dir, name))).size })));
  const info: FolderInfo = { path: dir, kind: 'unknown', files };
  if (names.includes(PIPELINE_INDEX)) {
    const index = await readJson<Record<string, unknown>>(join(dir, PIPELINE_INDEX));
    info.index = index;
    info.kind = String(index._class_name);
    if (await exists(join(dir, 'unet', 'config.json'))) info.config = await readJson(join(dir, 'unet', 'config.json'));
  } else if (names.includes('config.json')) {
    const config = await readJson<Record<string, unknown>>(join(dir, 'config.json'));
    info.config = config;
    info.kind = String(config._class_name ?? 'model');
  }
  const weights = [join(dir, 'diffusion_pytorch_model.safetensors'), join(dir, 'unet', 'diffusion_pytorch_model.safetensors'), join(dir, 'model.safetensors')];
  for (const w of weights) {
    if (await exists(w)) {
      const { readSafetensorsFile } = await import('@ldm/nn');
      const file = await readSafetensorsFile(w);
      let n = 0;
      for (const t of file.tensors.values()) n += t.data.length;
      info.parameters = n;
      break;
    }
  }
  const ckptDir = join(dir, 'training', 'checkpoints');
  if (await exists(ckptDir)) {
    const { CheckpointStore } = await import('@ldm/nn');
    info.checkpoints = await new CheckpointStore(ckptDir).steps();
  }
  const metrics = join(dir, 'training', 'metrics.jsonl');
  if (await exists(metrics)) {
    const { readFile } = await import('node:fs/promises');
    const lines = (await readFile(metrics, 'utf8')).trim().split('\n');
    try {
      info.lastMetrics = JSON.parse(lines.at(-1) ?? '{}');
    } catch {
      // A line cut by a crash: show nothing rather than fail.
    }
  }
  return info;
}

export async function infoJob(args: InfoArgs): Promise<void> {
  if (!(await exists(args.dir))) throw new LdmError('FILE_NOT_FOUND', `${args.dir} does not exist`);
  const info = await describeFolder(args.dir);
  if (args.json) {
    process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
    return;
  }
  const lines = [`${info.path}: ${info.kind}`];
  if (info.index) lines.push(`  pipeline: ${JSON.stringify(info.index)}`);
  if (info.parameters !== undefined) lines.push(`  parameters: ${info.parameters.toLocaleString('en-US')}`);
  if (info.config) {
    const keys = [
      'block_out_channels',
      'layers_per_block',
      'down_block_types',
      'up_block_types',
      'in_channels',
      'out_channels',
      'latent_channels',
      'sample_size',
      'scaling_factor',
      'norm_num_groups',
    ];
    for (const k of keys) if (k in info.config) lines.push(`  ${k}: ${JSON.stringify(info.config[k])}`);
  }
  if (info.checkpoints) lines.push(`  checkpoints (steps): ${info.checkpoints.join(', ') || 'none'}`);
  if (info.lastMetrics) lines.push(`  last metrics: ${JSON.stringify(info.lastMetrics)}`);
  lines.push(`  files: ${info.files.map((f) => f.name).join(', ')}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
