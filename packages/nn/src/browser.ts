/*
 * @ldm/nn in a web page (package.json's `browser` condition): the layers, the safetensors reader, model
 * folders read over HTTP. What needs Node (training loops and checkpoints, data-parallel worker
 * threads, reading and writing files) is left out; model folders are http(s) URLs here.
 */
export { Module, ModuleList } from './module';
// Training (checkpoints, metrics files, worker threads) needs Node; its types and toTensor do not.
export { toTensor } from './shard-tensor';
export type {
  Recipe,
  TrainableModel,
  TrainingLoss,
  Resumable,
  TrainOptions,
  TrainResult,
  TrainingReplicaConfig,
  CheckpointState,
} from './training';
export { parseSafetensors, serializeSafetensors, MAX_HEADER_BYTES } from './safetensors';
export type { SafetensorsDtype, TensorRecord, SafetensorsFile } from './safetensors';
// writeFileAtomic: @ldm/backend's browser build, which refuses to write (a page has no file system).
export { writeFileAtomic } from '@ldm/backend';
export { discretizedGaussianLogLikelihood, normalCdf } from './discretized-gaussian';
export { f16BitsToFloat, bf16BitsToFloat, floatToF16Bits, floatToBf16Bits } from './half-float';
export { uniformInit, kaimingUniformInit, biasInit } from './init';
export { silu } from './activations';
export { Linear } from './linear';
export { Conv2d } from './conv2d';
export type { Conv2dOptions } from './conv2d';
export { GroupNorm } from './group-norm';
export { Dropout } from './dropout';
export { sinusoidalEmbedding, TimestepEmbedding } from './timestep-embedding';
export type { SinusoidalEmbeddingOptions } from './timestep-embedding';
export { SpatialSelfAttention } from './attention';
export type { SpatialSelfAttentionOptions } from './attention';
export { ResnetBlock2D } from './resnet-block';
export type { ResnetBlockOptions } from './resnet-block';
export { Downsample2D } from './downsample';
export { Upsample2D, upsampleNearest2x } from './upsample';
export { UNetMidBlock2D } from './mid-block';
export type { MidBlockOptions } from './mid-block';
export { toTorchStateDict, loadTorchStateDict, firstNonFinite } from './torch-layout';
export {
  readModelFolder,
  writeModelFolder,
  loadModelFolderInto,
  loadPretrained,
  checkConfigAgainstWeights,
  CONFIG_NAME,
  WEIGHTS_NAME,
} from './model-folder-browser';
export { buildPretrained, readModelFolderFromUrl } from './model-folder-core';
export { isUrl } from './location';
export { joinLocation, resolveLocation, readLocationText, readLocationBytes } from './location-browser';
export type { ModelFolder } from './model-folder-browser';
export { camelToSnake, snakeToCamel, resolveConfig, toDiffusersJson } from './diffusers-config';
export { Adam, AdamW, ADAM_DEFAULTS, ADAMW_DEFAULT_WEIGHT_DECAY } from './optim/adam';
export type { AdamOptions, AdamState } from './optim/adam';
export { globalNorm, clipCoefficient } from './optim/clip-grad-norm';
export { EMA, emaDecay, resolveEmaOptions, EMA_DEFAULTS } from './ema';
export type { EmaOptions, ResolvedEmaOptions, EmaState } from './ema';
export { learningRateAt, LR_SCHEDULE_DEFAULTS } from './lr-schedule';
export type { LearningRateSchedule, LearningRateScheduleKind } from './lr-schedule';
export { matMulFastGrad } from './matmul';
export type { DataParallelOptions, DataParallelStep, ReplicaTask, ReplicaFactory, GradientReplica, Shard, ShardArray, ShardInputs } from './data-parallel';
export { parseWithSchema, showValue, schemas } from './schema';
