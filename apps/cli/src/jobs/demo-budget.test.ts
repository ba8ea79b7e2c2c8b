import { describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ddpmStepsForBudget, steadyStepsPerSecond } from './demo-job';

describe('ddpmStepsForBudget: the latent DDPM fills what the demo budget leaves', () => {
  const demo = { budgetSeconds: 900, budgetMarginSeconds: 60, compareInDdpmSteps: 1300, minDdpmSteps: 1000 };

  it('gives the DDPM the seconds left after stage 4 (estimated in DDPM steps of this host) and the margin', () => {
    // 70 s spent, 12.5 steps/s: 770 s × 12.5 = 9,625 step-seconds, minus 1,300 for stage 4.
    expect(ddpmStepsForBudget(12.5, 70, demo)).toBe(8325);
    // A host a third slower gets proportionally fewer steps, and the whole run still ends near 840 s:
    const slow = ddpmStepsForBudget(9.4, 110, demo);
    expect(slow).toBe(Math.floor(730 * 9.4 - 1300));
    expect(110 + (slow + 1300) / 9.4).toBeCloseTo(840, 0);
  });

  it('never sizes fewer than the fewest steps the demo trains (a slow host runs over the budget)', () => {
    expect(ddpmStepsForBudget(1, 800, demo)).toBe(1000);
    expect(ddpmStepsForBudget(12.5, 1000, demo)).toBe(1000);
  });

  it('sizes with the defaults: the probe rate of this machine gives 6,000–10,000 steps', () => {
    const steps = ddpmStepsForBudget(12.5, 70);
    expect(steps).toBeGreaterThan(6000);
    expect(steps).toBeLessThan(10000);
  });
});

describe('steadyStepsPerSecond: the probe rate without its first steps', () => {
  it('takes the rate from the second logged row to the last, from the times the metrics log records', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ldm-rate-'));
    try {
      const path = join(dir, 'metrics.jsonl');
      const at = (s: number) => new Date(Date.UTC(2026, 0, 1) + s * 1000).toISOString();
      // 10 slow steps (kernels being built), then 10 steps a second.
      const rows = [
        { step: 10, time: at(5) },
        { step: 20, time: at(6) },
        { step: 40, time: at(8) },
        { step: 60, time: at(10) },
      ];
      await writeFile(path, `${rows.map((r) => JSON.stringify({ ...r, loss: 0.1 })).join('\n')}\n`);
      expect(await steadyStepsPerSecond(path)).toBeCloseTo(10, 9);
      await writeFile(path, `${JSON.stringify(rows[0])}\n${JSON.stringify(rows[1])}\n`);
      expect(await steadyStepsPerSecond(path)).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
