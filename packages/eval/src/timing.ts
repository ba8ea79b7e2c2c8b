import * as tf from '@tensorflow/tfjs-core';
import { LdmError } from '@ldm/backend';

export interface TimeItOptions {
  /** Timed runs (default 5). */
  repeats?: number;
  /** Untimed runs first, so kernel compilation and allocation do not count (default 1). */
  warmup?: number;
}

export interface Timing {
  /** Median wall time of the timed runs, in ms: robust to one run hit by GC or a noisy neighbour. */
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** Every timed run, in order. */
  timesMs: number[];
}

function median(sorted: number[]): number {
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : 0.5 * (sorted[mid - 1]! + sorted[mid]!);
}

/**
 * Wall time of `fn`. The function must finish its work before it returns (read results back with
 * `dataSync()`/`await data()`), because tfjs backends may run kernels asynchronously.
 */
export async function timeIt(fn: () => unknown, options: TimeItOptions = {}): Promise<Timing> {
  const repeats = options.repeats ?? 5;
  const warmup = options.warmup ?? 1;
  if (!Number.isInteger(repeats) || repeats < 1) throw new LdmError('INVALID_ARGUMENT', `timeIt: repeats must be ≥ 1, got ${repeats}`);
  if (!Number.isInteger(warmup) || warmup < 0) throw new LdmError('INVALID_ARGUMENT', `timeIt: warmup must be ≥ 0, got ${warmup}`);
  for (let i = 0; i < warmup; i++) await fn();
  const timesMs: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    await fn();
    timesMs.push(performance.now() - start);
  }
  const sorted = [...timesMs].sort((x, y) => x - y);
  return { medianMs: median(sorted), minMs: sorted[0]!, maxMs: sorted[sorted.length - 1]!, timesMs };
}

export interface MemoryProbe<T> {
  result: T;
  /** Highest tf.memory().numBytes seen during the call, minus the value before it: tensor memory the call needed. */
  peakTensorBytes: number;
  /** Tensor bytes still allocated after the call compared with before (non-zero means a leak or a returned tensor). */
  retainedTensorBytes: number;
  /** Resident set size before and after, in bytes (whole process: includes the wasm heap, which only grows). */
  rssBefore: number;
  rssAfter: number;
  /** The process' lifetime maximum RSS in bytes, as the OS reports it. */
  maxRssBytes: number;
}

interface EngineState {
  numBytes: number;
}

const listeners = new Set<(bytes: number) => void>();

/**
 * tfjs keeps its byte count in a plain field that every allocation and disposal updates. Replacing it
 * with an accessor observes every change exactly, with no kernel profiling (tf.profile times each
 * kernel, which would distort the timings, and its Math.max over all kernels overflows on long loops).
 */
function watchEngineBytes(listener: (bytes: number) => void): () => void {
  const state = tf.engine().state as unknown as EngineState;
  if (listeners.size === 0) {
    let current = state.numBytes;
    Object.defineProperty(state, 'numBytes', {
      configurable: true,
      enumerable: true,
      get: () => current,
      set: (v: number) => {
        current = v;
        for (const l of listeners) l(v);
      },
    });
  }
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0) {
      const value = state.numBytes;
      delete (state as Partial<EngineState>).numBytes;
      state.numBytes = value;
    }
  };
}

/** Runs `fn` once and reports the tensor-memory high-water mark it reached, plus the process RSS. */
export async function measurePeakMemory<T>(fn: () => T | Promise<T>): Promise<MemoryProbe<T>> {
  const before = tf.memory().numBytes;
  let peak = before;
  const rssBefore = process.memoryUsage().rss;
  const stop = watchEngineBytes((bytes) => {
    if (bytes > peak) peak = bytes;
  });
  let result: T;
  try {
    result = await fn();
  } finally {
    stop();
  }
  const after = tf.memory().numBytes;
  return {
    result,
    peakTensorBytes: peak - before,
    retainedTensorBytes: after - before,
    rssBefore,
    rssAfter: process.memoryUsage().rss,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
  };
}
