import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { LdmError, activeBackend } from '@ldm/backend';
import { CPU_SLOT, ERROR_BYTES, MAX_SCALARS, STATUS, WALL_SLOT } from './protocol';
import type { FromWorker, ParamLayout, ReplicaTask, Shard, ShardArray, StepMessage, ToWorker } from './protocol';

export interface DataParallelOptions {
  /** Number of worker threads (≥ 1), each with its own wasm backend and model replica. */
  threads: number;
  /** How each worker builds its replica (module URL, export name, JSON config). */
  task: ReplicaTask;
  /** The main thread's parameters (all of them); workers start from these values. */
  parameters: ReadonlyMap<string, tf.Variable>;
  /** The trainable subset; gradients come back for these (default: every parameter). */
  trainable?: ReadonlyMap<string, tf.Variable>;
  /** The worker entry; default: worker.ts beside this file (source, run through tsx) or data-parallel-worker.js (dist). */
  workerUrl?: URL;
  /** A step that takes longer than this is reported as hung (default 1 h). */
  stepTimeoutMs?: number;
}

export interface DataParallelStep {
  /** Sum over workers of the gradient of (rows/batch) × shard mean loss = the gradient of the batch mean loss. The caller disposes them. */
  grads: Map<string, tf.Tensor>;
  /** Batch mean loss (and metrics), summed from the shards' weighted means. */
  loss: number;
  metrics: Record<string, number>;
  /** Milliseconds spent copying weights out and summing gradients in the main thread. */
  overheadMs: number;
  /** Per worker: wall and thread-CPU milliseconds of its part (CPU is NaN off Linux); CPU < wall means the thread waited for a core. */
  workers: Array<{ wallMs: number; cpuMs: number }>;
}

interface WorkerSlot {
  worker: Worker;
  control: Int32Array;
  grads: Float32Array;
  scalars: Float64Array;
  errorBuffer: SharedArrayBuffer;
  exited: boolean;
}

/** Contiguous row ranges [start, end) that split `batchSize` rows over `parts` workers, larger shards first. */
export function splitRows(batchSize: number, parts: number): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  let start = 0;
  for (let i = 0; i < parts; i++) {
    const rows = Math.floor(batchSize / parts) + (i < batchSize % parts ? 1 : 0);
    ranges.push([start, start + rows]);
    start += rows;
  }
  return ranges;
}

/** Rows [start, end) of a row-major array of shape [batch, ...rest] (a view, not a copy). */
export function sliceRows(array: ShardArray, start: number, end: number): ShardArray {
  const [batch = 1, ...rest] = array.shape;
  const per = array.data.length / batch;
  return { data: array.data.subarray(start * per, end * per), shape: [end - start, ...rest] };
}

function defaultWorkerUrl(): URL {
  const here = import.meta.url;
  if (here.endsWith('.ts')) return new URL('./worker.ts', here);
  // Built package: tsup puts this module in dist/index.js (ESM) or dist/index.cjs (CJS) and the worker
  // beside it in the same format, so the worker loads the same build of @ldm/backend as the replica module.
  const url = new URL(here.endsWith('.cjs') ? './data-parallel-worker.cjs' : './data-parallel-worker.js', here);
  if (!existsSync(fileURLToPath(url))) {
    throw new LdmError(
      'INVALID_CONFIG',
      `data-parallel training: worker script ${fileURLToPath(url)} is missing from this build of @ldm/nn; ` +
        'run from source (node --conditions=@ldm/source --import tsx) or use threads = 1',
    );
  }
  return url;
}

/** tsx's ESM API (`tsx/esm/api` under the import condition; require.resolve would give its CommonJS twin). */
function tsxEsmApi(): string {
  const manifest = createRequire(import.meta.url).resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { exports?: Record<string, { import?: { default?: string } | string }> };
  const entry = pkg.exports?.['./esm/api']?.import;
  const file = typeof entry === 'string' ? entry : entry?.default;
  if (!file) throw new LdmError('BACKEND_UNAVAILABLE', `data-parallel training from source needs tsx's ESM API; ${manifest} has no './esm/api' export`);
  return pathToFileURL(join(dirname(manifest), file)).href;
}

/**
 * Starts a worker on `url`. A TypeScript entry runs through tsx's loader, registered inside the worker
 * before the entry is imported (`execArgv: ['--import', 'tsx']` does not reach a worker's own entry on
 * Node 20), with the `@ldm/source` condition so sibling packages resolve to their sources.
 */
function spawn(url: URL): Worker {
  if (!url.pathname.endsWith('.ts')) return new Worker(url);
  const tsx = tsxEsmApi();
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(code, { eval: true, execArgv: ['--conditions=@ldm/source'] });
}

function layoutOf(params: ReadonlyMap<string, tf.Variable>): { layout: ParamLayout[]; total: number } {
  let offset = 0;
  const layout: ParamLayout[] = [];
  for (const [name, v] of params) {
    layout.push({ name, shape: [...v.shape], offset, size: v.size });
    offset += v.size;
  }
  return { layout, total: offset };
}

/**
 * Synchronous data-parallel gradients over worker threads. The main thread owns the weights and the
 * optimiser; each `computeGradients` copies the current (trainable) weights into one SharedArrayBuffer,
 * posts every worker its shard, blocks (Atomics.wait) until all have written their weighted gradients to
 * their own shared buffers, and returns the sum. So `step` callbacks stay synchronous, and the replicas hold
 * exactly the main thread's weights at every step.
 */
export class DataParallelEngine {
  readonly threads: number;
  private readonly slots: WorkerSlot[];
  private readonly weightLayout: ParamLayout[];
  private readonly gradLayout: ParamLayout[];
  private readonly weightView: Float32Array;
  private readonly params: ReadonlyMap<string, tf.Variable>;
  private readonly trainable: ReadonlyMap<string, tf.Variable>;
  private readonly stepTimeoutMs: number;
  private metricNames: string[] = [];
  private synced = false;
  private disposed = false;

  private constructor(options: DataParallelOptions, slots: WorkerSlot[], weights: ParamLayout[], grads: ParamLayout[], weightBuffer: SharedArrayBuffer) {
    this.threads = options.threads;
    this.slots = slots;
    this.weightLayout = weights;
    this.gradLayout = grads;
    this.weightView = new Float32Array(weightBuffer);
    this.params = options.parameters;
    this.trainable = options.trainable ?? options.parameters;
    this.stepTimeoutMs = options.stepTimeoutMs ?? 3_600_000;
  }

  /** Starts the workers and waits until every replica is built; terminates them all if one fails. */
  static async create(options: DataParallelOptions): Promise<DataParallelEngine> {
    const { threads } = options;
    if (!(Number.isInteger(threads) && threads >= 1)) {
      throw new LdmError('INVALID_ARGUMENT', `threads must be an integer ≥ 1, got ${threads}`);
    }
    const url = options.workerUrl ?? defaultWorkerUrl();
    const weights = layoutOf(options.parameters);
    const trainable = options.trainable ?? options.parameters;
    const grads = layoutOf(trainable);
    for (const name of trainable.keys()) {
      if (!options.parameters.has(name)) throw new LdmError('INVALID_ARGUMENT', `trainable parameter '${name}' is not among the parameters`);
    }
    const weightBuffer = new SharedArrayBuffer(weights.total * 4);
    const slots: WorkerSlot[] = [];
    const ready: Array<Promise<string[]>> = [];
    for (let i = 0; i < threads; i++) {
      const worker = spawn(url);
      const gradBuffer = new SharedArrayBuffer(grads.total * 4);
      const controlBuffer = new SharedArrayBuffer(4 * (1 + grads.layout.length));
      const scalarBuffer = new SharedArrayBuffer(8 * MAX_SCALARS);
      const errorBuffer = new SharedArrayBuffer(ERROR_BYTES);
      const slot: WorkerSlot = {
        worker,
        control: new Int32Array(controlBuffer),
        grads: new Float32Array(gradBuffer),
        scalars: new Float64Array(scalarBuffer),
        errorBuffer,
        exited: false,
      };
      slots.push(slot);
      ready.push(
        new Promise<string[]>((resolve, reject) => {
          worker.on('message', (m: FromWorker) => {
            if (m.type === 'ready') resolve(m.metricNames);
            else reject(new LdmError('BACKEND_UNAVAILABLE', `data-parallel worker ${i}: ${m.message}`));
          });
          worker.on('error', (e) => reject(new LdmError('BACKEND_UNAVAILABLE', `data-parallel worker ${i} failed: ${e.message}`, { cause: e })));
          worker.on('exit', (code) => {
            slot.exited = true;
            reject(new LdmError('BACKEND_UNAVAILABLE', `data-parallel worker ${i} exited (code ${code}) before it was ready`));
          });
        }),
      );
      const init: ToWorker = {
        type: 'init',
        task: options.task,
        weights: weights.layout,
        grads: grads.layout,
        weightBuffer,
        gradBuffer,
        controlBuffer,
        scalarBuffer,
        errorBuffer,
        backend: activeBackend()?.name === 'native' ? 'native' : 'wasm',
        precision: activeBackend()?.precision ?? 'f32',
      };
      worker.postMessage(init);
    }
    const engine = new DataParallelEngine(options, slots, weights.layout, grads.layout, weightBuffer);
    try {
      const names = await Promise.all(ready);
      engine.metricNames = names[0] ?? [];
    } catch (error) {
      await engine.dispose();
      throw error;
    }
    return engine;
  }

  private copyWeightsOut(all: boolean): void {
    for (const p of this.weightLayout) {
      if (!all && !this.trainable.has(p.name)) continue;
      this.weightView.set(this.params.get(p.name)!.dataSync() as Float32Array, p.offset);
    }
  }

  /**
   * One synchronous data-parallel gradient computation: shard i goes to worker i (at most `threads`
   * shards; `batchSize` is the sum of their rows). Throws (naming the worker) if a worker fails.
   */
  computeGradients(shards: Shard[], info: unknown = null): DataParallelStep {
    if (this.disposed) throw new LdmError('INVALID_ARGUMENT', 'DataParallelEngine: used after dispose()');
    if (shards.length === 0 || shards.length > this.threads) {
      throw new LdmError('INVALID_ARGUMENT', `DataParallelEngine: got ${shards.length} shards for ${this.threads} workers`);
    }
    const batch = shards.reduce((a, s) => a + s.rows, 0);
    const t0 = performance.now();
    this.copyWeightsOut(!this.synced);
    let overheadMs = performance.now() - t0;
    shards.forEach((shard, i) => {
      const slot = this.slots[i]!;
      Atomics.store(slot.control, 0, STATUS.busy);
      const message: StepMessage = { type: 'step', weight: shard.rows / batch, syncAll: !this.synced, inputs: shard.inputs, info };
      slot.worker.postMessage(message);
    });
    this.synced = true;
    const deadline = performance.now() + this.stepTimeoutMs;
    const failures: string[] = [];
    shards.forEach((_, i) => {
      const slot = this.slots[i]!;
      while (Atomics.load(slot.control, 0) === STATUS.busy) {
        const left = deadline - performance.now();
        if (left <= 0) {
          failures.push(`worker ${i}: no answer within ${this.stepTimeoutMs} ms`);
          return;
        }
        Atomics.wait(slot.control, 0, STATUS.busy, Math.min(left, 1000));
      }
      const status = Atomics.load(slot.control, 0);
      if (status === STATUS.failed) {
        const length = new DataView(slot.errorBuffer).getUint32(0, true);
        failures.push(`worker ${i}: ${new TextDecoder().decode(new Uint8Array(slot.errorBuffer).slice(4, 4 + length))}`);
      } else if (status === STATUS.exited) {
        failures.push(`worker ${i} exited during the step`);
      }
    });
    if (failures.length) {
      // A failed step leaves the replicas in an unknown state: resync everything next time.
      this.synced = false;
      throw new LdmError('BACKEND_UNAVAILABLE', `data-parallel step failed: ${failures.join('; ')}`);
    }
    const t1 = performance.now();
    const grads = new Map<string, tf.Tensor>();
    this.gradLayout.forEach((p, j) => {
      let sum: Float32Array | undefined;
      shards.forEach((_, i) => {
        const slot = this.slots[i]!;
        if (slot.control[1 + j] !== 1) return;
        const part = slot.grads.subarray(p.offset, p.offset + p.size);
        if (!sum) sum = Float32Array.from(part);
        else for (let k = 0; k < p.size; k++) sum[k]! += part[k]!;
      });
      if (sum) grads.set(p.name, tf.tensor(sum, p.shape, 'float32'));
    });
    let loss = 0;
    const metrics: Record<string, number> = Object.fromEntries(this.metricNames.map((n) => [n, 0]));
    shards.forEach((_, i) => {
      const s = this.slots[i]!.scalars;
      loss += s[0]!;
      this.metricNames.forEach((n, k) => (metrics[n]! += s[1 + k]!));
    });
    overheadMs += performance.now() - t1;
    const workers = shards.map((_, i) => ({ wallMs: this.slots[i]!.scalars[WALL_SLOT]!, cpuMs: this.slots[i]!.scalars[CPU_SLOT]! }));
    return { grads, loss, metrics, overheadMs, workers };
  }

  get metrics(): readonly string[] {
    return this.metricNames;
  }

  /** Terminates every worker (safe to call twice, and after a failure). */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await Promise.all(this.slots.map((s) => (s.exited ? Promise.resolve() : s.worker.terminate().then(() => undefined))));
  }
}
