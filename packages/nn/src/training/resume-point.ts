import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { LdmError } from '@ldm/backend';
import { parseWithSchema, schemas } from '../schema';
import { readSafetensorsFile } from '../safetensors';
import type { CheckpointStore } from './checkpoint-store';

const uint32 = z.number().int().min(0).max(0xffffffff);
const generatorState = z.object({ key: z.tuple([uint32, uint32]), counter: schemas.nonNegativeInt() });
const batchCursor = z.object({ epoch: schemas.nonNegativeInt(), position: schemas.nonNegativeInt(), generatorState });

/**
 * A checkpoint's state.json: its step, seed, the data cursor and every named random stream
 * (`generators`, e.g. ['noiseGenerator']), so a hand-edited or truncated file is refused by key.
 */
function stateSchema(generators: readonly string[]) {
  return z.object({
    step: schemas.nonNegativeInt(),
    seed: schemas.finite(),
    data: batchCursor,
    ...Object.fromEntries(generators.map((g) => [g, generatorState])),
  });
}

/** What a checkpoint's state.json holds: step, seed, data cursor and the named random streams. */
export type CheckpointState<G extends string> = { step: number; seed: number; data: z.output<typeof batchCursor> } & Record<G, z.output<typeof generatorState>>;

async function safetensorsIn(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.safetensors')).map((e) => join(e.parentPath, e.name));
}

/** Reads and checks one checkpoint: state.json against the schema, every weights file whole. */
async function readCheckpoint(path: string, step: number, generators: readonly string[]) {
  const statePath = join(path, 'state.json');
  let json: unknown;
  try {
    json = JSON.parse(await readFile(statePath, 'utf8'));
  } catch (e) {
    throw new LdmError('CORRUPT_FILE', `${statePath}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'not valid JSON'}`);
  }
  const state = parseWithSchema(stateSchema(generators), json, statePath, 'CORRUPT_FILE');
  if (state.step !== step) throw new LdmError('CORRUPT_FILE', `${statePath}: "step" is ${state.step} in the checkpoint of step ${step}`);
  for (const file of await safetensorsIn(path)) await readSafetensorsFile(file);
  return state;
}

/**
 * The checkpoint a resumed run starts from: the newest one that reads whole. A newest one that is
 * corrupt (a disk error, a hand edit) is skipped with a warning naming the fault, and the previous
 * one used; the store keeps two for this reason. No usable checkpoint is an error naming the newest's fault.
 */
export async function readResumePoint<G extends string>(
  store: CheckpointStore,
  generators: readonly G[],
  warn: (message: string) => void = (m) => process.stderr.write(`warning: ${m}\n`),
): Promise<{ step: number; path: string; state: CheckpointState<G> }> {
  const steps = await store.steps();
  if (steps.length === 0) throw new LdmError('FILE_NOT_FOUND', `--resume: no checkpoint in ${store.dir}`);
  let firstError: unknown;
  for (const step of [...steps].reverse()) {
    const path = store.pathOf(step);
    try {
      const state = await readCheckpoint(path, step, generators);
      if (firstError) warn(`${(firstError as Error).message}; resuming from the previous checkpoint (step ${step}) instead`);
      return { step, path, state: state as CheckpointState<G> };
    } catch (e) {
      if (!LdmError.isInstance(e)) throw e;
      firstError ??= e;
    }
  }
  throw firstError;
}
