import * as tf from '@tensorflow/tfjs-core';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { LdmError } from '@ldm/backend';
import { DataParallelEngine, sliceRows, splitRows } from '../data-parallel';
import type { GradientReplica, ReplicaTask, ShardArray, ShardInputs } from '../data-parallel';
import { EMA } from '../ema';
import type { EmaOptions } from '../ema';
import { learningRateAt } from '../lr-schedule';
import type { LearningRateSchedule } from '../lr-schedule';
import { Adam } from '../optim/adam';
import { readSafetensorsFile, writeSafetensorsFile } from '../safetensors-file';
import { CheckpointStore } from './checkpoint-store';
import { readResumePoint } from './resume-point';
import { runTrainingLoop } from './training-loop';
import type { TrainingLoopResult } from './training-loop';

/**
 * A function any thread can rebuild: `(await import(module))[export](config)`, with `config` plain JSON.
 * Data-parallel workers build their model and loss from recipes, so the package that trains needs no
 * run-time import of the package that defines the model.
 */
export type Recipe = ReplicaTask;

/** What the trainer needs of a model; `recipe()` (optional) tells a worker thread how to build a twin. */
export interface TrainableModel {
  parameters(): Map<string, tf.Variable>;
  trainableParameters(): Map<string, tf.Variable>;
  train(on?: boolean): unknown;
  recipe?(): Recipe;
}

/**
 * The loss of one step, the mean over the rows of `batch`. `batch` holds the step's data and every random
 * draw, row-major with the batch first, so a worker's shard is a row slice and the same code runs in-process
 * and in every worker. `info` is the step's plain-JSON extra (e.g. the KL weight β).
 */
export interface TrainingLoss<M> {
  /** Names of the scalars `compute` returns beside the loss (each a mean over the rows). */
  metricNames?: readonly string[];
  compute(model: M, batch: ShardInputs, info: unknown): { loss: tf.Scalar; metrics?: Record<string, tf.Scalar> };
  /** How a worker rebuilds this same loss (an export of the module that defines it); needed for threads > 1. */
  recipe?: Recipe;
}

/** Something whose position is saved in `state.json` and restored on resume (a data cursor, a random stream). */
export interface Resumable {
  state(): unknown;
  setState(state: unknown): void;
  /**
   * What `state()` may be, checked on resume so a hand-edited or truncated state.json is refused naming the
   * key (e.g. `resumableStateSchemas.generator`); without one the key need only be present.
   */
  stateSchema?: z.ZodType;
}

/** `resumable` with its state checked against `schema` on resume (e.g. a Generator with `resumableStateSchemas.generator`). */
export function withStateSchema(resumable: Pick<Resumable, 'state' | 'setState'>, schema: z.ZodType): Resumable {
  return { state: () => resumable.state(), setState: (state) => resumable.setState(state), stateSchema: schema };
}

const present = z.custom<unknown>((v) => v !== undefined, 'missing');

/** The schema of each key `state.json` holds beside the step: every resumable's, and each extra's by its type. */
function stateKeys(resumables: Record<string, Resumable>, extras: Record<string, unknown>): Record<string, z.ZodType> {
  const keys: Record<string, z.ZodType> = {};
  for (const [key, value] of Object.entries(extras))
    keys[key] = typeof value === 'number' ? z.number().refine(Number.isFinite, 'expected a finite number') : present;
  for (const [key, r] of Object.entries(resumables)) keys[key] = r.stateSchema ?? present;
  return keys;
}

export interface TrainOptions<M extends TrainableModel> {
  model: M;
  loss: TrainingLoss<M>;
  /** Main thread, once a step (1-based): the step's rows — data and random draws — for `loss.compute`. */
  nextBatch: (step: number) => ShardInputs;
  /** The step's plain-JSON extra passed to `loss.compute` (default null). */
  info?: (step: number) => unknown;
  /** Extra numbers to log for a step beside the loss's metrics (e.g. β). */
  stepMetrics?: (step: number) => Record<string, number>;
  /** Run folder: `checkpoints/`, `metrics.jsonl`; none: an in-memory run (no checkpoints, no resume). */
  runDir?: string;
  steps: number;
  /** Rows a step (for the images/s figure). */
  batchSize: number;
  /** Learning rate at step n is `learningRateAt(n − 1, learningRate)`. */
  learningRate: LearningRateSchedule;
  /** Gradient clipping to this global norm; off when undefined. */
  maxGradNorm?: number;
  /** Keep an EMA of the weights (saved in checkpoints as `ema.safetensors` and the model folder `ema/`); off when undefined. */
  ema?: EmaOptions;
  /** Everything whose position `state.json` records, by key (e.g. `data`, `noiseGenerator`); default none. */
  resumables?: Record<string, Resumable>;
  /** Extra plain-JSON fields written to `state.json` (e.g. the seed). */
  stateExtras?: Record<string, unknown>;
  /** Continue from the newest checkpoint in `runDir` (an error when there is none). */
  resume?: boolean;
  /** Steps between checkpoints (needed with a runDir). */
  checkpointEvery?: number;
  /** Writes the model's current weights as a model folder; loadModel reads one back into the model (needed with a runDir). */
  saveModel?: (dir: string) => Promise<void>;
  loadModel?: (dir: string) => Promise<void>;
  /** Called after each step with its loss. */
  onStep?: (step: number, loss: number) => void;
  /** Called every `sampleEvery` steps in eval mode, with the EMA weights swapped in when there is an EMA. */
  sampleEvery?: number;
  onSample?: (step: number) => Promise<void>;
  /** Worker threads computing the gradients (data parallel, default 1 = in-process). */
  threads?: number;
  /** How a worker builds the model (default: `model.recipe()`). */
  modelRecipe?: Recipe;
  label: string;
  silent?: boolean;
}

export interface TrainResult extends TrainingLoopResult {
  /** The EMA of the weights when `ema` was given; the caller disposes it. */
  ema?: EMA;
}

/**
 * The training skeleton every model here uses: Adam with a learning-rate schedule and clipping, an optional
 * EMA, atomic checkpoints that hold every random stream and the data cursor (so a resumed run ends with the
 * same weights as an uninterrupted one), progress, metrics, SIGINT/SIGTERM handling (runTrainingLoop), and
 * data-parallel workers. The caller says only what a step's batch is and what its loss is.
 */
export async function train<M extends TrainableModel>(options: TrainOptions<M>): Promise<TrainResult> {
  const { model, loss } = options;
  const params = model.trainableParameters();
  const allParams = model.parameters();
  const optimizer = new Adam(params, { learningRate: options.learningRate.base, ...(options.maxGradNorm ? { maxGradNorm: options.maxGradNorm } : {}) });
  const ema = options.ema ? new EMA(allParams, options.ema) : undefined;
  const info = options.info ?? (() => null);
  const resumables = options.resumables ?? {};
  const { runDir, saveModel } = options;
  if (runDir !== undefined && !(saveModel && options.loadModel))
    throw new LdmError('INVALID_ARGUMENT', `${options.label}: a run with a folder needs saveModel and loadModel`);

  let startStep = 0;
  if (options.resume) {
    if (runDir === undefined) throw new LdmError('INVALID_ARGUMENT', `${options.label}: resume needs a run folder`);
    const store = new CheckpointStore(join(runDir, 'checkpoints'));
    // The newest checkpoint that reads whole (state.json against its schema, every weights file); a corrupt
    // newest one is skipped with a warning for the previous one.
    const latest = await readResumePoint(store, stateKeys(resumables, options.stateExtras ?? {}));
    const { state } = latest;
    await options.loadModel!(join(latest.path, 'model'));
    const opt = await readSafetensorsFile(join(latest.path, 'optimizer.safetensors'));
    optimizer.setState({ step: Number(opt.metadata.step), tensors: opt.tensors });
    if (ema) {
      const file = await readSafetensorsFile(join(latest.path, 'ema.safetensors'));
      ema.setState({ optimizationStep: Number(file.metadata.optimization_step), tensors: file.tensors });
    }
    for (const [key, r] of Object.entries(resumables)) r.setState(state[key]);
    startStep = state.step;
  }

  // tf.variableGrads keys gradients by variable name; map them back to parameter names.
  const varList = [...params.values()];
  const paramNameOf = new Map<string, string>();
  for (const [name, v] of params) paramNameOf.set(v.name, name);
  const metricNames = loss.metricNames ?? [];
  const extras = (n: number) => Object.fromEntries(Object.entries(options.stepMetrics?.(n) ?? {}).map(([k, v]) => [k, tf.scalar(v)]));

  const step = (n: number) => {
    const batch = options.nextBatch(n);
    const stepInfo = info(n);
    const lr = learningRateAt(n - 1, options.learningRate);
    if (engine) {
      const rows = batch[Object.keys(batch)[0]!]!.shape[0]!;
      const shards = splitRows(rows, engine.threads)
        .filter(([a, b]) => b > a)
        .map(([a, b]) => ({
          rows: b - a,
          inputs: Object.fromEntries(Object.entries(batch).map(([k, v]) => [k, sliceRows(v, a, b)])) as Record<string, ShardArray>,
        }));
      const result = engine.computeGradients(shards, stepInfo);
      const out = tf.tidy(() => {
        const gradNorm = optimizer.applyGradients(result.grads, lr);
        ema?.update(allParams);
        return { gradNorm, lr: tf.scalar(lr) };
      });
      tf.dispose([...result.grads.values()]);
      const metrics = Object.fromEntries(metricNames.map((k) => [k, tf.scalar(result.metrics[k]!)]));
      return { loss: tf.scalar(result.loss), metrics: { ...metrics, ...out, ...extras(n) } };
    }
    return tf.tidy(() => {
      let metrics: Record<string, tf.Scalar> = {};
      const { value, grads } = tf.variableGrads(() => {
        const r = loss.compute(model, batch, stepInfo);
        metrics = Object.fromEntries(metricNames.map((k) => [k, tf.keep(r.metrics![k]!)]));
        return r.loss;
      }, varList);
      const named = new Map<string, tf.Tensor>();
      for (const [varName, g] of Object.entries(grads)) named.set(paramNameOf.get(varName)!, g);
      const gradNorm = optimizer.applyGradients(named, lr);
      ema?.update(allParams);
      return { loss: value, metrics: { ...metrics, gradNorm, lr: tf.scalar(lr), ...extras(n) } };
    });
  };

  const saveCheckpoint = async (dir: string, n: number) => {
    await saveModel!(join(dir, 'model'));
    const opt = optimizer.getState();
    await writeSafetensorsFile(join(dir, 'optimizer.safetensors'), opt.tensors, { step: String(opt.step) });
    if (ema) {
      const emaState = ema.getState();
      await writeSafetensorsFile(join(dir, 'ema.safetensors'), emaState.tensors, { optimization_step: String(emaState.optimizationStep) });
      await withEma(ema, allParams, () => saveModel!(join(dir, 'ema')));
    }
    const state = { step: n, ...Object.fromEntries(Object.entries(resumables).map(([k, r]) => [k, r.state()])), ...options.stateExtras };
    // state.json last: a checkpoint folder is complete when it has one (the store renames it into place after).
    await writeFile(join(dir, 'state.json'), `${JSON.stringify(state, null, 2)}\n`);
  };

  if (runDir !== undefined) await mkdir(runDir, { recursive: true });
  // Started last, so nothing between here and the `finally` that terminates them can throw.
  const threads = options.threads ?? 1;
  if (!(Number.isInteger(threads) && threads >= 1)) throw new LdmError('INVALID_ARGUMENT', `${options.label}: threads must be an integer ≥ 1, got ${threads}`);
  const engine = threads > 1 ? await startWorkers(options, threads) : undefined;
  model.train(true);
  let result: TrainingLoopResult;
  try {
    result = await runTrainingLoop({
      ...(runDir !== undefined ? { runDir, checkpointEvery: options.checkpointEvery!, saveCheckpoint } : {}),
      label: options.label,
      totalSteps: options.steps,
      startStep,
      batchSize: options.batchSize,
      ...(options.onStep ? { onStep: options.onStep } : {}),
      ...(options.sampleEvery ? { sampleEvery: options.sampleEvery } : {}),
      ...(options.onSample
        ? {
            onSample: async (n: number) => {
              model.train(false);
              await (ema ? withEma(ema, allParams, () => options.onSample!(n)) : options.onSample!(n));
              model.train(true);
            },
          }
        : {}),
      step,
      silent: options.silent ?? false,
    });
  } finally {
    await engine?.dispose();
    model.train(false);
  }
  optimizer.dispose();
  return { ...result, ...(ema ? { ema } : {}) };
}

/** What a worker needs to build its replica: the model's recipe and the loss's (plain JSON). */
export interface TrainingReplicaConfig {
  model: Recipe;
  loss: Recipe;
}

async function startWorkers<M extends TrainableModel>(options: TrainOptions<M>, threads: number): Promise<DataParallelEngine> {
  const model = options.modelRecipe ?? options.model.recipe?.();
  if (!model)
    throw new LdmError('INVALID_ARGUMENT', `${options.label}: threads > 1 needs a model a worker can rebuild (a recipe() method or the modelRecipe option)`);
  const loss = options.loss.recipe;
  if (!loss) throw new LdmError('INVALID_ARGUMENT', `${options.label}: threads > 1 needs a loss with a recipe (how a worker rebuilds it)`);
  const config: TrainingReplicaConfig = { model: JSON.parse(JSON.stringify(model)) as Recipe, loss };
  return DataParallelEngine.create({
    threads,
    task: { module: import.meta.url, export: 'createTrainingReplica', config },
    parameters: options.model.parameters(),
    trainable: options.model.trainableParameters(),
  });
}

/** Calls `recipe.export` of `recipe.module` with its config; a dotted name (`UNet2DModel.fromConfig`) reaches a static method. */
async function build<T>(recipe: Recipe): Promise<T> {
  let owner: unknown;
  let value: unknown = await import(recipe.module);
  for (const key of recipe.export.split('.')) {
    owner = value;
    value = (value as Record<string, unknown> | undefined)?.[key];
  }
  if (typeof value !== 'function') throw new LdmError('INVALID_ARGUMENT', `${recipe.module} has no function export '${recipe.export}'`);
  return (await (value as (config: unknown) => T | Promise<T>).call(owner, recipe.config)) as T;
}

/** The replica a data-parallel worker builds (see DataParallelEngine): the model and the loss, each from its recipe. */
export async function createTrainingReplica(input: unknown): Promise<GradientReplica> {
  const config = input as TrainingReplicaConfig;
  const model = await build<TrainableModel & { dispose?(): void }>(config.model);
  const loss = await build<TrainingLoss<TrainableModel>>(config.loss);
  model.train(true);
  return {
    parameters: model.parameters(),
    trainable: model.trainableParameters(),
    metricNames: [...(loss.metricNames ?? [])],
    loss: (batch, info) => loss.compute(model, batch, info),
    dispose: () => model.dispose?.(),
  };
}

/** Runs `fn` with the EMA weights in the model, then puts the trained weights back. */
export async function withEma<T>(ema: EMA, params: ReadonlyMap<string, tf.Variable>, fn: () => Promise<T>): Promise<T> {
  ema.store(params);
  ema.copyTo(params);
  try {
    return await fn();
  } finally {
    ema.restore(params);
  }
}

// toTensor is its own module (shard-tensor.ts): losses use it in the browser build too.
export { toTensor } from '../shard-tensor';
