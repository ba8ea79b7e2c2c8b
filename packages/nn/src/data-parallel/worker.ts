/**
 * Worker entry of the data-parallel engine: builds a model replica from a plain-JSON task, then for each
 * step copies the weights from the shared buffer, computes the gradients of (rows / batch) × the shard's
 * mean loss and writes them to its own shared gradient buffer. Runs on its own tfjs wasm backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { parentPort } from 'node:worker_threads';
import { initBackend } from '@ldm/backend';
import { readFileSync } from 'node:fs';
import { CPU_SLOT, ERROR_BYTES, MAX_SCALARS, STATUS, WALL_SLOT } from './protocol';
import type { FromWorker, GradientReplica, InitMessage, ReplicaFactory, StepMessage, ToWorker } from './protocol';

if (!parentPort) throw new Error('data-parallel worker: not started as a worker thread');
const port = parentPort;

let init: InitMessage | undefined;
let replica: GradientReplica | undefined;
let control: Int32Array | undefined;
let metricNames: string[] = [];
const varNames = new Map<string, string>();

function post(message: FromWorker): void {
  port.postMessage(message);
}

function finish(status: number): void {
  Atomics.store(control!, 0, status);
  Atomics.notify(control!, 0);
}

function fail(error: unknown): void {
  const text = error instanceof Error ? `${error.message}\n${error.stack ?? ''}` : String(error);
  const bytes = new TextEncoder().encode(text).subarray(0, ERROR_BYTES - 4);
  const view = new Uint8Array(init!.errorBuffer);
  new DataView(init!.errorBuffer).setUint32(0, bytes.length, true);
  view.set(bytes, 4);
  finish(STATUS.failed);
}

// A worker that dies while the main thread waits must still wake it.
process.on('exit', () => {
  if (control && Atomics.load(control, 0) === STATUS.busy) finish(STATUS.exited);
});

async function start(message: InitMessage): Promise<void> {
  init = message;
  control = new Int32Array(message.controlBuffer);
  await initBackend({ backend: message.backend ?? 'wasm', threads: 1, precision: message.precision ?? 'f32' });
  const mod = (await import(message.task.module)) as Record<string, unknown>;
  const factory = mod[message.task.export];
  if (typeof factory !== 'function') throw new Error(`${message.task.module} has no function export '${message.task.export}'`);
  replica = await (factory as ReplicaFactory)(message.task.config);
  metricNames = replica.metricNames ?? [];
  if (metricNames.length + 1 > MAX_SCALARS) throw new Error(`too many metrics (${metricNames.length})`);
  for (const p of message.weights) {
    const v = replica.parameters.get(p.name);
    if (!v) throw new Error(`replica has no parameter '${p.name}'`);
    if (!tf.util.arraysEqual(v.shape, p.shape)) throw new Error(`replica parameter '${p.name}' has shape [${v.shape}], main thread has [${p.shape}]`);
  }
  if (replica.parameters.size !== message.weights.length) {
    throw new Error(`replica has ${replica.parameters.size} parameters, the main thread ${message.weights.length}`);
  }
  for (const p of message.grads) {
    const v = replica.trainable.get(p.name);
    if (!v) throw new Error(`replica has no trainable parameter '${p.name}'`);
    varNames.set(v.name, p.name);
  }
}

/** CPU milliseconds this thread has used (Linux /proc/thread-self; NaN elsewhere). */
function threadCpuMs(): number {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, USER_HZ = 100
  } catch {
    return NaN;
  }
}

function copyWeights(all: boolean): void {
  const { weights, grads, weightBuffer } = init!;
  const trainable = new Set(grads.map((g) => g.name));
  const flat = new Float32Array(weightBuffer);
  for (const p of weights) {
    if (!all && !trainable.has(p.name)) continue;
    const v = replica!.parameters.get(p.name)!;
    tf.tidy(() => v.assign(tf.tensor(flat.slice(p.offset, p.offset + p.size), p.shape, 'float32')));
  }
}

function step(message: StepMessage): void {
  const wall0 = performance.now();
  const cpu0 = threadCpuMs();
  copyWeights(message.syncAll);
  const { grads: layout, gradBuffer, scalarBuffer } = init!;
  const flags = control!;
  const out = new Float32Array(gradBuffer);
  const scalars = new Float64Array(scalarBuffer);
  const varList = layout.map((p) => replica!.trainable.get(p.name)!);
  tf.tidy(() => {
    let metrics: Record<string, tf.Scalar> = {};
    const { value, grads } = tf.variableGrads(() => {
      const r = replica!.loss(message.inputs, message.info);
      metrics = {};
      for (const name of metricNames) {
        const m = r.metrics?.[name];
        if (!m) throw new Error(`replica loss did not return metric '${name}'`);
        metrics[name] = tf.keep(tf.mul(m, message.weight)) as tf.Scalar;
      }
      return tf.mul(r.loss, message.weight) as tf.Scalar;
    }, varList);
    flags.fill(0, 1, 1 + layout.length);
    const index = new Map(layout.map((p, i) => [p.name, i]));
    for (const [varName, g] of Object.entries(grads)) {
      const name = varNames.get(varName)!;
      const i = index.get(name)!;
      out.set(g.dataSync() as Float32Array, layout[i]!.offset);
      flags[1 + i] = 1;
    }
    scalars[0] = value.dataSync()[0]!;
    metricNames.forEach((name, i) => (scalars[1 + i] = metrics[name]!.dataSync()[0]!));
    tf.dispose(Object.values(metrics));
  });
  scalars[WALL_SLOT] = performance.now() - wall0;
  scalars[CPU_SLOT] = threadCpuMs() - cpu0;
}

port.on('message', (message: ToWorker) => {
  if (message.type === 'init') {
    start(message).then(
      () => post({ type: 'ready', metricNames }),
      (error: unknown) =>
        post({
          type: 'error',
          message: error instanceof Error ? error.message : String(error),
          ...(error instanceof Error && error.stack ? { stack: error.stack } : {}),
        }),
    );
  } else if (message.type === 'step') {
    try {
      step(message);
      finish(STATUS.done);
    } catch (error) {
      fail(error);
    }
  } else {
    replica?.dispose?.();
    port.close();
  }
});
