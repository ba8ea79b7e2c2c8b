import { mkdir, mkdtemp, realpath, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveInside, safeSegments } from './safe-path';

describe('safeSegments: a raw URL path is a list of plain names or nothing', () => {
  it('accepts plain relative names, decoding percent-escapes', () => {
    expect(safeSegments('unet/config.json')).toEqual(['unet', 'config.json']);
    expect(safeSegments('a%20b/c.json')).toEqual(['a b', 'c.json']);
  });

  it.each([
    ['..', 'parent'],
    ['../x', 'parent'],
    ['unet/../../x', 'parent deeper'],
    ['%2e%2e/x', 'encoded parent'],
    ['%2E%2E%2Fx', 'encoded parent and slash'],
    ['unet/%2e%2e%2f%2e%2e%2fx', 'encoded in the middle'],
    ['./x', 'dot'],
    ['/etc/passwd', 'absolute'],
    ['%2Fetc%2Fpasswd', 'encoded absolute'],
    ['a//b', 'empty segment'],
    ['', 'empty'],
    ['..\\x', 'backslash'],
    ['%5c..%5cx', 'encoded backslash'],
    ['x%00.json', 'NUL'],
    ['%zz', 'malformed escape'],
    ['C:/Windows', 'drive letter'],
    ['training/.ldm.lock', 'hidden name'],
  ])('refuses %s (%s)', (raw) => {
    expect(safeSegments(raw)).toBeUndefined();
  });
});

describe('resolveInside: a regular file whose real path is inside the folder', () => {
  let root: string;
  let outside: string;
  beforeAll(async () => {
    const base = await realpath(await mkdtemp(join(tmpdir(), 'ldm-safe-path-')));
    root = join(base, 'model');
    outside = join(base, 'secret.txt');
    await mkdir(join(root, 'unet'), { recursive: true });
    await writeFile(join(root, 'unet', 'config.json'), '{}');
    await writeFile(outside, 'secret');
    await symlink(outside, join(root, 'out.txt'));
    await symlink(base, join(root, 'up'));
    await symlink(join(root, 'unet', 'config.json'), join(root, 'in.json'));
    // A folder whose own path is a symlink still serves its files (the root is resolved too).
    await symlink(root, join(base, 'model-link'));
  });

  it('finds files inside, through symlinks that stay inside and through a symlinked root', async () => {
    expect(await resolveInside(root, 'unet/config.json')).toBe(join(root, 'unet', 'config.json'));
    expect(await resolveInside(root, 'in.json')).toBe(join(root, 'unet', 'config.json'));
    expect(await resolveInside(join(root, '..', 'model-link'), 'unet/config.json')).toBe(join(root, 'unet', 'config.json'));
  });

  it('refuses symlinks leading out, folders, missing files and the root itself', async () => {
    expect(await resolveInside(root, 'out.txt')).toBeUndefined();
    expect(await resolveInside(root, 'up/secret.txt')).toBeUndefined();
    expect(await resolveInside(root, 'unet')).toBeUndefined();
    expect(await resolveInside(root, 'nope.json')).toBeUndefined();
    expect(await resolveInside(root, '%2e%2e/secret.txt')).toBeUndefined();
    expect(await resolveInside(join(root, 'missing-root'), 'x')).toBeUndefined();
  });
});
