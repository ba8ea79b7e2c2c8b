import type * as tf from '@tensorflow/tfjs-core';

/**
 * How a worker builds its replica: it imports `module` (a file URL) and calls its export `export`
 * with `config` (plain JSON). The export is a {@link ReplicaFactory}.
 */
export interface ReplicaTask {
  module: string;
  export: string;
  config: unknown;
}

/** Typed arrays a shard carries to a worker (row-sliced from the global batch by the caller). */
export interface ShardArray {
  data: Float32Array | Int32Array;
  shape: number[];
}
export type ShardInputs = Record<string, ShardArray>;

/** One worker's share of a step. `rows` of the global batch `batchSize`; `info` is plain JSON (e.g. β). */
export interface Shard {
  rows: number;
  inputs: ShardInputs;
}

/** A model replica inside a worker: its parameters (same names as the main thread's) and its loss. */
export interface GradientReplica {
  /** Every parameter (trainable or not), keyed as in the main thread. */
  parameters: Map<string, tf.Variable>;
  /** The trainable subset (gradients are taken with respect to these). */
  trainable: Map<string, tf.Variable>;
  /** Names of the extra scalars `loss` returns; each is a mean over the shard. */
  metricNames?: string[];
  /** Mean loss over the shard (and per-shard means of the metrics), called inside tf.variableGrads. */
  loss(inputs: ShardInputs, info: unknown): { loss: tf.Scalar; metrics?: Record<string, tf.Scalar> };
  dispose?(): void;
}

export type ReplicaFactory = (config: unknown) => GradientReplica | Promise<GradientReplica>;

/** Parameter layout in the shared buffers: offsets in floats. */
export interface ParamLayout {
  name: string;
  shape: number[];
  offset: number;
  size: number;
}

export interface InitMessage {
  type: 'init';
  task: ReplicaTask;
  /** All parameters (weights buffer) and the trainable ones (gradient buffer), in order. */
  weights: ParamLayout[];
  grads: ParamLayout[];
  weightBuffer: SharedArrayBuffer;
  gradBuffer: SharedArrayBuffer;
  /** Int32: [status, hasGrad flags...]; Float64 scalars: [loss, metrics...]; Uint8 error text. */
  controlBuffer: SharedArrayBuffer;
  scalarBuffer: SharedArrayBuffer;
  errorBuffer: SharedArrayBuffer;
  /** The main thread's backend: a worker on 'native' runs oneDNN with one thread (the workers are the parallelism). */
  backend: 'native' | 'wasm';
  /** The main thread's convolution precision (bf16 only with 'native'). */
  precision: 'f32' | 'bf16';
}

export interface StepMessage {
  type: 'step';
  /** Weight of this shard's mean loss: rows / global batch. */
  weight: number;
  /** Copy all parameters (true) or the trainable ones only (false) from the weight buffer first. */
  syncAll: boolean;
  inputs: ShardInputs;
  info: unknown;
}

export type ToWorker = InitMessage | StepMessage | { type: 'close' };
export type FromWorker = { type: 'ready'; metricNames: string[] } | { type: 'error'; message: string; stack?: string };

/** control[0] values. */
export const STATUS = { busy: 0, done: 1, failed: 2, exited: 3 } as const;
export const ERROR_BYTES = 8192;
/** Float64 slots for the loss and the metrics; the last two hold the step's wall and thread-CPU milliseconds. */
export const MAX_SCALARS = 64;
export const WALL_SLOT = MAX_SCALARS - 2;
export const CPU_SLOT = MAX_SCALARS - 1;
