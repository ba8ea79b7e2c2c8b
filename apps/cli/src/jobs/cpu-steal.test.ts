import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cpuSeconds, cpuStealSeconds, stolenCores } from './cpu-steal';

describe('cpu steal', () => {
  it.runIf(existsSync('/proc/stat'))("reads the steal column of /proc/stat's cpu line (USER_HZ ticks → seconds)", () => {
    const before = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/);
    const seconds = cpuStealSeconds()!;
    const { busy } = cpuSeconds()!;
    const after = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/);
    expect(before[0]).toBe('cpu');
    expect(seconds).toBeGreaterThanOrEqual(Number(before[8]) / 100);
    expect(seconds).toBeLessThanOrEqual(Number(after[8]) / 100);
    // busy leaves out idle, iowait and steal: between the total less those read before and read after.
    const notBusy = (f: string[]) => (Number(f[4]) + Number(f[5]) + Number(f[8])) / 100;
    const total = (f: string[]) => f.slice(1).reduce((a, b) => a + Number(b), 0) / 100;
    expect(busy).toBeGreaterThanOrEqual(total(before) - notBusy(before) - 1e-6);
    expect(busy).toBeLessThanOrEqual(total(after) - notBusy(after) + 1e-6);
  });

  it('is undefined without a start reading or a span, never negative', () => {
    expect(stolenCores(undefined, 10)).toBeUndefined();
    expect(stolenCores(0, 0)).toBeUndefined();
    const now = cpuStealSeconds();
    if (now !== undefined) {
      // A start reading from the future (clock or counter reset) gives 0, not a negative share.
      expect(stolenCores(now + 1e6, 10)).toBe(0);
      expect(stolenCores(now, 10)).toBeGreaterThanOrEqual(0);
    }
  });
});
