import * as tf from '@tensorflow/tfjs-core';
import { LdmError, emaUpdateFused, fusedOptimizerOpsAvailable } from '@ldm/backend';
import type { TensorRecord } from './safetensors';

/** diffusers' `EMAModel` options, under camelCase names. */
export interface EmaOptions {
  /** The largest decay ever used (diffusers' `decay`). */
  maxDecay?: number;
  minDecay?: number;
  /** Optimisation steps before averaging starts; until then the shadow copies the weights. */
  updateAfterStep?: number;
  /** `1 − (1 + step/invGamma)^−power` instead of `(1 + step)/(10 + step)`. */
  useWarmup?: boolean;
  invGamma?: number;
  power?: number;
}

export type ResolvedEmaOptions = Required<EmaOptions>;

/** diffusers' defaults (EMAModel in diffusers 0.38). */
export const EMA_DEFAULTS: ResolvedEmaOptions = {
  maxDecay: 0.9999,
  minDecay: 0,
  updateAfterStep: 0,
  useWarmup: false,
  invGamma: 1,
  power: 2 / 3,
};

export function resolveEmaOptions(options: EmaOptions = {}): ResolvedEmaOptions {
  const o = { ...EMA_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  const bad = (name: string, expected: string, got: unknown) => new LdmError('INVALID_CONFIG', `EMA option '${name}' must be ${expected}, got ${String(got)}`);
  if (!(o.maxDecay >= 0 && o.maxDecay <= 1)) throw bad('maxDecay', 'in [0, 1]', o.maxDecay);
  if (!(o.minDecay >= 0 && o.minDecay <= o.maxDecay)) throw bad('minDecay', `in [0, maxDecay=${o.maxDecay}]`, o.minDecay);
  if (!(Number.isInteger(o.updateAfterStep) && o.updateAfterStep >= 0)) throw bad('updateAfterStep', 'an integer ≥ 0', o.updateAfterStep);
  if (!(o.invGamma > 0)) throw bad('invGamma', '> 0', o.invGamma);
  if (!(o.power > 0)) throw bad('power', '> 0', o.power);
  return o;
}

/**
 * The decay diffusers' `EMAModel.get_decay` uses at optimisation step `optimizationStep` (1 on the
 * first update): 0 until `updateAfterStep` has passed (the shadow copies the weights), then the
 * warm-up or the (1 + s)/(10 + s) rule, clipped to [minDecay, maxDecay].
 */
export function emaDecay(optimizationStep: number, options: EmaOptions = {}): number {
  const o = resolveEmaOptions(options);
  const step = Math.max(0, optimizationStep - o.updateAfterStep - 1);
  if (step <= 0) return 0;
  const decay = o.useWarmup ? 1 - (1 + step / o.invGamma) ** -o.power : (1 + step) / (10 + step);
  return Math.max(Math.min(decay, o.maxDecay), o.minDecay);
}

export interface EmaState {
  /** Updates taken so far (diffusers' `optimization_step`). */
  optimizationStep: number;
  /** The shadow weights, under the parameters' own names, so the file loads straight into a model. */
  tensors: Map<string, TensorRecord>;
}

/**
 * Exponential moving average of a model's parameters, as diffusers' `EMAModel`:
 * shadow ← shadow − (1 − decay)·(shadow − param) for trainable parameters; non-trainable ones are copied.
 */
export class EMA {
  readonly options: ResolvedEmaOptions;
  private readonly shadow = new Map<string, tf.Variable>();
  private readonly trainable = new Map<string, boolean>();
  private stored: Map<string, tf.Tensor> | undefined;
  private step = 0;

  constructor(params: ReadonlyMap<string, tf.Variable>, options: EmaOptions = {}) {
    this.options = resolveEmaOptions(options);
    for (const [name, p] of params) {
      this.shadow.set(
        name,
        tf.tidy(() => tf.variable(p.clone(), false)),
      );
      this.trainable.set(name, p.trainable);
    }
  }

  get optimizationStep(): number {
    return this.step;
  }

  /** The averaged weights (owned by the EMA; do not dispose). */
  get shadowParameters(): ReadonlyMap<string, tf.Variable> {
    return this.shadow;
  }

  /** Takes one averaging step towards `params` (after the optimizer step); returns the decay used. */
  update(params: ReadonlyMap<string, tf.Variable>): number {
    this.checkNames(params, 'update');
    this.step += 1;
    const decay = emaDecay(this.step, this.options);
    const oneMinusDecay = 1 - decay;
    tf.tidy(() => {
      const fused = fusedOptimizerOpsAvailable();
      const trainable: [tf.Variable, tf.Variable][] = [];
      for (const [name, s] of this.shadow) {
        const p = params.get(name)!;
        if (!this.trainable.get(name)) s.assign(p);
        else if (fused) trainable.push([s, p]);
        else s.assign(tf.sub(s, tf.mul(tf.sub(s, p), oneMinusDecay)));
      }
      // One kernel for every trainable parameter (native, or our wasm module), the same float32 math.
      if (trainable.length > 0) {
        const next = emaUpdateFused(
          trainable.map(([s]) => s),
          trainable.map(([, p]) => p),
          oneMinusDecay,
        );
        trainable.forEach(([s], i) => s.assign(next[i]!));
      }
    });
    return decay;
  }

  /** Writes the shadow weights into `params` (e.g. a model used only for sampling). */
  copyTo(params: ReadonlyMap<string, tf.Variable>): void {
    this.checkNames(params, 'copyTo');
    for (const [name, s] of this.shadow) params.get(name)!.assign(s);
  }

  /** Swaps the shadow weights into `params` for sampling, keeping the live ones; `restore` puts them back. */
  store(params: ReadonlyMap<string, tf.Variable>): void {
    this.checkNames(params, 'store');
    if (this.stored) throw new LdmError('INVALID_ARGUMENT', 'EMA.store called twice without restore');
    this.stored = new Map([...params].map(([k, p]) => [k, tf.keep(p.clone())]));
    this.copyTo(params);
  }

  restore(params: ReadonlyMap<string, tf.Variable>): void {
    if (!this.stored) throw new LdmError('INVALID_ARGUMENT', 'EMA.restore called without a prior store');
    this.checkNames(params, 'restore');
    for (const [name, t] of this.stored) params.get(name)!.assign(t);
    tf.dispose([...this.stored.values()]);
    this.stored = undefined;
  }

  getState(): EmaState {
    const tensors = new Map<string, TensorRecord>();
    for (const [name, s] of this.shadow) tensors.set(name, { shape: [...s.shape], data: Float32Array.from(s.dataSync()) });
    return { optimizationStep: this.step, tensors };
  }

  setState(state: EmaState): void {
    if (!(Number.isSafeInteger(state.optimizationStep) && state.optimizationStep >= 0)) {
      throw new LdmError('CORRUPT_FILE', `EMA state: optimizationStep must be an integer ≥ 0, got ${state.optimizationStep}`);
    }
    const missing = [...this.shadow.keys()].filter((k) => !state.tensors.has(k));
    const unexpected = [...state.tensors.keys()].filter((k) => !this.shadow.has(k));
    if (missing.length || unexpected.length) {
      throw new LdmError(
        'MISSING_KEYS',
        `EMA state does not match the parameters: missing ${missing.slice(0, 10).join(', ') || 'none'} | unexpected ${unexpected.slice(0, 10).join(', ') || 'none'}`,
      );
    }
    for (const [name, s] of this.shadow) {
      const r = state.tensors.get(name)!;
      if (!tf.util.arraysEqual(r.shape, s.shape) || r.data.length !== s.size) {
        throw new LdmError('SHAPE_MISMATCH', `EMA state '${name}' has shape [${r.shape}], parameter has [${s.shape}]`);
      }
    }
    for (const [name, s] of this.shadow) {
      const r = state.tensors.get(name)!;
      tf.tidy(() => s.assign(tf.tensor(r.data, r.shape, 'float32')));
    }
    this.step = state.optimizationStep;
  }

  dispose(): void {
    for (const s of this.shadow.values()) s.dispose();
    this.shadow.clear();
    if (this.stored) tf.dispose([...this.stored.values()]);
    this.stored = undefined;
  }

  private checkNames(params: ReadonlyMap<string, tf.Variable>, what: string): void {
    const missing = [...this.shadow.keys()].filter((k) => !params.has(k));
    if (missing.length || params.size !== this.shadow.size) {
      throw new LdmError(
        'MISSING_KEYS',
        `EMA.${what}: parameters differ from those the EMA was built on (missing: ${missing.slice(0, 10).join(', ') || 'none'}; ${params.size} given, ${this.shadow.size} expected)`,
      );
    }
  }
}
