// Everything the browser build has (schedules, schedulers, the sampler), plus training, which needs Node.
export * from './browser';
export { trainDDPM, TRAIN_DDPM_DEFAULTS } from './train';
export { withEma } from '@ldm/nn';
export type { TrainDDPMOptions, TrainDDPMResult } from './train';
