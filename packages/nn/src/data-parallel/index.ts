export { DataParallelEngine, splitRows, sliceRows } from './engine';
export type { DataParallelOptions, DataParallelStep } from './engine';
export type { ReplicaTask, ReplicaFactory, GradientReplica, Shard, ShardArray, ShardInputs } from './protocol';
