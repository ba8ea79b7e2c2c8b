/* @ldm/vae in a web page (package.json's `browser` condition): the model, loaded from an http(s) URL; no training. */
export { AutoencoderKL } from './autoencoder-kl';
export { DiagonalGaussian } from './posterior';
export { vaeElbo, vaeLoss } from './elbo';
export type { ElboOptions, ElboTerms, VaeLossConfig } from './elbo';
export { AUTOENCODER_KL_DEFAULTS, DEFAULT_VAE_CONFIG, VAE_NORM_EPS, resolveVaeConfig, vaeConfigToDiffusers } from './config';
export type { AutoencoderKLConfig, AutoencoderKLConfigInput, ActivationTrace } from './config';
export { Encoder, DownEncoderBlock2D } from './encoder';
export { Decoder, UpDecoderBlock2D } from './decoder';
// Training needs Node (checkpoints, data-parallel workers, the datasets): not in the browser build.
export { computeLatentStatistics, encodeToLatents, saveVaeWithLatentStatistics, readLatentStatistics, LATENT_STATS_NAME } from './latents';
export type { LatentStatistics } from './latents';
