import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, writeTinyConfigs } from './cli-helpers';
import { editJson, gzippedIdx, hashTree, pngHeaderOnly, poisonSafetensors } from './bad-input-helpers';

/*
 * Issue 12's bad-input suite: each case runs the real `ldm` command with one mistake a user makes
 * and checks what the user gets — exit code 1, one line `error: …` naming the option or file, no
 * stack trace, nothing that existed before changed (hashes of the folders), and an answer in seconds.
 * The classes are the issue's: silent wrong results, data loss, hangs, gigabytes, raw errors.
 */

type BadClass = 'silent wrong result' | 'data loss' | 'hang' | 'gigabytes' | 'raw error';

interface Fixtures {
  root: string;
  vae: string;
  pixel: string;
  latent: string;
  tinyVae: string;
  tinyUnet: string;
}

interface Case {
  cls: BadClass;
  name: string;
  /** Builds the command line; `dir` is the case's own folder (empty unless `setup` fills it). */
  args: (f: Fixtures, dir: string) => string[];
  setup?: (f: Fixtures, dir: string) => Promise<void>;
  /** What the one-line message must contain: the option or the file at fault. */
  names: (f: Fixtures, dir: string) => string;
}

const fast = ['--backend', 'wasm', '--limit', '64', '--batch-size', '8', '--quiet'];
const opt = (name: string) => () => name;

/** A bad value for a numeric option: `ldm <command> --<option> <value>` must name the option. */
function badNumber(cls: BadClass, command: string[], option: string, value: string): Case {
  const flag = option.length === 1 ? `-${option}` : `--${option}`;
  return {
    cls,
    name: `${command.join(' ')} ${flag} ${value}`,
    args: (f) => [...command.map((c) => c.replace('$VAE', f.vae).replace('$LATENT', f.latent)), flag, value],
    names: opt(flag),
  };
}

const TRAIN = ['train', '--space', 'pixel'];
const VAE = ['train-vae'];
const SAMPLE = ['sample', '--model', '$LATENT'];
const NLL = ['nll', '--model', '$VAE'];
const COMPARE = ['compare', '--vae', '$VAE', '--latent', '$LATENT'];

const cases: Case[] = [
  // 1. Silent wrong results: numeric options out of range, of the wrong type, or not numbers.
  ...['abc', '-5', '1.5', '1e12', 'Infinity'].map((v) => badNumber('silent wrong result', TRAIN, 'steps', v)),
  badNumber('silent wrong result', VAE, 'steps', '0'),
  ...['0', '2.5'].map((v) => badNumber('silent wrong result', TRAIN, 'batch-size', v)),
  ...['0', 'NaN'].map((v) => badNumber('silent wrong result', TRAIN, 'lr', v)),
  ...['-0.5', '1'].map((v) => badNumber('silent wrong result', VAE, 'held-out', v)),
  badNumber('silent wrong result', TRAIN, 'held-out', '-0.5'),
  badNumber('silent wrong result', TRAIN, 'checkpoint-every', '0'),
  badNumber('silent wrong result', TRAIN, 'sample-every', '-1'),
  badNumber('silent wrong result', VAE, 'max-grad-norm', '-1'),
  ...['-1', '1.5'].map((v) => badNumber('silent wrong result', TRAIN, 'seed', v)),
  badNumber('silent wrong result', TRAIN, 'limit', '0'),
  badNumber('silent wrong result', TRAIN, 'warmup', '-1'),
  badNumber('silent wrong result', TRAIN, 'ema-decay', '1.5'),
  badNumber('silent wrong result', TRAIN, 'min-snr-gamma', '0'),
  badNumber('silent wrong result', VAE, 'kl-weight', '-1'),
  badNumber('silent wrong result', VAE, 'kl-warmup', '-1'),
  { cls: 'silent wrong result', name: 'train --steps given twice', args: () => [...TRAIN, '--steps', '3', '--steps', '4'], names: opt('--steps') },
  { cls: 'silent wrong result', name: 'train --prediction-type foo', args: () => [...TRAIN, '--prediction-type', 'foo'], names: opt('prediction-type') },
  { cls: 'silent wrong result', name: 'train --precision fp8', args: () => [...TRAIN, '--precision', 'fp8'], names: opt('precision') },
  {
    cls: 'silent wrong result',
    name: 'train --backend wasm --precision bf16 (bfloat16 exists on the native path only)',
    args: () => [...TRAIN, '--backend', 'wasm', '--precision', 'bf16'],
    names: opt('--precision bf16: runs on the native backend only'),
  },
  { cls: 'silent wrong result', name: 'train-vae --latent-norm pixel', args: () => [...VAE, '--latent-norm', 'pixel'], names: opt('latent-norm') },
  { cls: 'silent wrong result', name: 'train --beta-schedule cosine', args: () => [...TRAIN, '--beta-schedule', 'cosine'], names: opt('beta-schedule') },
  { cls: 'silent wrong result', name: 'train --space voxel', args: () => ['train', '--space', 'voxel'], names: opt('space') },
  { cls: 'silent wrong result', name: 'train --frobnicate', args: () => [...TRAIN, '--frobnicate', '3'], names: opt('frobnicate') },
  { cls: 'silent wrong result', name: '--backend foo', args: () => ['info', '.', '--backend', 'foo'], names: opt('backend') },
  ...['0', 'abc'].map((v) => badNumber('silent wrong result', SAMPLE, 'n', v)),
  badNumber('silent wrong result', SAMPLE, 'batch-size', '0'),
  ...['0', '5000'].map((v) => badNumber('silent wrong result', SAMPLE, 'steps', v)),
  badNumber('silent wrong result', SAMPLE, 'eta', '-1'),
  badNumber('silent wrong result', SAMPLE, 'seed', 'abc'),
  { cls: 'silent wrong result', name: 'sample --sampler plms', args: (f) => ['sample', '--model', f.latent, '--sampler', 'plms'], names: opt('sampler') },
  badNumber('silent wrong result', NLL, 'n', '0'),
  ...['0', '5000'].map((v) => badNumber('silent wrong result', NLL, 'timesteps', v)),
  badNumber('silent wrong result', COMPARE, 'repeats', '0'),
  badNumber('silent wrong result', COMPARE, 'n', '4'),
  ...['0,5', 'a,b'].map((v) => badNumber('silent wrong result', COMPARE, 'steps', v)),
  badNumber('silent wrong result', ['demo'], 'seed', '-1'),
  ...['0', '2.5', 'abc'].map((v) => badNumber('silent wrong result', ['demo'], 'ddpm-steps', v)),
  {
    cls: 'silent wrong result',
    name: '--config with "steps": "abc"',
    setup: async (_f, dir) => writeFile(join(dir, 'c.json'), JSON.stringify({ steps: 'abc' })),
    args: (_f, dir) => [...TRAIN, '--config', join(dir, 'c.json')],
    names: (_f, dir) => `${join(dir, 'c.json')}: "steps"`,
  },
  {
    cls: 'silent wrong result',
    name: '--config with "steps": -5',
    setup: async (_f, dir) => writeFile(join(dir, 'c.json'), JSON.stringify({ steps: -5 })),
    args: (_f, dir) => [...VAE, '--config', join(dir, 'c.json')],
    names: (_f, dir) => `${join(dir, 'c.json')}: "steps"`,
  },
  {
    cls: 'silent wrong result',
    name: '--config with "held-out": -0.5',
    setup: async (_f, dir) => writeFile(join(dir, 'c.json'), JSON.stringify({ 'held-out': -0.5 })),
    args: (_f, dir) => [...VAE, '--config', join(dir, 'c.json')],
    names: (_f, dir) => `${join(dir, 'c.json')}: "held-out"`,
  },
  {
    cls: 'silent wrong result',
    name: '--config with an unknown key',
    setup: async (_f, dir) => writeFile(join(dir, 'c.json'), JSON.stringify({ stepz: 5 })),
    args: (_f, dir) => [...TRAIN, '--config', join(dir, 'c.json')],
    names: opt('stepz'),
  },
  {
    cls: 'silent wrong result',
    name: '--config holding an array',
    setup: async (_f, dir) => writeFile(join(dir, 'c.json'), '[1, 2]'),
    args: (_f, dir) => [...TRAIN, '--config', join(dir, 'c.json')],
    names: (_f, dir) => join(dir, 'c.json'),
  },
  ...[
    ['"layers_per_block": "2"', { layers_per_block: '2' }, 'layers_per_block'],
    ['"block_out_channels": [-16, 32]', { block_out_channels: [-16, 32] }, 'block_out_channels'],
    ['"norm_num_groups": 0', { norm_num_groups: 0 }, 'norm_num_groups'],
    ['"down_block_types": ["CrossAttnDownBlock2D"]', { down_block_types: ['CrossAttnDownBlock2D'] }, 'down_block_types'],
    ['an unknown key', { layers_per_blok: 2 }, 'layers_per_blok'],
  ].map(
    ([label, config, key]): Case => ({
      cls: 'silent wrong result',
      name: `train --model-config with ${label as string}`,
      setup: async (f, dir) => writeFile(join(dir, 'm.json'), JSON.stringify({ ...JSON.parse(await readFile(f.tinyUnet, 'utf8')), ...(config as object) })),
      args: (_f, dir) => [...TRAIN, ...fast, '--steps', '2', '--model-config', join(dir, 'm.json'), '--out', join(dir, 'out')],
      names: () => key as string,
    }),
  ),
  {
    cls: 'silent wrong result',
    name: 'train-vae --model-config with "scaling_factor": "x"',
    setup: async (f, dir) => writeFile(join(dir, 'm.json'), JSON.stringify({ ...JSON.parse(await readFile(f.tinyVae, 'utf8')), scaling_factor: 'x' })),
    args: (_f, dir) => [...VAE, ...fast, '--steps', '2', '--model-config', join(dir, 'm.json'), '--out', join(dir, 'out')],
    names: () => 'scaling_factor',
  },

  // 2. Data loss: folders this run did not create, a second writer, --resume with other options.
  {
    cls: 'data loss',
    name: 'train-vae --out over a VAE model folder',
    setup: async (f, dir) => cp(f.vae, join(dir, 'vae'), { recursive: true }),
    args: (_f, dir) => [...VAE, ...fast, '--steps', '2', '--out', join(dir, 'vae')],
    names: opt('--resume'),
  },
  {
    cls: 'data loss',
    name: 'train-vae --out over a model folder without a training run',
    setup: async (f, dir) => {
      await cp(f.vae, join(dir, 'vae'), { recursive: true });
      await rm(join(dir, 'vae', 'training'), { recursive: true });
    },
    args: (_f, dir) => [...VAE, ...fast, '--steps', '2', '--out', join(dir, 'vae')],
    names: opt('config.json'),
  },
  {
    cls: 'data loss',
    name: 'train --out over a pipeline folder without a training run',
    setup: async (f, dir) => {
      await cp(f.pixel, join(dir, 'p'), { recursive: true });
      await rm(join(dir, 'p', 'training'), { recursive: true });
    },
    args: (_f, dir) => [...TRAIN, ...fast, '--steps', '2', '--out', join(dir, 'p')],
    names: opt('model_index.json'),
  },
  {
    cls: 'data loss',
    name: 'train --out over a VAE folder',
    setup: async (f, dir) => cp(f.vae, join(dir, 'vae'), { recursive: true }),
    args: (_f, dir) => [...TRAIN, ...fast, '--steps', '2', '--out', join(dir, 'vae')],
    names: opt('--out'),
  },
  {
    cls: 'data loss',
    name: 'train --out over a folder of other files',
    setup: async (_f, dir) => writeFile(join(dir, 'notes.txt'), 'mine'),
    args: (_f, dir) => [...TRAIN, ...fast, '--out', dir],
    names: opt('notes.txt'),
  },
  {
    cls: 'data loss',
    name: 'train-vae --out naming a file',
    setup: async (_f, dir) => writeFile(join(dir, 'f'), 'x'),
    args: (_f, dir) => [...VAE, ...fast, '--out', join(dir, 'f')],
    names: opt('--out'),
  },
  {
    cls: 'data loss',
    name: 'a second process on the same --out (lock held by a live process)',
    setup: async (f, dir) => {
      await cp(f.vae, join(dir, 'vae'), { recursive: true });
      await writeFile(join(dir, 'vae', '.ldm.lock'), JSON.stringify({ pid: process.pid, command: 'train-vae', started: new Date().toISOString() }));
    },
    args: (_f, dir) => [...VAE, '--resume', '--steps', '6', '--quiet', '--out', join(dir, 'vae')],
    names: opt(`pid ${process.pid}`),
  },
  ...[
    ['--batch-size', '4'],
    ['--limit', '32'],
    ['--data', 'fashion-mnist:test'],
    ['--seed', '7'],
    ['--lr', '0.1'],
  ].map(
    ([flag, value]): Case => ({
      cls: 'data loss',
      name: `train-vae --resume ${flag} ${value} (differs from the run)`,
      setup: async (f, dir) => cp(f.vae, join(dir, 'vae'), { recursive: true }),
      args: (_f, dir) => [...VAE, '--resume', flag!, value!, '--out', join(dir, 'vae')],
      names: opt(flag!),
    }),
  ),
  {
    cls: 'data loss',
    name: 'train --resume with a different --space',
    setup: async (f, dir) => cp(f.pixel, join(dir, 'p'), { recursive: true }),
    args: (_f, dir) => ['train', '--resume', '--space', 'latent', '--out', join(dir, 'p')],
    names: opt('--space'),
  },
  {
    cls: 'data loss',
    name: 'train --resume of a train-vae run',
    setup: async (f, dir) => cp(f.vae, join(dir, 'vae'), { recursive: true }),
    args: (_f, dir) => ['train', '--space', 'pixel', '--resume', '--out', join(dir, 'vae')],
    names: opt('run.json'),
  },
  { cls: 'data loss', name: '--resume on a folder with no run', args: (_f, dir) => [...VAE, '--resume', '--out', dir], names: opt('--resume') },
  { cls: 'data loss', name: '--resume and --force together', args: (_f, dir) => [...VAE, '--resume', '--force', '--out', dir], names: opt('--force') },
  {
    cls: 'data loss',
    name: '--resume with run.json broken',
    setup: async (f, dir) => {
      await cp(f.vae, join(dir, 'vae'), { recursive: true });
      await writeFile(join(dir, 'vae', 'training', 'run.json'), '{"command": "train-vae", "args": ');
    },
    args: (_f, dir) => [...VAE, '--resume', '--out', join(dir, 'vae')],
    names: (_f, dir) => join(dir, 'vae', 'training', 'run.json'),
  },
  {
    cls: 'data loss',
    name: '--resume with run.json holding "batchSize": -3',
    setup: async (f, dir) => {
      await cp(f.vae, join(dir, 'vae'), { recursive: true });
      await editJson(join(dir, 'vae', 'training', 'run.json'), (j) => {
        (j.args as Record<string, unknown>).batchSize = -3;
      });
    },
    args: (_f, dir) => [...VAE, '--resume', '--out', join(dir, 'vae')],
    names: opt('batchSize'),
  },
  {
    cls: 'data loss',
    name: 'sample --out into a model folder',
    setup: async (f, dir) => cp(f.vae, join(dir, 'vae'), { recursive: true }),
    args: (f, dir) => ['sample', '--model', f.latent, '--quiet', '-n', '2', '--out', join(dir, 'vae')],
    names: opt('--out'),
  },
  {
    cls: 'data loss',
    name: '--resume with every checkpoint state.json broken',
    setup: async (f, dir) => {
      await cp(f.vae, join(dir, 'vae'), { recursive: true });
      for (const ckpt of ['ckpt-0000002', 'ckpt-0000004']) await writeFile(join(dir, 'vae', 'training', 'checkpoints', ckpt, 'state.json'), '{"step": ');
    },
    args: (_f, dir) => [...VAE, '--resume', '--backend', 'wasm', '--steps', '6', '--quiet', '--out', join(dir, 'vae')],
    names: opt('state.json'),
  },

  // 3. Hangs.
  badNumber('hang', NLL, 'batch-size', '0'),
  ...[TRAIN, VAE, ['demo'], ['sample', '--model', '$LATENT']].map(
    (command): Case => ({
      cls: 'hang',
      name: `${command[0]} --out /proc/x`,
      args: (f) => [...command.map((c) => c.replace('$VAE', f.vae).replace('$LATENT', f.latent)), '--out', '/proc/ldm-x/y'],
      names: opt('--out'),
    }),
  ),
  { cls: 'hang', name: 'train --out under /sys', args: () => [...TRAIN, '--out', '/sys/ldm'], names: opt('--out') },
  ...[TRAIN, VAE, ['demo']].map((command): Case => badNumber('hang', command, 'threads', '64')),
  badNumber('hang', TRAIN, 'threads', '0'),
  badNumber('hang', VAE, 'threads', '1.5'),
  { cls: 'hang', name: 'train --threads 2 --batch-size 1', args: () => [...TRAIN, '--threads', '2', '--batch-size', '1'], names: opt('--threads') },

  // 4. Gigabytes, then a cryptic crash: refused before allocating.
  badNumber('gigabytes', TRAIN, 'batch-size', '9000'),
  badNumber('gigabytes', SAMPLE, 'n', '1e9'),
  badNumber('gigabytes', SAMPLE, 'batch-size', '100000'),
  ...[
    ['"block_out_channels": [4096, 4096]', { block_out_channels: [4096, 4096] }, 'block_out_channels'],
    ['"layers_per_block": 16', { layers_per_block: 16 }, 'layers_per_block'],
    [
      '"block_out_channels" with a level more',
      {
        block_out_channels: [32, 64, 64],
        down_block_types: ['DownBlock2D', 'AttnDownBlock2D', 'AttnDownBlock2D'],
        up_block_types: ['AttnUpBlock2D', 'AttnUpBlock2D', 'UpBlock2D'],
      },
      'block_out_channels',
    ],
    ['"in_channels": 64', { in_channels: 64 }, 'in_channels'],
  ].map(
    ([label, change, key]): Case => ({
      cls: 'gigabytes',
      name: `unet/config.json with ${label as string} beside a small weights file`,
      setup: async (f, dir) => {
        await cp(f.pixel, join(dir, 'p'), { recursive: true });
        await editJson(join(dir, 'p', 'unet', 'config.json'), (j) => void Object.assign(j, change));
      },
      args: (_f, dir) => ['sample', '--model', join(dir, 'p'), '--quiet', '--backend', 'wasm', '-n', '1', '--steps', '1', '--out', join(dir, 's.npy')],
      names: (_f, dir) => `${join(dir, 'p', 'unet', 'config.json')}: "${key as string}"`,
    }),
  ),
  {
    cls: 'gigabytes',
    name: 'VAE config.json with "block_out_channels": [4096, 4096, 4096]',
    setup: async (f, dir) => {
      await cp(f.vae, join(dir, 'vae'), { recursive: true });
      await editJson(join(dir, 'vae', 'config.json'), (j) => {
        j.block_out_channels = [4096, 4096, 4096];
      });
    },
    args: (_f, dir) => ['sample', '--model', join(dir, 'vae'), '--sampler', 'vae', '--quiet', '--backend', 'wasm', '-n', '1', '--out', join(dir, 's.npy')],
    names: (_f, dir) => join(dir, 'vae', 'config.json'),
  },
  {
    cls: 'gigabytes',
    name: 'a gzip bomb posing as an IDX file',
    setup: async (_f, dir) => writeFile(join(dir, 'bomb-idx3-ubyte.gz'), gzippedIdx([10, 28, 28], 64 << 20)),
    args: (_f, dir) => [...VAE, ...fast, '--data', `idx:${join(dir, 'bomb-idx3-ubyte.gz')}`, '--out', join(dir, 'out')],
    names: (_f, dir) => join(dir, 'bomb-idx3-ubyte.gz'),
  },
  {
    cls: 'gigabytes',
    name: 'an IDX header declaring 6 GB',
    setup: async (_f, dir) => writeFile(join(dir, 'big-idx3-ubyte.gz'), gzippedIdx([8_000_000, 28, 28], 1024)),
    args: (_f, dir) => [...VAE, ...fast, '--data', `idx:${join(dir, 'big-idx3-ubyte.gz')}`, '--out', join(dir, 'out')],
    names: (_f, dir) => join(dir, 'big-idx3-ubyte.gz'),
  },
  {
    cls: 'gigabytes',
    name: 'a 12000×12000 PNG in an image folder',
    setup: async (_f, dir) => {
      await mkdir(join(dir, 'imgs'));
      await writeFile(join(dir, 'imgs', 'huge.png'), pngHeaderOnly(12000, 12000));
    },
    args: (_f, dir) => [...VAE, ...fast, '--data', `folder:${join(dir, 'imgs')}`, '--out', join(dir, 'out')],
    names: (_f, dir) => join(dir, 'imgs', 'huge.png'),
  },
  {
    cls: 'gigabytes',
    name: '--model-config with "block_out_channels": [100000]',
    setup: async (_f, dir) =>
      writeFile(join(dir, 'm.json'), JSON.stringify({ block_out_channels: [100000], down_block_types: ['DownBlock2D'], up_block_types: ['UpBlock2D'] })),
    args: (_f, dir) => [...TRAIN, ...fast, '--model-config', join(dir, 'm.json'), '--out', join(dir, 'out')],
    names: () => 'block_out_channels',
  },

  // 5. Raw JavaScript errors: files that are missing, broken or of the wrong type, named by file and key.
  { cls: 'raw error', name: 'info on a missing folder', args: (_f, dir) => ['info', join(dir, 'nope')], names: (_f, dir) => join(dir, 'nope') },
  { cls: 'raw error', name: 'sample --model missing', args: (_f, dir) => ['sample', '--model', join(dir, 'nope')], names: opt('--model') },
  {
    cls: 'raw error',
    name: 'sample --model naming a file',
    setup: async (_f, dir) => writeFile(join(dir, 'f'), 'x'),
    args: (_f, dir) => ['sample', '--model', join(dir, 'f')],
    names: opt('--model'),
  },
  { cls: 'raw error', name: 'nll --model missing', args: (_f, dir) => ['nll', '--model', join(dir, 'nope')], names: opt('--model') },
  { cls: 'raw error', name: 'compare --vae missing', args: (f, dir) => ['compare', '--vae', join(dir, 'nope'), '--latent', f.latent], names: opt('--vae') },
  {
    cls: 'raw error',
    name: 'compare --toy-panel missing',
    args: (f, dir) => ['compare', '--vae', f.vae, '--latent', f.latent, '--toy-panel', join(dir, 'nope.json')],
    names: opt('--toy-panel'),
  },
  {
    cls: 'silent wrong result',
    name: 'compare --toy-panel built with another seed',
    setup: async (_f, dir) =>
      writeFile(
        join(dir, 'toy2d.json'),
        JSON.stringify({ seed: 5, quick: false, panel: { dataset: 'ring', modeMeans: [0, 0], methods: [{ name: 'a', points: [0, 0] }] } }),
      ),
    args: (f, dir) => ['compare', '--vae', f.vae, '--latent', f.latent, '--seed', '0', '--toy-panel', join(dir, 'toy2d.json')],
    names: opt('--toy-panel'),
  },
  {
    cls: 'raw error',
    name: 'compare --toy-panel not a panel',
    setup: async (_f, dir) => writeFile(join(dir, 'toy2d.json'), JSON.stringify({ steps: 3 })),
    args: (f, dir) => ['compare', '--vae', f.vae, '--latent', f.latent, '--toy-panel', join(dir, 'toy2d.json')],
    names: opt('--toy-panel'),
  },
  { cls: 'data loss', name: 'toy2d --out an existing folder', args: (_f, dir) => ['toy2d', '--out', dir], names: opt('--out') },
  { cls: 'raw error', name: 'train --vae missing', args: (_f, dir) => ['train', '--vae', join(dir, 'nope')], names: opt('--vae') },
  { cls: 'raw error', name: 'train --space latent without --vae', args: () => ['train', '--space', 'latent'], names: opt('--vae') },
  { cls: 'raw error', name: '--data unknown', args: () => [...VAE, '--data', 'cifar'], names: opt('--data') },
  {
    cls: 'raw error',
    name: '--data idx: missing file',
    args: (_f, dir) => [...VAE, '--data', `idx:${join(dir, 'nope')}`],
    names: (_f, dir) => join(dir, 'nope'),
  },
  {
    cls: 'raw error',
    name: '--data folder: missing',
    args: (_f, dir) => [...VAE, '--data', `folder:${join(dir, 'nope')}`],
    names: (_f, dir) => join(dir, 'nope'),
  },
  {
    cls: 'raw error',
    name: '--data idx: not an IDX file',
    setup: async (_f, dir) => writeFile(join(dir, 'x.idx'), 'hello world'),
    args: (_f, dir) => [...VAE, ...fast, '--data', `idx:${join(dir, 'x.idx')}`, '--out', join(dir, 'out')],
    names: (_f, dir) => join(dir, 'x.idx'),
  },
  {
    cls: 'raw error',
    name: '--config missing (not "invalid JSON")',
    args: (_f, dir) => [...TRAIN, '--config', join(dir, 'nope.json')],
    names: (_f, dir) => `${join(dir, 'nope.json')} does not exist`,
  },
  {
    cls: 'raw error',
    name: '--config not JSON',
    setup: async (_f, dir) => writeFile(join(dir, 'c.json'), '{steps: 5}'),
    args: (_f, dir) => [...TRAIN, '--config', join(dir, 'c.json')],
    names: (_f, dir) => `${join(dir, 'c.json')} is not valid JSON`,
  },
  { cls: 'raw error', name: '--model-config missing', args: (_f, dir) => [...TRAIN, '--model-config', join(dir, 'nope.json')], names: opt('--model-config') },
  {
    cls: 'raw error',
    name: '--model-config not JSON',
    setup: async (_f, dir) => writeFile(join(dir, 'm.json'), 'nope'),
    args: (_f, dir) => [...TRAIN, '--model-config', join(dir, 'm.json')],
    names: opt('--model-config'),
  },
  {
    cls: 'raw error',
    name: '--model-config a JSON array',
    setup: async (_f, dir) => writeFile(join(dir, 'm.json'), '[]'),
    args: (_f, dir) => [...TRAIN, '--model-config', join(dir, 'm.json')],
    names: opt('--model-config'),
  },
  {
    cls: 'raw error',
    name: 'train --out below a file',
    setup: async (_f, dir) => writeFile(join(dir, 'x'), ''),
    args: (_f, dir) => [...TRAIN, '--out', join(dir, 'x', 'y')],
    names: opt('is a file'),
  },
  ...(
    [
      ['"block_out_channels": [-32, 64]', { block_out_channels: [-32, 64] }, 'block_out_channels'],
      ['"block_out_channels": null', { block_out_channels: null }, 'block_out_channels'],
      ['"layers_per_block": "1"', { layers_per_block: '1' }, 'layers_per_block'],
      ['"norm_num_groups": 7', { norm_num_groups: 7 }, 'norm_num_groups'],
      ['"act_fn": "gelu"', { act_fn: 'gelu' }, 'act_fn'],
      ['"_class_name": "AutoencoderKL"', { _class_name: 'AutoencoderKL' }, '_class_name'],
    ] as const
  ).map(
    ([label, change]): Case => ({
      cls: 'raw error',
      name: `unet/config.json with ${label}`,
      setup: async (f, dir) => {
        await cp(f.pixel, join(dir, 'p'), { recursive: true });
        await editJson(join(dir, 'p', 'unet', 'config.json'), (j) => void Object.assign(j, change));
      },
      args: (_f, dir) => ['sample', '--model', join(dir, 'p'), '--quiet', '--backend', 'wasm', '-n', '1', '--steps', '1', '--out', join(dir, 's.npy')],
      names: (_f, dir) => `${join(dir, 'p', 'unet', 'config.json')}`,
    }),
  ),
  ...(
    [
      ['"scaling_factor": "x"', { scaling_factor: 'x' }],
      ['"scaling_factor": 0', { scaling_factor: 0 }],
      ['"sample_size": 1e9', { sample_size: 1e9 }],
      ['an unknown key', { foo_bar: 1 }],
    ] as const
  ).map(
    ([label, change]): Case => ({
      cls: 'raw error',
      name: `VAE config.json with ${label}`,
      setup: async (f, dir) => {
        await cp(f.vae, join(dir, 'vae'), { recursive: true });
        await editJson(join(dir, 'vae', 'config.json'), (j) => void Object.assign(j, change));
      },
      args: (_f, dir) => ['sample', '--model', join(dir, 'vae'), '--sampler', 'vae', '--quiet', '--backend', 'wasm', '-n', '1', '--out', join(dir, 's.npy')],
      names: (_f, dir) => join(dir, 'vae', 'config.json'),
    }),
  ),
  ...(
    [
      ['not JSON', '{"scaling_factor": '],
      ['"scaling_factor": "x"', '{"scaling_factor": "x", "mean": 0, "std": 1, "count": 10}'],
      ['"scaling_factor": -1', '{"scaling_factor": -1, "mean": 0, "std": 1, "count": 10}'],
      ['no "std"', '{"scaling_factor": 1, "mean": 0, "count": 10}'],
    ] as const
  ).map(
    ([label, text]): Case => ({
      cls: 'raw error',
      name: `latent_stats.json ${label}`,
      setup: async (f, dir) => {
        await cp(f.vae, join(dir, 'vae'), { recursive: true });
        await writeFile(join(dir, 'vae', 'latent_stats.json'), text);
      },
      args: (_f, dir) => ['train', '--space', 'latent', '--vae', join(dir, 'vae'), ...fast, '--steps', '2', '--out', join(dir, 'out')],
      names: (_f, dir) => join(dir, 'vae', 'latent_stats.json'),
    }),
  ),
  ...(
    [
      ['"beta_schedule": "cosine"', { beta_schedule: 'cosine' }, 'beta_schedule'],
      ['"num_train_timesteps": -1', { num_train_timesteps: -1 }, 'num_train_timesteps'],
      ['"prediction_type": 5', { prediction_type: 5 }, 'prediction_type'],
    ] as const
  ).map(
    ([label, change, key]): Case => ({
      cls: 'raw error',
      name: `scheduler_config.json with ${label} (nll)`,
      setup: async (f, dir) => {
        await cp(f.pixel, join(dir, 'p'), { recursive: true });
        await editJson(join(dir, 'p', 'scheduler', 'scheduler_config.json'), (j) => void Object.assign(j, change));
      },
      args: (_f, dir) => ['nll', '--model', join(dir, 'p'), '--backend', 'wasm', '-n', '2', '--timesteps', '2', '--batch-size', '2'],
      names: () => key,
    }),
  ),
  {
    cls: 'raw error',
    name: 'weights holding NaN (sample --sampler vae)',
    setup: async (f, dir) => {
      await cp(f.vae, join(dir, 'vae'), { recursive: true });
      await poisonSafetensors(join(dir, 'vae', 'diffusion_pytorch_model.safetensors'), NaN);
    },
    args: (_f, dir) => ['sample', '--model', join(dir, 'vae'), '--sampler', 'vae', '--quiet', '--backend', 'wasm', '-n', '1', '--out', join(dir, 's.npy')],
    names: (_f, dir) => `${join(dir, 'vae', 'diffusion_pytorch_model.safetensors')}: tensor '`,
  },
  {
    cls: 'raw error',
    name: 'weights holding Infinity (nll on a pixel DDPM)',
    setup: async (f, dir) => {
      await cp(f.pixel, join(dir, 'p'), { recursive: true });
      await poisonSafetensors(join(dir, 'p', 'unet', 'diffusion_pytorch_model.safetensors'), Infinity);
    },
    args: (_f, dir) => ['nll', '--model', join(dir, 'p'), '--backend', 'wasm', '-n', '2', '--timesteps', '2', '--batch-size', '2'],
    names: () => 'non-finite',
  },
  {
    cls: 'raw error',
    name: 'weights file cut in half',
    setup: async (f, dir) => {
      await cp(f.vae, join(dir, 'vae'), { recursive: true });
      const w = join(dir, 'vae', 'diffusion_pytorch_model.safetensors');
      const bytes = await readFile(w);
      await writeFile(w, bytes.subarray(0, bytes.length >> 1));
    },
    args: (_f, dir) => ['nll', '--model', join(dir, 'vae'), '--backend', 'wasm', '-n', '2', '--batch-size', '2'],
    names: (_f, dir) => join(dir, 'vae', 'diffusion_pytorch_model.safetensors'),
  },
  {
    cls: 'raw error',
    name: 'config.json missing from a VAE folder',
    setup: async (f, dir) => {
      await cp(f.vae, join(dir, 'vae'), { recursive: true });
      await rm(join(dir, 'vae', 'config.json'));
    },
    args: (_f, dir) => ['nll', '--model', join(dir, 'vae'), '--backend', 'wasm', '-n', '2', '--batch-size', '2'],
    names: (_f, dir) => join(dir, 'vae', 'config.json'),
  },
];

/** Ports held open by the busy-port case (its own listener, closed after the suite), by case folder. */
const busyPorts = new Map<string, { server: Server; port: number }>();

// 6. `ldm serve`: a wrong folder, port or host answers in one line before anything listens.
const SERVE = ['serve', '--model', '$LATENT'];
cases.push(
  ...['70000', '-1', '1.5', 'abc'].map((v) => badNumber('raw error', SERVE, 'port', v)),
  { cls: 'raw error', name: 'serve without --model', args: () => ['serve'], names: opt('--model') },
  { cls: 'raw error', name: 'serve --model missing', args: (_f, dir) => ['serve', '--model', join(dir, 'nope')], names: opt('--model') },
  {
    cls: 'raw error',
    name: 'serve --model a VAE folder (not a pipeline)',
    args: (f) => ['serve', '--model', f.vae, '--port', '0'],
    names: (f) => `${f.vae} is not a pipeline folder: model_index.json is missing`,
  },
  {
    cls: 'raw error',
    name: 'serve --port already in use',
    setup: async (_f, dir) => {
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      busyPorts.set(dir, { server, port: (server.address() as { port: number }).port });
    },
    args: (f, dir) => ['serve', '--model', f.latent, '--port', String(busyPorts.get(dir)!.port)],
    names: (_f, dir) => `--port ${busyPorts.get(dir)!.port}: already in use`,
  },
  {
    cls: 'raw error',
    name: 'serve --host not of this machine',
    args: (f) => ['serve', '--model', f.latent, '--port', '0', '--host', '192.0.2.1'],
    names: opt('--host'),
  },
  {
    cls: 'raw error',
    name: 'serve --backend native (needs Node)',
    args: (f) => ['serve', '--model', f.latent, '--backend', 'native'],
    names: opt('--backend'),
  },
  { cls: 'raw error', name: 'serve --host not an address', args: (f) => ['serve', '--model', f.latent, '--host', 'a b'], names: opt('--host') },
);

const EXPECTED_MINIMUM = 100;
const durations: number[] = [];

/** A counting semaphore: at most `n` cases run at once. */
function semaphore(n: number) {
  let free = n;
  const waiting: (() => void)[] = [];
  return {
    acquire: () => {
      if (free > 0) {
        free--;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => waiting.push(resolve));
    },
    release: () => {
      const next = waiting.shift();
      if (next) next();
      else free++;
    },
  };
}
const slots = semaphore(availableParallelism());
let f: Fixtures;
let fixturesHash: string;
/** "Finishes in seconds": a hang never does. The bound is loose because a machine shared with other jobs (load 20 on 2 cores) stretched 2-5 s cases to 80 s; the median and max are printed. */
const CASE_SECONDS = 120;

beforeAll(async () => {
  const root = await mkdtemp(join(tmpdir(), 'ldm-bad-input-'));
  const configs = await writeTinyConfigs(root);
  f = { root, vae: join(root, 'vae'), pixel: join(root, 'pixel'), latent: join(root, 'latent'), tinyVae: configs.vae, tinyUnet: configs.unet };
  // Three tiny real models, made by the real command: the VAE with two checkpoints (steps 2 and 4).
  const made = await Promise.all([
    runCli(['train-vae', ...fast, '--steps', '4', '--checkpoint-every', '2', '--sample-every', '0', '--model-config', f.tinyVae, '--out', f.vae]),
    runCli([
      'train',
      '--space',
      'pixel',
      ...fast,
      '--steps',
      '2',
      '--checkpoint-every',
      '2',
      '--sample-every',
      '0',
      '--model-config',
      f.tinyUnet,
      '--out',
      f.pixel,
    ]),
  ]);
  made.push(
    await runCli([
      'train',
      '--space',
      'latent',
      '--vae',
      f.vae,
      ...fast,
      '--steps',
      '2',
      '--checkpoint-every',
      '2',
      '--sample-every',
      '0',
      '--model-config',
      f.tinyUnet,
      '--out',
      f.latent,
    ]),
  );
  for (const m of made) expect(m.stderr).toBe('');
  fixturesHash = await hashTree(root);
}, 300_000);

afterAll(async () => {
  const sorted = [...durations].sort((a, b) => a - b);
  if (sorted.length)
    process.stderr.write(
      `bad-input case times: median ${sorted[sorted.length >> 1]!.toFixed(1)} s, max ${sorted.at(-1)!.toFixed(1)} s over ${sorted.length} cases\n`,
    );
  for (const { server } of busyPorts.values()) server.close();
  // No case changed the shared fixtures either.
  expect(await hashTree(f.root)).toBe(fixturesHash);
  await rm(f.root, { recursive: true, force: true });
});

describe('bad input: one-line errors, nothing changed, answered in seconds', () => {
  it(`has at least ${EXPECTED_MINIMUM} cases over the issue's five classes`, () => {
    const counts = new Map<BadClass, number>();
    for (const c of cases) counts.set(c.cls, (counts.get(c.cls) ?? 0) + 1);
    process.stderr.write(`bad-input cases: ${[...counts].map(([k, v]) => `${k} ${v}`).join(', ')}; ${cases.length} in all\n`);
    expect(cases.length).toBeGreaterThanOrEqual(EXPECTED_MINIMUM);
    expect(counts.size).toBe(5);
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
  });

  it('faults it recovers from, with a warning: a corrupt newest checkpoint, a stale lock of a dead process', async () => {
    const dir = await mkdtemp(join(f.root, '..', 'ldm-fault-'));
    try {
      const corrupt = join(dir, 'corrupt');
      await cp(f.vae, corrupt, { recursive: true });
      await writeFile(join(corrupt, 'training', 'checkpoints', 'ckpt-0000004', 'state.json'), '{"step": 4, "seed": ');
      const resumed = await runCli(['train-vae', '--resume', '--steps', '6', '--quiet', '--backend', 'wasm', '--out', corrupt]);
      expect(resumed.stderr).toMatch(/^warning: .*ckpt-0000004\/state.json: not valid JSON; resuming from the previous checkpoint \(step 2\) instead\n$/);
      expect(resumed.code).toBe(0);
      expect(JSON.parse(await readFile(join(corrupt, 'training', 'summary.json'), 'utf8')).steps).toBe(6);

      const stale = join(dir, 'stale');
      await cp(f.vae, stale, { recursive: true });
      // PIDs stop at 2^22 on Linux: this one cannot be running.
      await writeFile(join(stale, '.ldm.lock'), JSON.stringify({ pid: 2 ** 22 + 1, command: 'train-vae', started: '2026-01-01T00:00:00.000Z' }));
      const takenOver = await runCli(['train-vae', '--resume', '--steps', '6', '--quiet', '--backend', 'wasm', '--out', stale]);
      expect(takenOver.stderr).toMatch(
        /^warning: --out .*: process 4194305 \(ldm train-vae\), which left \.ldm\.lock, is no longer running; taking the folder over\n$/,
      );
      expect(takenOver.code).toBe(0);
      expect(existsSync(join(stale, '.ldm.lock'))).toBe(false);
      // The resumed run kept the stored options (the fixture's --limit 64, --batch-size 8), not the defaults.
      expect(JSON.parse(await readFile(join(stale, 'training', 'run.json'), 'utf8')).args).toMatchObject({ limit: 64, batchSize: 8, steps: 6 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it.concurrent.each(cases.map((c) => [`${c.cls}: ${c.name}`, c] as const))(
    '%s',
    async (_label, c) => {
      // One case a core at a time, so a case's time is its own and not its neighbours'.
      await slots.acquire();
      const dir = await mkdtemp(join(f.root, '..', 'ldm-case-'));
      try {
        await c.setup?.(f, dir);
        const before = await hashTree(dir);
        const t0 = performance.now();
        const result = await runCli(c.args(f, dir), { cwd: dir });
        const seconds = (performance.now() - t0) / 1000;
        const lines = result.stderr.trimEnd().split('\n');
        const context = `ldm ${c.args(f, dir).join(' ')}\n${result.stderr}`;
        expect(result.code, context).toBe(1);
        // The error is one line, the last; before it only what the command reports as it starts (the backend it chose).
        expect(
          lines.filter((l) => l.startsWith('error: ')),
          context,
        ).toHaveLength(1);
        expect(lines.at(-1), context).toMatch(/^error: /);
        expect(
          lines.slice(0, -1).every((l) => /^(backend|warning): /.test(l)),
          context,
        ).toBe(true);
        expect(result.stderr, context).not.toMatch(/\n\s+at |internal error/);
        expect(lines.at(-1), context).toContain(c.names(f, dir));
        expect(await hashTree(dir), `${context}\nthe case's folder changed`).toBe(before);
        expect(seconds, context).toBeLessThan(CASE_SECONDS);
        durations.push(seconds);
      } finally {
        slots.release();
        await rm(dir, { recursive: true, force: true });
      }
    },
    600_000,
  );
});
