import { LdmError } from '@ldm/backend';

export type LearningRateScheduleKind = 'cosine' | 'constant';

export interface LearningRateSchedule {
  /** The peak learning rate, reached at the end of warm-up. */
  base: number;
  warmupSteps?: number;
  /** Where the cosine reaches its floor; required for 'cosine'. */
  totalSteps?: number;
  schedule?: LearningRateScheduleKind;
  /** The cosine's floor as a fraction of `base` (0 = decay to zero, as diffusers). */
  minRatio?: number;
}

export const LR_SCHEDULE_DEFAULTS = { warmupSteps: 0, schedule: 'cosine', minRatio: 0 } as const;

/**
 * The learning rate for optimisation step `step` (0-based: the rate for the first update is
 * `learningRateAt(0)`), as diffusers' `get_cosine_schedule_with_warmup` / `get_constant_schedule_with_warmup`
 * under PyTorch's LambdaLR: linear warm-up `step / warmupSteps`, then half a cosine from 1 down to
 * `minRatio` at `totalSteps`. Past `totalSteps` it stays at the floor (diffusers' curve would rise
 * again). A pure function of the step, so a resumed run needs no scheduler state.
 */
export function learningRateAt(step: number, options: LearningRateSchedule): number {
  const base = options.base;
  const warmupSteps = options.warmupSteps ?? LR_SCHEDULE_DEFAULTS.warmupSteps;
  const schedule = options.schedule ?? LR_SCHEDULE_DEFAULTS.schedule;
  const minRatio = options.minRatio ?? LR_SCHEDULE_DEFAULTS.minRatio;
  const bad = (name: string, expected: string, got: unknown) =>
    new LdmError('INVALID_CONFIG', `learning-rate schedule option '${name}' must be ${expected}, got ${String(got)}`);
  if (!(Number.isFinite(base) && base >= 0)) throw bad('base', 'a finite number ≥ 0', base);
  if (!(Number.isInteger(warmupSteps) && warmupSteps >= 0)) throw bad('warmupSteps', 'an integer ≥ 0', warmupSteps);
  if (!(minRatio >= 0 && minRatio <= 1)) throw bad('minRatio', 'in [0, 1]', minRatio);
  if (schedule !== 'cosine' && schedule !== 'constant') throw bad('schedule', "'cosine' or 'constant'", schedule);
  if (!(Number.isInteger(step) && step >= 0)) {
    throw new LdmError('INVALID_ARGUMENT', `learning-rate step must be an integer ≥ 0, got ${step}`);
  }

  const totalSteps = options.totalSteps ?? Number.NaN;
  if (schedule === 'cosine' && !(Number.isInteger(totalSteps) && totalSteps >= warmupSteps)) {
    throw bad('totalSteps', `an integer ≥ warmupSteps (${warmupSteps}) for the cosine schedule`, options.totalSteps);
  }

  if (step < warmupSteps) return (base * step) / warmupSteps;
  if (schedule === 'constant') return base;

  const progress = Math.min(1, (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps));
  const cosine = 0.5 * (1 + Math.cos(Math.PI * progress));
  return base * (minRatio + (1 - minRatio) * cosine);
}
