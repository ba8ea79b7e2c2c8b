import { mkdir, open, readdir, readFile, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { LdmError } from '@ldm/backend';
import { CheckpointStore, parseWithSchema, showValue } from '@ldm/nn';
import type { Options } from 'yargs';
import { givenExplicitly } from '../options/check';
import { writeJson } from './common';

/*
 * The output folder of a training command: what it may replace, who may write it, and which options
 * a resumed run keeps. Kept apart from the jobs so the training loop stays about training.
 */

export const LOCK_NAME = '.ldm.lock';

/** What a non-empty folder holds, in words, for the refusal message. */
async function describeContents(runDir: string, names: string[]): Promise<string> {
  const latest = await new CheckpointStore(join(runDir, 'checkpoints')).latest();
  if (latest) return `a training run (checkpoint at step ${latest.step})`;
  if (names.includes('model_index.json')) return 'a pipeline folder (model_index.json)';
  if (names.includes('config.json')) return 'a model folder (config.json)';
  const shown = names.slice(0, 4).join(', ');
  return `files (${shown}${names.length > 4 ? `, … ${names.length} in all` : ''})`;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const LOCK_SCHEMA = z.object({ pid: z.number().int().positive(), command: z.string(), started: z.string() });

/**
 * Takes the folder's lock file, so a second process cannot write the same folder (each would delete
 * the other's temporary checkpoints). A lock left by a process that no longer runs (kill -9, a crash)
 * is taken over with a warning. Returns the release function; the lock also goes at process exit.
 */
async function takeLock(out: string, command: string): Promise<() => Promise<void>> {
  const path = join(out, LOCK_NAME);
  const mine = JSON.stringify({ pid: process.pid, command, started: new Date().toISOString() });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(mine);
      await fh.close();
      const removeSync = () => {
        try {
          unlinkSync(path);
        } catch {
          // Already gone.
        }
      };
      process.once('exit', removeSync);
      return async () => {
        process.removeListener('exit', removeSync);
        await unlink(path).catch(() => {});
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let holder: z.output<typeof LOCK_SCHEMA> | undefined;
    try {
      holder = LOCK_SCHEMA.parse(JSON.parse(await readFile(path, 'utf8')));
    } catch {
      holder = undefined;
    }
    if (holder && holder.pid !== process.pid && processAlive(holder.pid)) {
      throw new LdmError(
        'INVALID_ARGUMENT',
        `--out ${out} is being written by another ldm ${holder.command} (pid ${holder.pid}, since ${holder.started}); wait for it to finish or choose another --out`,
      );
    }
    process.stderr.write(
      `warning: --out ${out}: ${holder ? `process ${holder.pid} (ldm ${holder.command}), which left ${LOCK_NAME}, is no longer running` : `${LOCK_NAME} is unreadable`}; taking the folder over\n`,
    );
    await unlink(path).catch(() => {});
  }
  throw new LdmError('INVALID_ARGUMENT', `--out ${out}: could not take ${LOCK_NAME}; another process keeps creating it`);
}

/**
 * Claims --out for a training command: refuses a folder that already holds anything (a model, a
 * pipeline, a run, stray files) unless --resume (continue its run) or --force (replace it: its old
 * training folder is removed, so no stale checkpoint outlives the new run), then takes the lock.
 */
export async function claimRunFolder(options: { out: string; runDir: string; command: string; resume: boolean; force: boolean }): Promise<() => Promise<void>> {
  const { out, runDir, resume, force } = options;
  const info = await stat(out).catch(() => undefined);
  if (info && !info.isDirectory()) throw new LdmError('INVALID_ARGUMENT', `--out ${out} is a file, not a folder`);
  const names = info ? (await readdir(out)).filter((n) => n !== LOCK_NAME) : [];
  if (resume) {
    if (!(await new CheckpointStore(join(runDir, 'checkpoints')).latest())) {
      throw new LdmError('FILE_NOT_FOUND', `--resume: ${out} holds no training run to continue (no checkpoint in ${join(runDir, 'checkpoints')})`);
    }
  } else if (names.length > 0 && !force) {
    throw new LdmError(
      'INVALID_ARGUMENT',
      `--out ${out} already holds ${await describeContents(runDir, names)}; pass --resume to continue its run, --force to replace it, or choose another --out`,
    );
  }
  await mkdir(out, { recursive: true });
  const unlock = await takeLock(out, options.command);
  if (force && !resume) await rm(runDir, { recursive: true, force: true });
  return async () => {
    await unlock();
    // A run that failed before writing anything leaves no empty folder behind.
    if (!info) await rmdir(out).catch(() => {});
  };
}

/** Options a resumed run may change: how long it runs and how it reports, not what it learns from. */
const MAY_DIFFER = new Set(['steps', 'threads', 'checkpointEvery', 'sampleEvery']);
/** Options that are about this invocation, never taken from the stored run. */
const NOT_STORED = new Set(['resume', 'force', 'quiet', 'backend', 'verbose', 'out', 'config']);

const RUN_SCHEMA = z.object({ command: z.string(), args: z.record(z.string(), z.unknown()) });

function camel(option: string): string {
  return option.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/**
 * The options of a resumed run: each one not given now is taken from the run's run.json; one given
 * with a different value is refused, naming it, unless it only changes how long the run goes on
 * (MAY_DIFFER). So `ldm train --out DIR --resume` continues exactly the run in DIR.
 */
export async function resumeOptions<A extends Record<string, unknown>>(runDir: string, command: string, args: A, table: Record<string, Options>): Promise<A> {
  const path = join(runDir, 'run.json');
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new LdmError(
      'CORRUPT_FILE',
      `--resume: ${path} ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'is missing' : 'is not valid JSON'}; the run's options are unknown`,
    );
  }
  const run = parseWithSchema(RUN_SCHEMA, json, path, 'CORRUPT_FILE');
  if (run.command !== command) throw new LdmError('INVALID_ARGUMENT', `--resume: ${path} is a run of ldm ${run.command}, not ldm ${command}`);
  const merged: Record<string, unknown> = { ...args };
  const differing: string[] = [];
  for (const [option, spec] of Object.entries(table)) {
    const key = camel(option);
    if (NOT_STORED.has(key) || !(key in run.args)) continue;
    const stored = run.args[key];
    if (givenExplicitly(option)) {
      if (!MAY_DIFFER.has(key) && !same(stored, args[key])) differing.push(`--${option} ${showValue(args[key])} (the run's: ${showValue(stored)})`);
      continue;
    }
    // A hand-edited run.json goes through the option's own check.
    try {
      merged[key] = spec.coerce && stored !== undefined && stored !== null ? spec.coerce(stored) : stored;
    } catch (error) {
      throw new LdmError('CORRUPT_FILE', `${path}: "${key}": ${LdmError.isInstance(error) ? error.message.replace(/^[^:]*: /, '') : String(error)}`);
    }
  }
  if (differing.length) {
    throw new LdmError(
      'INVALID_ARGUMENT',
      `--resume: ${differing.join(', ')} differ from the run in ${runDir}; leave them out to continue with the run's options, or start a new run with another --out`,
    );
  }
  return merged as A;
}

/** Writes the run's options (what --resume reads back), without the per-invocation ones. */
export async function writeRunOptions(runDir: string, command: string, args: Record<string, unknown>, table: Record<string, Options>): Promise<void> {
  const stored: Record<string, unknown> = {};
  for (const option of Object.keys(table)) {
    const key = camel(option);
    if (!NOT_STORED.has(key) && args[key] !== undefined) stored[key] = args[key];
  }
  await writeJson(join(runDir, 'run.json'), { command, args: stored });
}
