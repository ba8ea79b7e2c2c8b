import { LdmError } from '@ldm/backend';
import type { TimestepSpacing } from './config';

/** numpy's round (half to even), so spacings land on the same integers as diffusers'. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The inference timesteps diffusers' `set_timesteps(n)` picks, descending (Table 2 of arXiv 2305.08891):
 * leading `[(n−1)·⌊T/n⌋, …, 0] + offset`, trailing `round(T − i·T/n) − 1`, linspace `round(linspace(0, T−1, n))`.
 */
export function spacedTimesteps(numTrainTimesteps: number, numInferenceSteps: number, spacing: TimestepSpacing, stepsOffset = 0): number[] {
  const T = numTrainTimesteps;
  const n = numInferenceSteps;
  if (!Number.isInteger(n) || n < 1 || n > T) {
    throw new LdmError('INVALID_ARGUMENT', `setTimesteps: numInferenceSteps must be an integer in [1, ${T}] (num_train_timesteps), got ${n}`);
  }
  let ts: number[];
  switch (spacing) {
    case 'leading': {
      const ratio = Math.floor(T / n);
      ts = Array.from({ length: n }, (_, i) => (n - 1 - i) * ratio + stepsOffset);
      break;
    }
    case 'trailing': {
      const step = -T / n;
      ts = Array.from({ length: n }, (_, i) => roundHalfEven(T + i * step) - 1);
      break;
    }
    case 'linspace': {
      const step = (T - 1) / (n - 1 || 1);
      ts = Array.from({ length: n }, (_, i) => roundHalfEven(n === 1 ? 0 : i === n - 1 ? T - 1 : i * step)).reverse();
      break;
    }
    default:
      throw new LdmError('INVALID_CONFIG', `timestep_spacing: "${String(spacing)}" is not one of leading, trailing, linspace`);
  }
  if ((ts[0] as number) >= T) {
    throw new LdmError(
      'INVALID_CONFIG',
      `steps_offset ${stepsOffset} with ${n} leading steps gives timestep ${ts[0]}, beyond num_train_timesteps − 1 = ${T - 1}`,
    );
  }
  return ts;
}

/** Checks user-chosen timesteps: integers in [0, T), strictly descending. */
export function validateCustomTimesteps(timesteps: ArrayLike<number>, numTrainTimesteps: number): number[] {
  const ts = Array.from(timesteps);
  if (ts.length === 0) throw new LdmError('INVALID_ARGUMENT', 'setTimesteps: custom timesteps must not be empty');
  ts.forEach((t, i) => {
    if (!Number.isInteger(t) || t < 0 || t >= numTrainTimesteps) {
      throw new LdmError(
        'INVALID_ARGUMENT',
        `setTimesteps: custom timesteps[${i}] = ${t}; each must be an integer in [0, ${numTrainTimesteps - 1}] (num_train_timesteps − 1)`,
      );
    }
    if (i > 0 && t >= (ts[i - 1] as number)) {
      throw new LdmError('INVALID_ARGUMENT', `setTimesteps: custom timesteps must be strictly descending; timesteps[${i}] = ${t} follows ${ts[i - 1]}`);
    }
  });
  return ts;
}
