import { stat } from 'node:fs/promises';
import { LdmError, writeFileAtomic } from '@ldm/backend';
import type { ScatterPanel } from '@ldm/report';
import { readJsonFile } from '../options/check';
import type { Toy2dArgs } from '../options/toy2d';
import { startBackend } from './common';

/** What `ldm toy2d` writes: the panel and what it was built from, so a reader can check it is the one it wants. */
export interface Toy2dFile {
  seed: number;
  quick: boolean;
  panel: ScatterPanel;
}

/** `ldm toy2d`: builds the 2-D panel (toy2d-panel.ts) and writes it; the demo runs it beside the latent DDPM. */
export async function toy2dJob(args: Toy2dArgs): Promise<void> {
  if (
    await stat(args.out).then(
      (s) => s.isDirectory(),
      () => false,
    )
  ) {
    throw new LdmError('INVALID_ARGUMENT', `--out ${args.out} is a folder; give a file name, e.g. ${args.out}/toy2d.json`);
  }
  await startBackend(args);
  const { buildToyPanel } = await import('./toy2d-panel');
  const panel = await buildToyPanel({ seed: args.seed, quick: args.quick, onLog: (line) => process.stderr.write(`toy2d: ${line}\n`) });
  const file: Toy2dFile = { seed: args.seed, quick: args.quick, panel };
  await writeFileAtomic(args.out, `${JSON.stringify(file)}\n`, { mkdir: true });
  process.stderr.write(`toy2d: wrote ${args.out}\n`);
}

/**
 * Reads a panel `ldm toy2d` wrote, for `ldm compare --toy-panel`: it must be that command's output for the same seed
 * and --quick as the comparison, else a one-line error naming the file.
 */
export function readToyPanel(path: string, expected: { seed: number; quick: boolean }): ScatterPanel {
  const bad = (why: string) => new LdmError('CORRUPT_FILE', `--toy-panel ${path}: ${why}`);
  // Missing, unreadable and invalid JSON: the one-line errors every JSON option gives.
  const file = readJsonFile('toy-panel', path) as Partial<Toy2dFile>;
  const panel = file?.panel as Partial<ScatterPanel> | undefined;
  const numbers = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x));
  if (typeof file?.seed !== 'number' || typeof file.quick !== 'boolean' || typeof panel?.dataset !== 'string' || !numbers(panel.modeMeans)) {
    throw bad('not a panel written by ldm toy2d (expected seed, quick and panel.dataset, panel.modeMeans)');
  }
  if (!Array.isArray(panel.methods) || panel.methods.length === 0 || panel.methods.some((m) => typeof m?.name !== 'string' || !numbers(m.points))) {
    throw bad('panel.methods must be a non-empty list of {name, points}');
  }
  if (file.seed !== expected.seed || file.quick !== expected.quick) {
    throw bad(
      `built with seed ${file.seed}${file.quick ? ' and --quick' : ''}, this comparison has seed ${expected.seed}${expected.quick ? ' and --quick' : ''}`,
    );
  }
  return panel as ScatterPanel;
}
