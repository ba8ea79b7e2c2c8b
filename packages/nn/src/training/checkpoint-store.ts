import { mkdir, readdir, rename, rm, stat, open } from 'node:fs/promises';
import { join } from 'node:path';

const PREFIX = 'ckpt-';
const TMP_PREFIX = '.tmp-ckpt-';

/**
 * The checkpoints of a training run: `<dir>/ckpt-<step>/`, each written under a temporary name
 * and renamed into place only when complete, so a crash (even SIGKILL mid-write) never leaves a
 * folder with a checkpoint's name that is not whole. The newest complete one wins on resume.
 */
export class CheckpointStore {
  constructor(
    readonly dir: string,
    /** How many of the newest checkpoints to keep. */
    readonly keep = 2,
  ) {}

  /** Steps of the complete checkpoints, oldest first. */
  async steps(): Promise<number[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    return names
      .filter((n) => n.startsWith(PREFIX) && /^\d+$/.test(n.slice(PREFIX.length)))
      .map((n) => Number(n.slice(PREFIX.length)))
      .sort((a, b) => a - b);
  }

  pathOf(step: number): string {
    return join(this.dir, `${PREFIX}${String(step).padStart(7, '0')}`);
  }

  /** The newest complete checkpoint, or undefined when the run has none. */
  async latest(): Promise<{ step: number; path: string } | undefined> {
    const steps = await this.steps();
    const step = steps.at(-1);
    return step === undefined ? undefined : { step, path: this.pathOf(step) };
  }

  /**
   * Writes a checkpoint for `step`: `write(tmpDir)` fills a temporary folder, which is then
   * synced and renamed to its final name; older checkpoints beyond `keep` are removed after.
   */
  async save(step: number, write: (tmpDir: string) => Promise<void>): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    const tmp = join(this.dir, `${TMP_PREFIX}${step}-${process.pid}`);
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    await write(tmp);
    await syncDir(tmp);
    const final = this.pathOf(step);
    await rm(final, { recursive: true, force: true });
    await rename(tmp, final);
    await syncDir(this.dir);
    const steps = await this.steps();
    for (const old of steps.slice(0, Math.max(0, steps.length - this.keep))) {
      await rm(this.pathOf(old), { recursive: true, force: true });
    }
    await this.removeStaleTemporaries();
    return final;
  }

  /** Temporary folders left by a crash mid-write. */
  async removeStaleTemporaries(): Promise<void> {
    let names: string[] = [];
    try {
      names = await readdir(this.dir);
    } catch {
      return;
    }
    for (const n of names) {
      if (n.startsWith(TMP_PREFIX) && !n.endsWith(`-${process.pid}`)) {
        await rm(join(this.dir, n), { recursive: true, force: true });
      }
    }
  }
}

/** fsync a directory so a rename inside it is durable. */
export async function syncDir(path: string): Promise<void> {
  try {
    const s = await stat(path);
    if (!s.isDirectory()) return;
    const fh = await open(path, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic.
  }
}
