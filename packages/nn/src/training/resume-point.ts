import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { LdmError } from '@ldm/backend';
import { parseWithSchema, schemas } from '../schema';
import { readSafetensorsFile } from '../safetensors-file';
import type { CheckpointStore } from './checkpoint-store';

const uint32 = z.number().int().min(0).max(0xffffffff);
const generatorState = z.object({ key: z.tuple([uint32, uint32]), counter: schemas.nonNegativeInt() });
const batchCursor = z.object({ epoch: schemas.nonNegativeInt(), position: schemas.nonNegativeInt(), generatorState });

/** Schemas of the positions training saves in `state.json`: a random stream (@ldm/backend's Generator), a data cursor (@ldm/data's BatchIterator). */
export const resumableStateSchemas = { generator: generatorState, batchCursor };

/** A checkpoint's state.json as read back: its step and, by key, what the run saved beside it. */
export type CheckpointState = { step: number } & Record<string, unknown>;

/**
 * A checkpoint's state.json: its step plus a schema per saved key (the trainer's resumables and extras),
 * so a hand-edited or truncated file is refused by key.
 */
function stateSchema(keys: Record<string, z.ZodType>) {
  return z.object({ step: schemas.nonNegativeInt(), ...keys });
}

async function safetensorsIn(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.safetensors')).map((e) => join(e.parentPath, e.name));
}

/** Reads and checks one checkpoint: state.json against the schema, every weights file whole. */
async function readCheckpoint(path: string, step: number, keys: Record<string, z.ZodType>): Promise<CheckpointState> {
  const statePath = join(path, 'state.json');
  let json: unknown;
  try {
    json = JSON.parse(await readFile(statePath, 'utf8'));
  } catch (e) {
    throw new LdmError('CORRUPT_FILE', `${statePath}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'not valid JSON'}`);
  }
  const state = parseWithSchema(stateSchema(keys), json, statePath, 'CORRUPT_FILE');
  if (state.step !== step) throw new LdmError('CORRUPT_FILE', `${statePath}: "step" is ${state.step} in the checkpoint of step ${step}`);
  for (const file of await safetensorsIn(path)) await readSafetensorsFile(file);
  return state;
}

/**
 * The checkpoint a resumed run starts from: the newest one that reads whole. A newest one that is
 * corrupt (a disk error, a hand edit) is skipped with a warning naming the fault, and the previous
 * one used; the store keeps two for this reason. No usable checkpoint is an error naming the newest's fault.
 */
export async function readResumePoint(
  store: CheckpointStore,
  keys: Record<string, z.ZodType>,
  warn: (message: string) => void = (m) => process.stderr.write(`warning: ${m}\n`),
): Promise<{ step: number; path: string; state: CheckpointState }> {
  const steps = await store.steps();
  if (steps.length === 0) throw new LdmError('FILE_NOT_FOUND', `--resume: no checkpoint in ${store.dir}`);
  let firstError: unknown;
  for (const step of [...steps].reverse()) {
    const path = store.pathOf(step);
    try {
      const state = await readCheckpoint(path, step, keys);
      if (firstError) warn(`${(firstError as Error).message}; resuming from the previous checkpoint (step ${step}) instead`);
      return { step, path, state };
    } catch (e) {
      if (!LdmError.isInstance(e)) throw e;
      firstError ??= e;
    }
  }
  throw firstError;
}
