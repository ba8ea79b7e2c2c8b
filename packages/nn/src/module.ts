import * as tf from '@tensorflow/tfjs-core';
import { LdmError } from '@ldm/backend';

/**
 * A node of the parameter tree, as in PyTorch: a module owns named parameters and named child
 * modules, and `parameters()` flattens them to dotted names (`down_blocks.0.resnets.1.conv1.weight`).
 * Parameters are stored in tfjs layout (NHWC activations, HWIO conv kernels, [in, out] dense kernels);
 * converting to and from PyTorch layout happens at the file boundary, not here.
 */
export abstract class Module {
  private readonly ownParams = new Map<string, tf.Variable>();
  private readonly ownChildren = new Map<string, Module>();
  /** Training mode switches dropout on. */
  training = true;

  /** Registers a parameter named `name`, taking ownership of `initial` (it is disposed). */
  protected addParameter(name: string, initial: tf.Tensor, trainable = true): tf.Variable {
    if (this.ownParams.has(name) || this.ownChildren.has(name)) {
      throw new LdmError('INVALID_ARGUMENT', `parameter '${name}' is registered twice`);
    }
    const v = tf.variable(initial, trainable);
    initial.dispose();
    this.ownParams.set(name, v);
    return v;
  }

  /** Registers a child module under `name` and returns it. */
  protected addModule<M extends Module>(name: string, module: M): M {
    if (this.ownParams.has(name) || this.ownChildren.has(name)) {
      throw new LdmError('INVALID_ARGUMENT', `module '${name}' is registered twice`);
    }
    this.ownChildren.set(name, module);
    return module;
  }

  /** Every parameter of this module and its descendants, by dotted name, in registration order. */
  parameters(prefix = ''): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    for (const [name, v] of this.ownParams) out.set(prefix + name, v);
    for (const [name, child] of this.ownChildren) {
      for (const [n, v] of child.parameters(`${prefix}${name}.`)) out.set(n, v);
    }
    return out;
  }

  /** Only the trainable parameters. */
  trainableParameters(): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    for (const [n, v] of this.parameters()) if (v.trainable) out.set(n, v);
    return out;
  }

  /** Direct children, by name. */
  children(): ReadonlyMap<string, Module> {
    return this.ownChildren;
  }

  /** Total number of scalar parameters. */
  numParameters(): number {
    let n = 0;
    for (const v of this.parameters().values()) n += v.size;
    return n;
  }

  /** Sets training mode on this module and every descendant. */
  train(on = true): this {
    this.training = on;
    for (const child of this.ownChildren.values()) child.train(on);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /**
   * Copies values into the parameters (tfjs layout). Every parameter must be given with its exact
   * shape, and no unknown name may appear; otherwise the error lists the missing, unexpected and
   * wrongly shaped keys together.
   */
  loadStateDict(state: ReadonlyMap<string, tf.Tensor>): void {
    const params = this.parameters();
    const missing = [...params.keys()].filter((k) => !state.has(k));
    const unexpected = [...state.keys()].filter((k) => !params.has(k));
    const wrongShape: string[] = [];
    for (const [k, v] of params) {
      const t = state.get(k);
      if (t && !tf.util.arraysEqual(t.shape, v.shape)) wrongShape.push(`${k}: expected [${v.shape}], got [${t.shape}]`);
    }
    if (missing.length || unexpected.length || wrongShape.length) {
      const parts: string[] = [];
      if (missing.length) parts.push(`missing keys: ${missing.join(', ')}`);
      if (unexpected.length) parts.push(`unexpected keys: ${unexpected.join(', ')}`);
      if (wrongShape.length) parts.push(`wrong shapes: ${wrongShape.join('; ')}`);
      throw new LdmError('MISSING_KEYS', `state dict does not match the model: ${parts.join(' | ')}`);
    }
    for (const [k, v] of params) v.assign(state.get(k)!);
  }

  /** Frees every parameter. */
  dispose(): void {
    for (const v of this.ownParams.values()) v.dispose();
    for (const child of this.ownChildren.values()) child.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** An ordered list of modules, named '0', '1', … as PyTorch's ModuleList. */
export class ModuleList<M extends Module = Module> extends Module {
  readonly items: M[] = [];

  constructor(items: M[] = []) {
    super();
    for (const m of items) this.push(m);
  }

  push(m: M): M {
    this.addModule(String(this.items.length), m);
    this.items.push(m);
    return m;
  }

  get length(): number {
    return this.items.length;
  }

  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
}
