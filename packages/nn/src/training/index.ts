export { CheckpointStore, syncDir } from './checkpoint-store';
export { ProgressBar, formatDuration } from './progress';
export type { ProgressOptions } from './progress';
export { MetricsLog } from './metrics-log';
export { InterruptFlag } from './interrupt';
export { runTrainingLoop } from './training-loop';
export type { TrainingLoopOptions, TrainingLoopResult } from './training-loop';
export { readResumePoint } from './resume-point';
export type { CheckpointState } from './resume-point';
