import * as tf from '@tensorflow/tfjs-core';
import { LdmError, adamStepsFused, fusedOptimizerOpsAvailable } from '@ldm/backend';
import type { TensorRecord } from '../safetensors';
import { clipCoefficient, globalNorm } from './clip-grad-norm';

export interface AdamOptions {
  learningRate: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** Adam: an L2 term `wd·p` added to the gradient. AdamW: decoupled, `p ← p·(1 − lr·wd)`. */
  weightDecay?: number;
  /** Clip all gradients together by their global L2 norm, as torch.nn.utils.clip_grad_norm_. */
  maxGradNorm?: number;
}

type ResolvedAdamOptions = Required<Omit<AdamOptions, 'maxGradNorm'>> & { maxGradNorm: number | undefined };

/** PyTorch's defaults; AdamW differs only in its default weight decay (0.01). */
export const ADAM_DEFAULTS = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 } as const;
export const ADAMW_DEFAULT_WEIGHT_DECAY = 0.01;

export interface AdamState {
  /** Number of updates taken; bias correction depends on it, so it must be restored with the moments. */
  step: number;
  /** `m.<param>` (first moment) and `v.<param>` (second moment) for every parameter. */
  tensors: Map<string, TensorRecord>;
}

function resolve(options: AdamOptions, defaultWeightDecay: number): ResolvedAdamOptions {
  const o = {
    learningRate: options.learningRate,
    beta1: options.beta1 ?? ADAM_DEFAULTS.beta1,
    beta2: options.beta2 ?? ADAM_DEFAULTS.beta2,
    epsilon: options.epsilon ?? ADAM_DEFAULTS.epsilon,
    weightDecay: options.weightDecay ?? defaultWeightDecay,
    maxGradNorm: options.maxGradNorm,
  };
  const bad = (name: string, expected: string, got: unknown) =>
    new LdmError('INVALID_CONFIG', `optimizer option '${name}' must be ${expected}, got ${String(got)}`);
  if (!(Number.isFinite(o.learningRate) && o.learningRate >= 0)) throw bad('learningRate', 'a finite number ≥ 0', o.learningRate);
  if (!(o.beta1 >= 0 && o.beta1 < 1)) throw bad('beta1', 'in [0, 1)', o.beta1);
  if (!(o.beta2 >= 0 && o.beta2 < 1)) throw bad('beta2', 'in [0, 1)', o.beta2);
  if (!(o.epsilon > 0 && Number.isFinite(o.epsilon))) throw bad('epsilon', 'a finite number > 0', o.epsilon);
  if (!(o.weightDecay >= 0 && Number.isFinite(o.weightDecay))) throw bad('weightDecay', 'a finite number ≥ 0', o.weightDecay);
  if (o.maxGradNorm !== undefined && !(o.maxGradNorm > 0)) throw bad('maxGradNorm', 'a number > 0', o.maxGradNorm);
  return o;
}

/**
 * Adam as PyTorch's `torch.optim.Adam` (and, through the subclass, `AdamW`), over a named parameter map.
 * Bias corrections are computed on the host in float64 and folded into two scalars, exactly as
 * PyTorch's single-tensor path: p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε).
 * One step counter for all parameters: a parameter without a gradient in a step is skipped
 * (as PyTorch skips `grad is None`) but the counter still advances.
 */
export class Adam {
  readonly options: ResolvedAdamOptions;
  private readonly params: Map<string, tf.Variable>;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  private readonly decoupled: boolean;
  private stepCount = 0;

  constructor(params: ReadonlyMap<string, tf.Variable>, options: AdamOptions) {
    this.options = resolve(options, this.defaultWeightDecay());
    this.decoupled = this.isDecoupled();
    this.params = new Map(params);
    for (const [name, p] of this.params) {
      this.m.set(
        name,
        tf.tidy(() => tf.variable(tf.zerosLike(p), false)),
      );
      this.v.set(
        name,
        tf.tidy(() => tf.variable(tf.zerosLike(p), false)),
      );
    }
  }

  protected defaultWeightDecay(): number {
    return ADAM_DEFAULTS.weightDecay;
  }

  protected isDecoupled(): boolean {
    return false;
  }

  get step(): number {
    return this.stepCount;
  }

  get learningRate(): number {
    return this.options.learningRate;
  }

  /**
   * Applies one update. Returns the global gradient norm before clipping as a scalar tensor, so the
   * caller decides when to sync it to the host; the caller disposes it.
   */
  applyGradients(grads: ReadonlyMap<string, tf.Tensor>, learningRate = this.options.learningRate): tf.Scalar {
    for (const [name, g] of grads) {
      const p = this.params.get(name);
      if (!p) throw new LdmError('INVALID_ARGUMENT', `gradient for '${name}', which is not a parameter of this optimizer`);
      if (!tf.util.arraysEqual(p.shape, g.shape)) {
        throw new LdmError('SHAPE_MISMATCH', `gradient for '${name}' has shape [${g.shape}], parameter has [${p.shape}]`);
      }
    }
    if (!(Number.isFinite(learningRate) && learningRate >= 0)) {
      throw new LdmError('INVALID_ARGUMENT', `learning rate must be a finite number ≥ 0, got ${learningRate}`);
    }
    const { beta1, beta2, epsilon, weightDecay, maxGradNorm } = this.options;
    this.stepCount += 1;
    const t = this.stepCount;
    const stepSize = learningRate / (1 - beta1 ** t);
    const biasCorrection2Sqrt = Math.sqrt(1 - beta2 ** t);

    return tf.tidy(() => {
      const norm = globalNorm(grads.values());
      const scale = maxGradNorm === undefined ? undefined : clipCoefficient(norm, maxGradNorm);
      if (fusedOptimizerOpsAvailable()) {
        // One kernel for every parameter's update below (native, or our wasm module); the same float32 math.
        const names = [...grads.keys()];
        const next = adamStepsFused(
          names.map((name) => ({ p: this.params.get(name)!, g: grads.get(name)!, m: this.m.get(name)!, v: this.v.get(name)! })),
          scale,
          {
            beta1,
            beta2,
            epsilon,
            coupledWeightDecay: this.decoupled ? 0 : weightDecay,
            decoupledDecay: this.decoupled && weightDecay !== 0 ? 1 - learningRate * weightDecay : 1,
            stepSize,
            biasCorrection2Sqrt,
          },
        );
        names.forEach((name, i) => {
          const [pNext, mNext, vNext] = next[i]!;
          this.m.get(name)!.assign(mNext);
          this.v.get(name)!.assign(vNext);
          this.params.get(name)!.assign(pNext);
        });
        return norm;
      }
      for (const [name, rawGrad] of grads) {
        const p = this.params.get(name)!;
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        let g: tf.Tensor = scale ? tf.mul(rawGrad, scale) : rawGrad;
        let param: tf.Tensor = p;
        if (weightDecay !== 0) {
          if (this.decoupled) param = tf.mul(p, 1 - learningRate * weightDecay);
          else g = tf.add(g, tf.mul(p, weightDecay));
        }
        const mNext = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
        const vNext = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
        const denom = tf.add(tf.div(tf.sqrt(vNext), biasCorrection2Sqrt), epsilon);
        m.assign(mNext);
        v.assign(vNext);
        p.assign(tf.sub(param, tf.mul(tf.div(mNext, denom), stepSize)));
      }
      return norm;
    });
  }

  /** Moments and step for a checkpoint (copies, safe to keep) (`m.<param>`, `v.<param>`); save the step beside them (e.g. in metadata). */
  getState(): AdamState {
    const tensors = new Map<string, TensorRecord>();
    for (const [name, m] of this.m) tensors.set(`m.${name}`, { shape: [...m.shape], data: Float32Array.from(m.dataSync()) });
    for (const [name, v] of this.v) tensors.set(`v.${name}`, { shape: [...v.shape], data: Float32Array.from(v.dataSync()) });
    return { step: this.stepCount, tensors };
  }

  /** Restores what `getState` returned: every moment must be present with the parameter's shape, and nothing else. */
  setState(state: AdamState): void {
    if (!(Number.isSafeInteger(state.step) && state.step >= 0)) {
      throw new LdmError('CORRUPT_FILE', `optimizer state: step must be an integer ≥ 0, got ${state.step}`);
    }
    const expected = new Set<string>();
    for (const name of this.params.keys()) expected.add(`m.${name}`).add(`v.${name}`);
    const missing = [...expected].filter((k) => !state.tensors.has(k));
    const unexpected = [...state.tensors.keys()].filter((k) => !expected.has(k));
    if (missing.length || unexpected.length) {
      const parts = [];
      if (missing.length) parts.push(`missing: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ` (+${missing.length - 10} more)` : ''}`);
      if (unexpected.length)
        parts.push(`unexpected: ${unexpected.slice(0, 10).join(', ')}${unexpected.length > 10 ? ` (+${unexpected.length - 10} more)` : ''}`);
      throw new LdmError('MISSING_KEYS', `optimizer state does not match the parameters: ${parts.join(' | ')}`);
    }
    for (const [key, record] of state.tensors) {
      const name = key.slice(2);
      const p = this.params.get(name)!;
      if (!tf.util.arraysEqual(record.shape, p.shape) || record.data.length !== p.size) {
        throw new LdmError('SHAPE_MISMATCH', `optimizer state '${key}' has shape [${record.shape}], parameter '${name}' has [${p.shape}]`);
      }
    }
    for (const [key, record] of state.tensors) {
      const target = (key.startsWith('m.') ? this.m : this.v).get(key.slice(2))!;
      tf.tidy(() => target.assign(tf.tensor(record.data, record.shape, 'float32')));
    }
    this.stepCount = state.step;
  }

  /** Frees the moment buffers (not the parameters, which the model owns). */
  dispose(): void {
    for (const t of this.m.values()) t.dispose();
    for (const t of this.v.values()) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}

/** AdamW (Loshchilov & Hutter): weight decay applied to the weights, not through the gradient; default 0.01 as PyTorch. */
export class AdamW extends Adam {
  protected override defaultWeightDecay(): number {
    return ADAMW_DEFAULT_WEIGHT_DECAY;
  }

  protected override isDecoupled(): boolean {
    return true;
  }
}
