import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { LdmError } from './errors';

/** Flushes the directory entry so the rename itself survives a power cut. Not every platform can open a directory (Windows): skip there. */
async function fsyncDirectory(dir: string): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await open(dir, 'r');
  } catch {
    return;
  }
  try {
    await handle.sync();
  } catch {
    // EINVAL/EPERM on file systems that do not support fsync of a directory; the data itself is already synced.
  } finally {
    await handle.close();
  }
}

/**
 * Writes `data` so that `path` holds either its old content or all of the new one, never a prefix:
 * write to a temporary name in the same directory (rename is atomic only within one file system),
 * fsync the file, rename over `path`, fsync the directory. The temporary file is removed on failure.
 * `mkdir: true` creates the missing directories first (else a missing directory is an error).
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string, options: { mkdir?: boolean } = {}): Promise<void> {
  const dir = dirname(path);
  if (options.mkdir) await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let handle: FileHandle;
  try {
    handle = await open(tmp, 'wx');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new LdmError('FILE_NOT_FOUND', `cannot write ${path}: directory ${dir} does not exist`, { cause: e });
    }
    throw new LdmError('FILE_NOT_FOUND', `cannot write ${path}: ${code ?? (e as Error).message} creating a temporary file in ${dir}`, { cause: e });
  }
  try {
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    const code = (e as NodeJS.ErrnoException).code;
    throw new LdmError('FILE_NOT_FOUND', `cannot write ${path}: ${code ?? (e as Error).message}`, { cause: e });
  }
  await fsyncDirectory(dir);
}
