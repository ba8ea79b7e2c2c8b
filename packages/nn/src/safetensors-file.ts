/* The .safetensors format on disk (Node); safetensors.ts parses and serialises bytes, in Node and in a browser. */
import { readFile } from 'node:fs/promises';
import { LdmError, writeFileAtomic } from '@ldm/backend';
import { parseSafetensors, serializeSafetensors } from './safetensors';
import type { SafetensorsFile, TensorRecord } from './safetensors';

/** Reads and validates a .safetensors file: LdmError FILE_NOT_FOUND or CORRUPT_FILE naming `path`. */
export async function readSafetensorsFile(path: string): Promise<SafetensorsFile> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new LdmError('FILE_NOT_FOUND', `${path}: no such file (expected a .safetensors checkpoint)`, { cause: e });
    }
    if (code === 'EISDIR') {
      throw new LdmError('FILE_NOT_FOUND', `${path} is a directory, expected a .safetensors file`, { cause: e });
    }
    throw new LdmError('FILE_NOT_FOUND', `${path}: cannot be read (${code ?? (e as Error).message})`, { cause: e });
  }
  return parseSafetensors(bytes, path);
}

/** Serialises and writes atomically: readers see the old file or the whole new one, never a partial one. */
export async function writeSafetensorsFile(path: string, tensors: ReadonlyMap<string, TensorRecord>, metadata?: Record<string, string>): Promise<void> {
  await writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}
