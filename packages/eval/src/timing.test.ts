import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ldm/backend';
import { measurePeakMemory, timeIt } from './timing';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

describe('timeIt', () => {
  it('returns the median of the timed runs and skips the warm-up', async () => {
    let calls = 0;
    // Durations 5, 40, 400 ms after a 200-ms warm-up: the median of the three timed ones is 40 (their mean 148, with the
    // warm-up 161). Wide gaps, because a timer on a busy host overshoots by ~10 ms (19.2 ms measured for a 10-ms one).
    const durations = [200, 5, 40, 400];
    const t = await timeIt(
      async () => {
        const ms = durations[calls++]!;
        await new Promise((r) => setTimeout(r, ms));
      },
      { repeats: 3, warmup: 1 },
    );
    expect(calls).toBe(4);
    expect(t.timesMs).toHaveLength(3);
    expect(t.medianMs).toBeGreaterThanOrEqual(39);
    expect(t.medianMs).toBeLessThan(140);
    expect(t.minMs).toBeLessThanOrEqual(t.medianMs);
    await expect(timeIt(() => 0, { repeats: 0 })).rejects.toThrow(/repeats/);
  });
});

describe('measurePeakMemory', () => {
  it('sees a transient allocation that is freed before the call returns', async () => {
    const before = tf.memory().numTensors;
    const probe = await measurePeakMemory(() => {
      tf.tidy(() => {
        const big = tf.zeros([1024, 256]); // 1 MiB
        const bigger = tf.add(big, 1); // another 1 MiB at the same time
        return tf.sum(bigger).dataSync();
      });
      return 42;
    });
    expect(probe.result).toBe(42);
    expect(probe.peakTensorBytes).toBeGreaterThanOrEqual(2 * 1024 * 256 * 4);
    expect(probe.peakTensorBytes).toBeLessThan(3 * 1024 * 256 * 4);
    expect(probe.retainedTensorBytes).toBe(0);
    expect(probe.rssAfter).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('nests, and leaves the engine counting normally afterwards', async () => {
    const outer = await measurePeakMemory(async () => {
      const inner = await measurePeakMemory(() => tf.tidy(() => tf.sum(tf.ones([256, 256])).dataSync()));
      const t = tf.zeros([512, 512]); // 1 MiB, more than the inner peak
      t.dispose();
      return inner.peakTensorBytes;
    });
    expect(outer.result).toBeGreaterThanOrEqual(256 * 256 * 4);
    expect(outer.peakTensorBytes).toBeGreaterThanOrEqual(512 * 512 * 4);
    const state = tf.engine().state as unknown as Record<string, unknown>;
    expect(Object.getOwnPropertyDescriptor(state, 'numBytes')?.get).toBeUndefined();
    const start = tf.memory().numBytes;
    const t = tf.zeros([10]);
    expect(tf.memory().numBytes).toBe(start + 40);
    t.dispose();
  });
});
