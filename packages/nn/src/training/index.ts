export { CheckpointStore, syncDir } from './checkpoint-store';
export { ProgressBar, formatDuration } from './progress';
export type { ProgressOptions } from './progress';
export { MetricsLog } from './metrics-log';
export { InterruptFlag } from './interrupt';
export { runTrainingLoop } from './training-loop';
export type { TrainingLoopOptions, TrainingLoopResult } from './training-loop';
export { train, createTrainingReplica, withEma, toTensor } from './trainer';
export type { Recipe, TrainableModel, TrainingLoss, Resumable, TrainOptions, TrainResult, TrainingReplicaConfig } from './trainer';
