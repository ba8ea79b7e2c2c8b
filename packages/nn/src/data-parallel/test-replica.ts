/** A tiny replica for the engine's tests: y = x·W + b with a mean squared error (and a `fail` switch). */
import * as tf from '@tensorflow/tfjs-core';
import type { GradientReplica, ShardInputs } from './protocol';

export interface LinearReplicaConfig {
  inputs: number;
  outputs: number;
  /** Throw from `loss` when info.fail is set; exit the thread when info.exit is set. */
}

export function createLinearReplica(config: unknown): GradientReplica {
  const { inputs, outputs } = config as LinearReplicaConfig;
  const w = tf.variable(tf.zeros([inputs, outputs]), true, `linear_w_${Math.random()}`);
  const b = tf.variable(tf.zeros([outputs]), true, `linear_b_${Math.random()}`);
  const unused = tf.variable(tf.zeros([3]), true, `linear_unused_${Math.random()}`);
  const parameters = new Map<string, tf.Variable>([
    ['w', w],
    ['b', b],
    ['unused', unused],
  ]);
  return {
    parameters,
    trainable: parameters,
    metricNames: ['mae'],
    loss(shard: ShardInputs, info: unknown) {
      const flags = (info ?? {}) as { fail?: boolean; exit?: boolean };
      if (flags.fail) throw new Error('deliberate failure');
      if (flags.exit) process.exit(3);
      const x = tf.tensor2d(shard.x!.data, shard.x!.shape as [number, number]);
      const y = tf.tensor(shard.y!.data, shard.y!.shape);
      const pred = tf.add(tf.matMul(x, w), b);
      return { loss: tf.mean(tf.squaredDifference(pred, y)) as tf.Scalar, metrics: { mae: tf.mean(tf.abs(tf.sub(pred, y))) as tf.Scalar } };
    },
    dispose: () => tf.dispose([w, b, unused]),
  };
}
