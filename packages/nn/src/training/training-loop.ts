import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { LdmError } from '@ldm/backend';
import { CheckpointStore } from './checkpoint-store';
import { InterruptFlag } from './interrupt';
import { MetricsLog } from './metrics-log';
import { ProgressBar } from './progress';

export interface TrainingLoopOptions {
  /** Run folder: checkpoints go to `<runDir>/checkpoints`, metrics to `<runDir>/metrics.jsonl`; none: an in-memory run (no files). */
  runDir?: string;
  label: string;
  totalSteps: number;
  /** Steps already done (0, or the step of the checkpoint resumed from). */
  startStep: number;
  /** Images per step, for the images/s figure. */
  batchSize: number;
  /** Steps between checkpoints (only with a runDir). */
  checkpointEvery?: number;
  /** Also write a checkpoint at the end (default true). */
  checkpointAtEnd?: boolean;
  /** Append to metrics.jsonl every this many steps (default 10). */
  logEvery?: number;
  /** Called every `sampleEvery` steps (e.g. to write a sample grid). */
  sampleEvery?: number;
  onSample?: (step: number) => Promise<void>;
  /** One optimisation step (1-based step number). The loop disposes what it returns. */
  step: (step: number) => { loss: tf.Scalar; metrics?: Record<string, tf.Scalar> };
  /** Writes everything needed to resume after `step` into the (temporary) folder `dir` (needed with a runDir). */
  saveCheckpoint?: (dir: string, step: number) => Promise<void>;
  /** Called after each step with its loss (e.g. to average the last losses of a short run). */
  onStep?: (step: number, loss: number) => void;
  silent?: boolean;
}

export interface TrainingLoopResult {
  /** The last step completed. */
  step: number;
  /** The signal that stopped the loop early, if any. */
  interrupted?: NodeJS.Signals;
  /** Exponentially smoothed loss at the end. */
  smoothedLoss: number;
  /** Mean of the other metrics over the last logging window. */
  lastMetrics: Record<string, number>;
  imagesPerSecond: number;
}

/**
 * Algorithm-agnostic training driver: runs `step` until `totalSteps`, reads the loss each step
 * (a NaN or infinite loss stops the run with the step named; no checkpoint is written after it,
 * so the last good one stays), checkpoints atomically every `checkpointEvery` steps and on
 * SIGINT/SIGTERM, logs metrics, and draws progress.
 */
export async function runTrainingLoop(options: TrainingLoopOptions): Promise<TrainingLoopResult> {
  const { runDir, saveCheckpoint } = options;
  if (runDir !== undefined && !(saveCheckpoint && Number.isInteger(options.checkpointEvery) && options.checkpointEvery! >= 1)) {
    throw new LdmError('INVALID_ARGUMENT', `${options.label}: a run with a folder needs saveCheckpoint and checkpointEvery ≥ 1`);
  }
  const store = runDir === undefined ? undefined : new CheckpointStore(join(runDir, 'checkpoints'));
  const log = runDir === undefined ? undefined : new MetricsLog(join(runDir, 'metrics.jsonl'));
  const save = async (n: number) => {
    await store?.save(n, (dir) => saveCheckpoint!(dir, n));
    lastSaved = n;
  };
  const logEvery = options.logEvery ?? 10;
  const bar = new ProgressBar({
    total: options.totalSteps,
    label: options.label,
    start: options.startStep,
    rateUnit: 'img/s',
    silent: options.silent ?? false,
  });
  // SIGINT/SIGTERM stop a run with a folder after a checkpoint; an in-memory run has nothing to save, so a
  // signal keeps its default effect (the process ends) rather than leaving a half-trained model to the caller.
  const interrupt = store ? new InterruptFlag() : undefined;
  let smoothed = NaN;
  let lastSaved = options.startStep;
  const window: Record<string, number[]> = {};
  let lastMetrics: Record<string, number> = {};
  const t0 = performance.now();
  let step = options.startStep;
  try {
    while (step < options.totalSteps) {
      const next = step + 1;
      const { loss, metrics = {} } = options.step(next);
      const names = Object.keys(metrics);
      const values = await Promise.all([loss, ...names.map((n) => metrics[n]!)].map((t) => t.data()));
      tf.dispose([loss, ...Object.values(metrics)]);
      const lossValue = values[0]![0]!;
      if (!Number.isFinite(lossValue)) {
        const latest = await store?.latest();
        throw new LdmError(
          'NUMERICAL_ERROR',
          `${options.label}: the loss became ${lossValue} at step ${next}; stopped without saving it. ` +
            (latest ? `The last good checkpoint (step ${latest.step}) is intact in ${latest.path}.` : 'No checkpoint was written yet.') +
            ' Try a lower learning rate or --max-grad-norm.',
        );
      }
      step = next;
      smoothed = Number.isNaN(smoothed) ? lossValue : 0.98 * smoothed + 0.02 * lossValue;
      const record = (name: string, value: number) => {
        window[name] = window[name] ?? [];
        window[name].push(value);
      };
      record('loss', lossValue);
      names.forEach((n, i) => record(n, values[i + 1]![0]!));
      if (step % logEvery === 0 || step === options.totalSteps) {
        lastMetrics = Object.fromEntries(Object.entries(window).map(([k, v]) => [k, v.reduce((a, b) => a + b, 0) / v.length]));
        for (const k of Object.keys(window)) window[k] = [];
        const elapsed = (performance.now() - t0) / 1000;
        await log?.append({ step, ...lastMetrics, smoothedLoss: smoothed, imagesPerSecond: ((step - options.startStep) * options.batchSize) / elapsed });
      }
      options.onStep?.(step, lossValue);
      bar.update(step, { loss: smoothed }, (step - options.startStep) * options.batchSize);
      if (store && step % options.checkpointEvery! === 0) await save(step);
      if (options.onSample && options.sampleEvery && step % options.sampleEvery === 0) await options.onSample(step);
      // Yield to the event loop so SIGINT/SIGTERM handlers run between steps.
      await new Promise((resolve) => setImmediate(resolve));
      if (interrupt?.raised) break;
    }
    if (store && step !== lastSaved && (interrupt?.raised || (options.checkpointAtEnd ?? true))) await save(step);
  } finally {
    interrupt?.dispose();
  }
  const elapsed = (performance.now() - t0) / 1000;
  bar.done(interrupt?.raised ? `${options.label}: stopped by ${interrupt.raised} at step ${step}; checkpoint written` : undefined);
  return {
    step,
    ...(interrupt?.raised ? { interrupted: interrupt.raised } : {}),
    smoothedLoss: smoothed,
    lastMetrics,
    imagesPerSecond: ((step - options.startStep) * options.batchSize) / Math.max(elapsed, 1e-9),
  };
}
