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
export { parseSafetensors, serializeSafetensors, readSafetensorsFile, writeSafetensorsFile, MAX_HEADER_BYTES } from './safetensors';
export type { SafetensorsDtype, TensorRecord, SafetensorsFile } from './safetensors';
export { writeFileAtomic } from './atomic-write';
export { f16BitsToFloat, bf16BitsToFloat, floatToF16Bits, floatToBf16Bits } from './half-float';
