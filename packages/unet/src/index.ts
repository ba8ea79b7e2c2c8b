export { UNet2DModel } from './unet-2d-model';
export type { Timesteps, ActivationTrace } from './unet-2d-model';
export { UNET_2D_DEFAULTS, PIXEL_UNET_CONFIG, LATENT_UNET_CONFIG, resolveUNetConfig, unetConfigToDiffusers } from './config';
export type { UNet2DConfig, UNet2DConfigInput, UNetDownBlockType, UNetUpBlockType } from './config';
export { DownBlock2D } from './down-block';
export type { DownBlockOptions } from './down-block';
export { UpBlock2D } from './up-block';
export type { UpBlockOptions } from './up-block';
