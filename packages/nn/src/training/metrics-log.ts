import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Appends one JSON object per line to `metrics.jsonl`, the run's machine-readable history. */
export class MetricsLog {
  constructor(readonly path: string) {}

  async append(record: Record<string, unknown>): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    await appendFile(this.path, `${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
  }
}
