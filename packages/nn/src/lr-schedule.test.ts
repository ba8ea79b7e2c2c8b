import { describe, expect, it } from 'vitest';
import { learningRateAt } from './lr-schedule';

describe('learningRateAt', () => {
  const base = 1e-3;

  it('constant: base at every step, or after a linear warm-up', () => {
    for (const step of [0, 1, 17, 10_000]) expect(learningRateAt(step, { base, schedule: 'constant' })).toBe(base);
    const warm = { base, schedule: 'constant' as const, warmupSteps: 10 };
    expect(learningRateAt(0, warm)).toBe(0);
    expect(learningRateAt(5, warm)).toBeCloseTo(5e-4, 15);
    expect(learningRateAt(9, warm)).toBeCloseTo(9e-4, 15);
    expect(learningRateAt(10, warm)).toBe(base);
    expect(learningRateAt(1_000_000, warm)).toBe(base);
  });

  it('cosine: warm-up, then half a cosine from base to the floor, then the floor', () => {
    const o = { base, warmupSteps: 10, totalSteps: 110 };
    expect(learningRateAt(0, o)).toBe(0);
    expect(learningRateAt(4, o)).toBeCloseTo(4e-4, 15);
    expect(learningRateAt(10, o)).toBeCloseTo(base, 15);
    expect(learningRateAt(35, o)).toBeCloseTo(base * (0.5 + Math.SQRT1_2 / 2), 15); // progress 1/4
    expect(learningRateAt(60, o)).toBeCloseTo(base / 2, 15); // progress 1/2
    expect(learningRateAt(85, o)).toBeCloseTo(base * (0.5 - Math.SQRT1_2 / 2), 15); // progress 3/4
    expect(learningRateAt(110, o)).toBeCloseTo(0, 15);
    expect(learningRateAt(500, o)).toBeCloseTo(0, 15);
    let previous = Infinity;
    for (let s = 10; s <= 120; s++) {
      const lr = learningRateAt(s, o);
      expect(lr).toBeLessThanOrEqual(previous);
      previous = lr;
    }
  });

  it('cosine with a floor: minRatio·base at the end, halfway is the midpoint', () => {
    const o = { base, totalSteps: 100, minRatio: 0.1 };
    expect(learningRateAt(0, o)).toBe(base);
    expect(learningRateAt(50, o)).toBeCloseTo(base * 0.55, 15);
    expect(learningRateAt(100, o)).toBeCloseTo(base * 0.1, 15);
    expect(learningRateAt(1000, o)).toBeCloseTo(base * 0.1, 15);
  });

  it('refuses bad options with INVALID_CONFIG naming the option', () => {
    expect(() => learningRateAt(0, { base })).toThrow(/totalSteps/);
    expect(() => learningRateAt(0, { base, totalSteps: 5, warmupSteps: 10 })).toThrow(/totalSteps/);
    expect(() => learningRateAt(0, { base, totalSteps: 5, minRatio: 2 })).toThrow(/minRatio/);
    expect(() => learningRateAt(0, { base: -1, schedule: 'constant' })).toThrow(/base/);
    expect(() => learningRateAt(-1, { base, schedule: 'constant' })).toThrow(/step/);
    expect(() => learningRateAt(0, { base, schedule: 'linear' as never })).toThrow(/schedule/);
  });
});
