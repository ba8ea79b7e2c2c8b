// Everything the browser build has (the model, loading, latent statistics), plus what needs Node: training and
// the per-channel standardization measured over a training set.
export * from './browser';
export { trainVAE, TRAIN_VAE_DEFAULTS } from './train';
export type { TrainVAEOptions } from './train';
export { channelStatistics, standardizeLatentChannels, standardizeLatentsOn } from './latent-standardization';
