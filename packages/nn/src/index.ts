export { Module, ModuleList } from './module';
export {
  CheckpointStore,
  syncDir,
  ProgressBar,
  formatDuration,
  MetricsLog,
  InterruptFlag,
  runTrainingLoop,
} from './training';
export type { ProgressOptions, TrainingLoopOptions, TrainingLoopResult } from './training';
