export {
  BETA_SCHEDULES,
  PREDICTION_TYPES,
  VARIANCE_TYPES,
  TIMESTEP_SPACINGS,
  SCHEDULER_DEFAULTS,
  resolveSchedulerConfig,
  parseDiffusersSchedulerConfig,
  toDiffusersSchedulerConfig,
} from './config';
export type { BetaSchedule, PredictionType, VarianceType, TimestepSpacing, SchedulerKind, SchedulerConfig, SchedulerOptions } from './config';
export { NoiseSchedule, makeBetas, rescaleZeroTerminalSnr } from './schedule';
export type { BetaScheduleOptions } from './schedule';
export { spacedTimesteps, validateCustomTimesteps } from './timesteps';
export { coefficientAt } from './coefficients';
export type { Timesteps } from './coefficients';
export { addNoise, velocity, trainingTarget } from './forward';
export { predictionToX0AndEps, x0AndEpsToPrediction } from './prediction';
export { dynamicThreshold } from './thresholding';
export { minSnrWeights, diffusionLoss, ddpmLoss } from './loss';
export type { DiffusionLossOptions, DenoisingModel, DdpmLossConfig } from './loss';
export { SchedulerBase } from './scheduler-base';
export type { Scheduler, StepOptions, StepOutput } from './scheduler-base';
export { DDPMScheduler } from './ddpm-scheduler';
export { sample, sampleStepwise } from './sample';
export type { Denoiser, SampleOptions, SampleProgress, SampleState } from './sample';
export { gaussianMixtureDenoiser, gaussianMixtureLogDensity } from './gaussian-mixture';
export type { GaussianMixture } from './gaussian-mixture';
export { variationalBound } from './vlb';
export type { VlbOptions, VlbResult, VlbDecoder } from './vlb';
export { trainDDPM, TRAIN_DDPM_DEFAULTS } from './train';
export { withEma } from '@ldm/nn';
export type { TrainDDPMOptions, TrainDDPMResult } from './train';
