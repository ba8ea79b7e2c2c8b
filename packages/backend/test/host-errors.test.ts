import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const fixture = join(here, 'fixtures', 'host-error.ts');

function runHost(backend: string, kind: string): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, ['--conditions=@ldm/source', '--import', 'tsx', fixture, backend, kind], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stderr: r.stderr };
}

describe("the host's own errors after initBackend (a child process)", () => {
  it.each(['wasm', 'cpu'])('%s: an uncaught error exits 1 with the host trace, not 7 from inside tfjs', (backend) => {
    const { status, stderr } = runHost(backend, 'throw');
    expect(stderr).toContain('host application error');
    expect(stderr).toContain('host-error.ts');
    expect(stderr).not.toContain('tf-backend-wasm');
    expect(status).toBe(1);
  });

  it('wasm: an unhandled rejection exits 1 with its own message', () => {
    const { status, stderr } = runHost('wasm', 'reject');
    expect(stderr).toContain('host rejection');
    expect(stderr).not.toContain('tf-backend-wasm');
    expect(status).toBe(1);
  });
});
