import { LdmError } from '@ldm/backend';
import { z } from 'zod';
import { parseWithSchema, resolveConfig, schemas, toDiffusersJson } from '@ldm/nn';

export type UNetDownBlockType = 'DownBlock2D' | 'AttnDownBlock2D';
export type UNetUpBlockType = 'UpBlock2D' | 'AttnUpBlock2D';

/** The configuration of diffusers' `UNet2DModel` in camelCase (config.json uses the snake_case names). */
export interface UNet2DConfig {
  sampleSize: number | null;
  inChannels: number;
  outChannels: number;
  centerInputSample: boolean;
  timeEmbeddingType: 'positional';
  timeEmbeddingDim: number | null;
  freqShift: number;
  flipSinToCos: boolean;
  downBlockTypes: UNetDownBlockType[];
  midBlockType: 'UNetMidBlock2D' | null;
  upBlockTypes: UNetUpBlockType[];
  blockOutChannels: number[];
  layersPerBlock: number;
  midBlockScaleFactor: number;
  downsamplePadding: number;
  downsampleType: 'conv';
  upsampleType: 'conv';
  dropout: number;
  actFn: 'silu';
  attentionHeadDim: number | null;
  normNumGroups: number;
  attnNormNumGroups: number | null;
  normEps: number;
  resnetTimeScaleShift: 'default';
  addAttention: boolean;
  classEmbedType: null;
  numClassEmbeds: null;
  numTrainTimesteps: number | null;
}

/** diffusers' defaults for `UNet2DModel` (v0.38). */
export const UNET_2D_DEFAULTS: Readonly<UNet2DConfig> = Object.freeze({
  sampleSize: null,
  inChannels: 3,
  outChannels: 3,
  centerInputSample: false,
  timeEmbeddingType: 'positional',
  timeEmbeddingDim: null,
  freqShift: 0,
  flipSinToCos: true,
  downBlockTypes: ['DownBlock2D', 'AttnDownBlock2D', 'AttnDownBlock2D', 'AttnDownBlock2D'],
  midBlockType: 'UNetMidBlock2D',
  upBlockTypes: ['AttnUpBlock2D', 'AttnUpBlock2D', 'AttnUpBlock2D', 'UpBlock2D'],
  blockOutChannels: [224, 448, 672, 896],
  layersPerBlock: 2,
  midBlockScaleFactor: 1,
  downsamplePadding: 1,
  downsampleType: 'conv',
  upsampleType: 'conv',
  dropout: 0,
  actFn: 'silu',
  attentionHeadDim: 8,
  normNumGroups: 32,
  attnNormNumGroups: null,
  normEps: 1e-5,
  resnetTimeScaleShift: 'default',
  addAttention: true,
  classEmbedType: null,
  numClassEmbeds: null,
  numTrainTimesteps: null,
} satisfies UNet2DConfig);

/**
 * Pixel-space UNet for 32×32×1 (MNIST padded 28→32). Three levels 32→16→8 with 16/32/64 channels,
 * one ResNet block a level and attention only at 8×8 and in the mid block: attention cost grows with
 * (H·W)², so it stays where there are 64 positions. 0.69 M parameters, 193 MFLOP per evaluation
 * (the 32/64/64 variant: 1.1 M, 497 MFLOP, 2.6× slower).
 */
export const PIXEL_UNET_CONFIG: Readonly<UNet2DConfig> = Object.freeze({
  ...UNET_2D_DEFAULTS,
  sampleSize: 32,
  inChannels: 1,
  outChannels: 1,
  blockOutChannels: [16, 32, 64],
  layersPerBlock: 1,
  downBlockTypes: ['DownBlock2D', 'DownBlock2D', 'AttnDownBlock2D'],
  upBlockTypes: ['AttnUpBlock2D', 'UpBlock2D', 'UpBlock2D'],
  normNumGroups: 8,
  attentionHeadDim: 32,
} satisfies UNet2DConfig);

/**
 * Latent UNet for the VAE's 8×8×4 latents: two levels (8×8 at 32 channels, 4×4 at 64) with attention
 * at 4×4 and in the mid block. 0.70 M parameters, 33 MFLOP per evaluation: about 150 training
 * images/s on one wasm thread (64/128: 2.8 M, 129 MFLOP, 46 images/s).
 */
export const LATENT_UNET_CONFIG: Readonly<UNet2DConfig> = Object.freeze({
  ...UNET_2D_DEFAULTS,
  sampleSize: 8,
  inChannels: 4,
  outChannels: 4,
  blockOutChannels: [32, 64],
  layersPerBlock: 1,
  downBlockTypes: ['DownBlock2D', 'AttnDownBlock2D'],
  upBlockTypes: ['AttnUpBlock2D', 'UpBlock2D'],
  normNumGroups: 8,
  attentionHeadDim: 32,
} satisfies UNet2DConfig);

/** Input accepted by UNet2DModel: a partial camelCase config or a diffusers config.json object. */
export type UNet2DConfigInput = Partial<UNet2DConfig> | Record<string, unknown>;

const size = schemas.positiveInt(1 << 14);
const optionalSize = size.nullable();

/**
 * What each config.json key may hold, checked before anything is built: a string where a number
 * belongs, a negative width or 10⁶ channels is an error naming the key, not a crash or a 4 GB
 * allocation. Values only this port supports are literals (diffusers knows more block types).
 */
const UNET_CONFIG_SCHEMA = z.object({
  sample_size: optionalSize,
  in_channels: size,
  out_channels: size,
  center_input_sample: z.boolean(),
  time_embedding_type: z.literal('positional'),
  time_embedding_dim: optionalSize,
  freq_shift: schemas.finite(),
  flip_sin_to_cos: z.boolean(),
  down_block_types: z
    .array(z.enum(['DownBlock2D', 'AttnDownBlock2D']))
    .min(1)
    .max(8),
  mid_block_type: z.literal('UNetMidBlock2D').nullable(),
  up_block_types: z
    .array(z.enum(['UpBlock2D', 'AttnUpBlock2D']))
    .min(1)
    .max(8),
  block_out_channels: z.array(schemas.positiveInt(4096)).min(1, 'must not be empty').max(8),
  layers_per_block: schemas.positiveInt(16),
  mid_block_scale_factor: schemas.positive(),
  downsample_padding: schemas.nonNegativeInt(3),
  downsample_type: z.literal('conv'),
  upsample_type: z.literal('conv'),
  dropout: z.number().min(0).max(0.999),
  act_fn: z.literal('silu'),
  attention_head_dim: schemas.positiveInt(4096).nullable(),
  norm_num_groups: schemas.positiveInt(4096),
  attn_norm_num_groups: schemas.positiveInt(4096).nullable(),
  norm_eps: schemas.positive(),
  resnet_time_scale_shift: z.literal('default'),
  add_attention: z.boolean(),
  class_embed_type: z.null(),
  num_class_embeds: z.null(),
  num_train_timesteps: schemas.positiveInt().nullable(),
});

/** Fills defaults and checks that the architecture can be built. */
export function resolveUNetConfig(input: UNet2DConfigInput = {}): UNet2DConfig {
  const c = resolveConfig<UNet2DConfig>(UNET_2D_DEFAULTS as UNet2DConfig, input, 'UNet2DModel config');
  parseWithSchema(UNET_CONFIG_SCHEMA, toDiffusersJson('UNet2DModel', c), 'UNet2DModel config');
  const n = c.blockOutChannels.length;
  if (c.downBlockTypes.length !== n || c.upBlockTypes.length !== n) {
    throw new LdmError(
      'INVALID_CONFIG',
      `UNet2DModel: down_block_types (${c.downBlockTypes.length}) and up_block_types (${c.upBlockTypes.length}) must each have one entry per block_out_channels (${n})`,
    );
  }
  for (const ch of c.blockOutChannels) {
    if (ch % c.normNumGroups !== 0)
      throw new LdmError('INVALID_CONFIG', `UNet2DModel: block_out_channels entry ${ch} is not divisible by norm_num_groups ${c.normNumGroups}`);
  }
  return c;
}

/** config.json as diffusers writes it. */
export function unetConfigToDiffusers(config: UNet2DConfig): Record<string, unknown> {
  return toDiffusersJson('UNet2DModel', config);
}
