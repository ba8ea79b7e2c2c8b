import { DEFAULT_VAE_CONFIG } from '../src/config';

/** An AutoencoderKL config small enough for a training test on 8×8×1 images (8×8 → 4×4 latents). */
export const TINY_VAE = {
  ...DEFAULT_VAE_CONFIG,
  blockOutChannels: [8, 16],
  downBlockTypes: ['DownEncoderBlock2D', 'DownEncoderBlock2D'],
  upBlockTypes: ['UpDecoderBlock2D', 'UpDecoderBlock2D'],
  normNumGroups: 4,
};
