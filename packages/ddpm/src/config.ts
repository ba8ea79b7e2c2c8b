import { LdmError } from '@ldm/backend';

export const BETA_SCHEDULES = ['linear', 'scaled_linear', 'squaredcos_cap_v2', 'sigmoid'] as const;
export const PREDICTION_TYPES = ['epsilon', 'sample', 'v_prediction'] as const;
export const VARIANCE_TYPES = ['fixed_small', 'fixed_large'] as const;
export const TIMESTEP_SPACINGS = ['leading', 'trailing', 'linspace'] as const;

export type BetaSchedule = (typeof BETA_SCHEDULES)[number];
export type PredictionType = (typeof PREDICTION_TYPES)[number];
export type VarianceType = (typeof VARIANCE_TYPES)[number];
export type TimestepSpacing = (typeof TIMESTEP_SPACINGS)[number];

/** Which scheduler a config is for: the two share every key except `varianceType` (DDPM) and `setAlphaToOne` (DDIM). */
export type SchedulerKind = 'ddpm' | 'ddim';

/** Every option of the DDPM and DDIM schedulers, with diffusers' meaning; the defaults are SCHEDULER_DEFAULTS (below). */
export interface SchedulerConfig {
  /** T, the number of diffusion steps the model is trained with. Default 1000. */
  numTrainTimesteps: number;
  /** β₁ of the 'linear' and 'scaled_linear' schedules. Default 0.0001. */
  betaStart: number;
  /** β_T of the 'linear' and 'scaled_linear' schedules. Default 0.02. */
  betaEnd: number;
  /** How β_t grows with t. Default 'linear' (Ho et al.). */
  betaSchedule: BetaSchedule;
  /** Explicit betas (a trained schedule); overrides betaSchedule/betaStart/betaEnd when set. Default null. */
  trainedBetas: number[] | null;
  /** What the network predicts: ε ('epsilon'), x₀ ('sample') or v ('v_prediction'). Default 'epsilon'. */
  predictionType: PredictionType;
  /** DDPM only: β̃ (posterior variance, 'fixed_small') or β ('fixed_large'). Default 'fixed_small'. */
  varianceType: VarianceType;
  /** Clip x̂₀ to ±clipSampleRange in each step (image models). Default true. */
  clipSample: boolean;
  /** Default 1. */
  clipSampleRange: number;
  /** Dynamic thresholding (Imagen): clip x̂₀ to the per-sample `dynamicThresholdingRatio` quantile of |x̂₀|. Default false. */
  thresholding: boolean;
  /** Default 0.995. */
  dynamicThresholdingRatio: number;
  /** The largest threshold dynamic thresholding may use. Default 1. */
  sampleMaxValue: number;
  /** How `setTimesteps(n)` spaces its n timesteps over 0 … T−1. Default 'leading'. */
  timestepSpacing: TimestepSpacing;
  /** Added to every 'leading' timestep. Default 0. */
  stepsOffset: number;
  /** DDIM only: ᾱ after the last step is 1 (true) or ᾱ₀ (false). Default true. */
  setAlphaToOne: boolean;
  /** Rescale betas so the last timestep has zero SNR (Lin et al. 2023, Algorithm 1). Default false. */
  rescaleBetasZeroSnr: boolean;
}

/** What a caller passes: any subset of SchedulerConfig (an object literal with another key is a compile error). */
export type SchedulerOptions = Partial<SchedulerConfig>;

/** diffusers' defaults (DDPMScheduler / DDIMScheduler `__init__`), the only place they are written. */
export const SCHEDULER_DEFAULTS: Readonly<SchedulerConfig> = Object.freeze({
  numTrainTimesteps: 1000,
  betaStart: 0.0001,
  betaEnd: 0.02,
  betaSchedule: 'linear',
  trainedBetas: null,
  predictionType: 'epsilon',
  varianceType: 'fixed_small',
  clipSample: true,
  clipSampleRange: 1.0,
  thresholding: false,
  dynamicThresholdingRatio: 0.995,
  sampleMaxValue: 1.0,
  timestepSpacing: 'leading',
  stepsOffset: 0,
  setAlphaToOne: true,
  rescaleBetasZeroSnr: false,
});

const SNAKE_KEYS: Record<keyof SchedulerConfig, string> = {
  numTrainTimesteps: 'num_train_timesteps',
  betaStart: 'beta_start',
  betaEnd: 'beta_end',
  betaSchedule: 'beta_schedule',
  trainedBetas: 'trained_betas',
  predictionType: 'prediction_type',
  varianceType: 'variance_type',
  clipSample: 'clip_sample',
  clipSampleRange: 'clip_sample_range',
  thresholding: 'thresholding',
  dynamicThresholdingRatio: 'dynamic_thresholding_ratio',
  sampleMaxValue: 'sample_max_value',
  timestepSpacing: 'timestep_spacing',
  stepsOffset: 'steps_offset',
  setAlphaToOne: 'set_alpha_to_one',
  rescaleBetasZeroSnr: 'rescale_betas_zero_snr',
};

const CONFIG_KEYS = Object.keys(SNAKE_KEYS) as (keyof SchedulerConfig)[];
const CAMEL_OF_SNAKE = new Map(CONFIG_KEYS.map((k) => [SNAKE_KEYS[k], k]));

/** Keys that belong to the other scheduler: accepted and ignored, so a DDPM config can build a DDIM scheduler (diffusers' `from_config` habit). */
const KEYS_NOT_USED_BY: Record<SchedulerKind, keyof SchedulerConfig> = { ddpm: 'setAlphaToOne', ddim: 'varianceType' };

/** Keys other diffusers schedulers write into configs users will hand us (Stable Diffusion's PNDM config); ignored. */
const FOREIGN_DIFFUSERS_KEYS = new Set(['skip_prk_steps']);

type Naming = 'camel' | 'snake';

function label(key: keyof SchedulerConfig, naming: Naming): string {
  return naming === 'snake' ? SNAKE_KEYS[key] : key;
}

function invalid(key: keyof SchedulerConfig, naming: Naming, expected: string, got: unknown): LdmError {
  return new LdmError('INVALID_CONFIG', `scheduler config "${label(key, naming)}": expected ${expected}, got ${JSON.stringify(got)}`);
}

function checkEnum<T extends string>(key: keyof SchedulerConfig, naming: Naming, allowed: readonly T[], value: unknown): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw invalid(key, naming, `one of ${allowed.map((a) => `"${a}"`).join(', ')}`, value);
  }
  return value as T;
}

function checkBoolean(key: keyof SchedulerConfig, naming: Naming, value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalid(key, naming, 'true or false', value);
  return value;
}

function checkNumber(key: keyof SchedulerConfig, naming: Naming, value: unknown, min: number, max: number, integer = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw invalid(key, naming, `${integer ? 'an integer' : 'a number'} in [${min}, ${max}]`, value);
  }
  return value;
}

/** Fills defaults and validates every value; unknown keys and bad values are an LdmError naming the key. */
function resolve(options: Record<string, unknown>, kind: SchedulerKind, naming: Naming): SchedulerConfig {
  const merged: Record<string, unknown> = { ...SCHEDULER_DEFAULTS };
  for (const [key, value] of Object.entries(options)) {
    if (!(CONFIG_KEYS as string[]).includes(key)) {
      const allowed = CONFIG_KEYS.filter((k) => k !== KEYS_NOT_USED_BY[kind]).map((k) => label(k, naming));
      throw new LdmError('INVALID_CONFIG', `${kind.toUpperCase()} scheduler config: unknown key "${key}"; allowed keys: ${allowed.join(', ')}`);
    }
    if (value !== undefined) merged[key] = value;
  }
  const c = merged as Record<keyof SchedulerConfig, unknown>;
  const config: SchedulerConfig = {
    numTrainTimesteps: checkNumber('numTrainTimesteps', naming, c.numTrainTimesteps, 1, 1e6, true),
    betaStart: checkNumber('betaStart', naming, c.betaStart, 0, 1),
    betaEnd: checkNumber('betaEnd', naming, c.betaEnd, 0, 1),
    betaSchedule: checkEnum('betaSchedule', naming, BETA_SCHEDULES, c.betaSchedule),
    trainedBetas: null,
    predictionType: checkEnum('predictionType', naming, PREDICTION_TYPES, c.predictionType),
    varianceType: checkEnum('varianceType', naming, VARIANCE_TYPES, c.varianceType),
    clipSample: checkBoolean('clipSample', naming, c.clipSample),
    clipSampleRange: checkNumber('clipSampleRange', naming, c.clipSampleRange, Number.MIN_VALUE, Infinity),
    thresholding: checkBoolean('thresholding', naming, c.thresholding),
    dynamicThresholdingRatio: checkNumber('dynamicThresholdingRatio', naming, c.dynamicThresholdingRatio, 0, 1),
    sampleMaxValue: checkNumber('sampleMaxValue', naming, c.sampleMaxValue, 1, Infinity),
    timestepSpacing: checkEnum('timestepSpacing', naming, TIMESTEP_SPACINGS, c.timestepSpacing),
    stepsOffset: checkNumber('stepsOffset', naming, c.stepsOffset, 0, 1e6, true),
    setAlphaToOne: checkBoolean('setAlphaToOne', naming, c.setAlphaToOne),
    rescaleBetasZeroSnr: checkBoolean('rescaleBetasZeroSnr', naming, c.rescaleBetasZeroSnr),
  };
  // The other scheduler's key has no meaning here: keep its default so configs compare equal after a round trip.
  if (kind === 'ddpm') config.setAlphaToOne = SCHEDULER_DEFAULTS.setAlphaToOne;
  else config.varianceType = SCHEDULER_DEFAULTS.varianceType;
  if (c.trainedBetas !== null) {
    const tb = c.trainedBetas;
    const ok = (Array.isArray(tb) || ArrayBuffer.isView(tb)) && Array.from(tb as ArrayLike<unknown>).every((b) => typeof b === 'number' && b > 0 && b <= 1);
    if (!ok) throw invalid('trainedBetas', naming, 'null or an array of numbers in (0, 1]', tb);
    const betas = Array.from(tb as ArrayLike<number>);
    if (options[naming === 'snake' ? 'num_train_timesteps' : 'numTrainTimesteps'] === undefined) config.numTrainTimesteps = betas.length;
    if (betas.length !== config.numTrainTimesteps) {
      throw invalid('trainedBetas', naming, `${config.numTrainTimesteps} values (${label('numTrainTimesteps', naming)})`, `${betas.length} values`);
    }
    config.trainedBetas = betas;
  }
  return config;
}

/** The full config for camelCase constructor options (defaults filled, values validated). */
export function resolveSchedulerConfig(options: SchedulerOptions, kind: SchedulerKind): SchedulerConfig {
  return resolve(options as Record<string, unknown>, kind, 'camel');
}

/** Reads a diffusers `scheduler_config.json` object (snake_case keys; `_`-prefixed metadata ignored; null means default). */
export function parseDiffusersSchedulerConfig(json: unknown, kind: SchedulerKind): SchedulerConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new LdmError('INVALID_CONFIG', `${kind.toUpperCase()} scheduler config: expected a JSON object (scheduler_config.json), got ${JSON.stringify(json)}`);
  }
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    if (key.startsWith('_') || FOREIGN_DIFFUSERS_KEYS.has(key)) continue;
    const camel = CAMEL_OF_SNAKE.get(key);
    if (camel === undefined) {
      const allowed = CONFIG_KEYS.filter((k) => k !== KEYS_NOT_USED_BY[kind]).map((k) => SNAKE_KEYS[k]);
      throw new LdmError('INVALID_CONFIG', `${kind.toUpperCase()} scheduler config: unknown key "${key}"; allowed keys: ${allowed.join(', ')}`);
    }
    if (value === null && camel !== 'trainedBetas') continue;
    options[camel] = value;
  }
  return resolve(options, kind, 'snake');
}

/** A diffusers `scheduler_config.json` object for `config` (only the keys that scheduler class has). */
export function toDiffusersSchedulerConfig(config: SchedulerConfig, kind: SchedulerKind): Record<string, unknown> {
  const out: Record<string, unknown> = { _class_name: kind === 'ddpm' ? 'DDPMScheduler' : 'DDIMScheduler' };
  for (const key of CONFIG_KEYS) {
    if (key === KEYS_NOT_USED_BY[kind]) continue;
    const value = config[key];
    out[SNAKE_KEYS[key]] = Array.isArray(value) ? [...value] : value;
  }
  return out;
}
