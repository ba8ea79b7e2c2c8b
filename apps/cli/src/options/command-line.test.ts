import yargs from 'yargs';
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../defaults';
import { commandLine } from './command-line';
import { globalOptions } from './global';
import { trainVaeOptions } from './train-vae';

describe('commandLine', () => {
  const table = { ...globalOptions, ...trainVaeOptions };
  const args = {
    backend: 'native',
    verbose: false,
    data: DEFAULTS.data,
    out: '/tmp/x y/vae',
    steps: 1200,
    batchSize: 32,
    lr: 1e-3,
    klWeight: 1,
    latentNorm: 'global',
    klWarmup: 100,
    heldOut: 0.1,
    checkpointEvery: 200,
    sampleEvery: 200,
    maxGradNorm: 1,
    seed: 3,
    threads: 1,
    limit: undefined,
    modelConfig: undefined,
    resume: true,
    force: false,
    quiet: true,
  };

  it('writes every set option as its flag, bare flags for true, nothing for false or undefined', () => {
    const argv = commandLine('train-vae', table, args);
    expect(argv[0]).toBe('train-vae');
    expect(argv).toContain('--resume');
    expect(argv).not.toContain('--force');
    expect(argv).not.toContain('--limit');
    expect(argv.slice(argv.indexOf('--batch-size'), argv.indexOf('--batch-size') + 2)).toEqual(['--batch-size', '32']);
    expect(argv.slice(argv.indexOf('--out'), argv.indexOf('--out') + 2)).toEqual(['--out', '/tmp/x y/vae']);
  });

  it('parses back, through the same option table, to the same arguments', async () => {
    const parsed = (await yargs(commandLine('train-vae', table, args).slice(1))
      .options(table)
      .strict()
      .parse()) as Record<string, unknown>;
    for (const [key, value] of Object.entries(args)) expect(parsed[key], key).toEqual(value);
  });
});
