export { AutoencoderKL } from './autoencoder-kl';
export { DiagonalGaussian } from './posterior';
export { vaeElbo } from './elbo';
export type { ElboOptions, ElboTerms } from './elbo';
export { discretizedGaussianLogLikelihood } from './discretized-gaussian';
export { AUTOENCODER_KL_DEFAULTS, DEFAULT_VAE_CONFIG, VAE_NORM_EPS, resolveVaeConfig, vaeConfigToDiffusers } from './config';
export type { AutoencoderKLConfig, AutoencoderKLConfigInput, ActivationTrace } from './config';
export { Encoder, DownEncoderBlock2D } from './encoder';
export { Decoder, UpDecoderBlock2D } from './decoder';
