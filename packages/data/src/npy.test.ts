import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeNpy, encodeNpy, npyHeader, readNpy, writeNpy } from './npy';

const dir = mkdtempSync(join(tmpdir(), 'ldm-npy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hasNumpy = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;

describe('.npy', () => {
  it("writes numpy's exact format-1.0 header, padded to 64 bytes with a newline", () => {
    const header = new TextDecoder('latin1').decode(npyHeader([2, 3]));
    const dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    // numpy leaves room for the first axis to grow to 21 digits, then pads to 64.
    expect(header).toBe(`\x93NUMPY\x01\x00\x76\x00${dict}${' '.repeat(128 - 10 - dict.length - 1)}\n`);
    for (const shape of [[5], [], [10000, 32, 32, 1], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]]) {
      const h = npyHeader(shape);
      expect(h.length % 64).toBe(0);
      expect(h[h.length - 1]).toBe(10);
    }
    expect(new TextDecoder().decode(npyHeader([5]))).toContain("'shape': (5,), }");
    expect(new TextDecoder().decode(npyHeader([]))).toContain("'shape': (), }");
  });

  it('round-trips values and shape, including special floats', async () => {
    const data = Float32Array.from([0, -1.5, 3.25e-8, Infinity, -Infinity, NaN, 1e30, -0]);
    const path = join(dir, 'sub', 'a.npy');
    await writeNpy(path, data, [2, 2, 2]);
    const back = await readNpy(path);
    expect(back.shape).toEqual([2, 2, 2]);
    expect(Array.from(back.data)).toEqual(Array.from(data));
    expect(readdirSync(join(dir, 'sub'))).toEqual(['a.npy']);
  });

  it('rejects wrong shapes, dtypes, Fortran order, truncation and non-npy files, naming the file', async () => {
    expect(() => encodeNpy(new Float32Array(5), [2, 3])).toThrow(/shape \(2, 3\) holds 6 values, got 5/);
    const good = encodeNpy(new Float32Array(6), [2, 3]);
    expect(() => decodeNpy(good.subarray(0, good.length - 4), 'cut.npy')).toThrow(/cut\.npy: .* needs 24 bytes .* holds 20/);
    const f8 = Uint8Array.from(good);
    f8.set(new TextEncoder().encode('<f8'), 21);
    expect(() => decodeNpy(f8, 'f8.npy')).toThrow(/f8\.npy: \.npy dtype is '<f8', expected '<f4'/);
    const fortran = Uint8Array.from(good);
    fortran.set(new TextEncoder().encode('True '), new TextDecoder('latin1').decode(good).indexOf('False'));
    expect(() => decodeNpy(fortran, 'f.npy')).toThrow(/f\.npy: .*Fortran order/);
    writeFileSync(join(dir, 'x.npy'), 'hello world');
    await expect(readNpy(join(dir, 'x.npy'))).rejects.toThrow(/x\.npy: not a \.npy file/);
    await expect(readNpy(join(dir, 'none.npy'))).rejects.toThrow(/none\.npy: cannot read/);
  });

  it.skipIf(!hasNumpy)('numpy reads what we write and writes byte-identical files', async () => {
    const data = Float32Array.from({ length: 24 }, (_, i) => i * 0.5 - 3);
    const ours = join(dir, 'ours.npy');
    await writeNpy(ours, data, [2, 3, 4]);
    const theirs = join(dir, 'theirs.npy');
    const script = [
      'import numpy as np, sys',
      'a = np.load(sys.argv[1])',
      'assert a.dtype == np.float32 and a.shape == (2, 3, 4), (a.dtype, a.shape)',
      'assert (a.ravel() == np.arange(24, dtype=np.float32) * 0.5 - 3).all()',
      'np.save(sys.argv[2], np.arange(24, dtype=np.float32).reshape(2, 3, 4) * np.float32(0.5) - np.float32(3))',
      'np.save(sys.argv[3], np.zeros((7,), dtype=np.float32))',
    ].join('\n');
    execFileSync('python3', ['-c', script, ours, theirs, join(dir, 'seven.npy')]);
    expect(Buffer.compare(readFileSync(ours), readFileSync(theirs))).toBe(0);
    expect(Array.from(encodeNpy(new Float32Array(7), [7]))).toEqual(Array.from(readFileSync(join(dir, 'seven.npy'))));
    expect(Array.from((await readNpy(theirs)).data)).toEqual(Array.from(data));
  });
});
