/*
 * model_index.json: what a pipeline folder holds, in the form diffusers writes for `LDMPipeline` and
 * `DDPMPipeline`, so `DiffusionPipeline.from_pretrained(dir)` loads a folder this project wrote and
 * `fromPretrained` here loads one diffusers saved. Each component is `[library, class]` and lives in
 * the subfolder of its key. What only this project needs (the training data's name) sits under
 * `_ldm`: diffusers ignores every `_`-prefixed key.
 *
 * Folders written before this format (`space`, `sample_shape`, `vae` as a relative path) still load.
 */
import { z } from 'zod';
import { LdmError } from '@ldm/backend';
import { joinLocation, readLocationText, writeFileAtomic } from '@ldm/nn';

export const MODEL_INDEX = 'model_index.json';

/** The diffusers version whose folder layout this writes (and whose loader was checked against it). */
export const DIFFUSERS_VERSION = '0.38.0';

const component = <C extends z.ZodType<string>>(className: C) => z.tuple([z.literal('diffusers'), className]);

const projectExtras = z.object({ data: z.string().optional() }).optional();

/** A latent pipeline, as diffusers' `LDMPipeline` (its `vqvae` may be an AutoencoderKL). */
const ldmIndex = z.looseObject({
  _class_name: z.literal('LDMPipeline'),
  _diffusers_version: z.string().optional(),
  vqvae: component(z.literal('AutoencoderKL')),
  unet: component(z.literal('UNet2DModel')),
  scheduler: component(z.enum(['DDPMScheduler', 'DDIMScheduler'])),
  _ldm: projectExtras,
});

/** A pixel pipeline, as diffusers' `DDPMPipeline`. */
const ddpmIndex = z.looseObject({
  _class_name: z.literal('DDPMPipeline'),
  _diffusers_version: z.string().optional(),
  unet: component(z.literal('UNet2DModel')),
  scheduler: component(z.enum(['DDPMScheduler', 'DDIMScheduler'])),
  _ldm: projectExtras,
});

/** The format `ldm train` wrote before diffusers' layout (still read). */
const legacyIndex = z.object({
  _class_name: z.enum(['DDPMPipeline', 'LatentDDPMPipeline']),
  space: z.enum(['pixel', 'latent']),
  vae: z.string().min(1).optional(),
  sample_shape: z.tuple([z.number().int().positive(), z.number().int().positive(), z.number().int().positive()]),
  data: z.string().optional(),
});

export type LdmModelIndex = z.infer<typeof ldmIndex>;
export type DdpmModelIndex = z.infer<typeof ddpmIndex>;
export type LegacyModelIndex = z.infer<typeof legacyIndex>;

/** A model_index.json read and checked: the diffusers form, or the project's older one. */
export type ModelIndex =
  | { format: 'diffusers'; kind: 'latent'; json: LdmModelIndex }
  | { format: 'diffusers'; kind: 'pixel'; json: DdpmModelIndex }
  | { format: 'legacy'; kind: 'latent' | 'pixel'; json: LegacyModelIndex };

function describeIssue(path: string, issue: z.core.$ZodIssue | undefined): string {
  const key = issue && issue.path.length > 0 ? issue.path.map(String).join('.') : '(top level)';
  return `${path}: key "${key}": ${issue?.message ?? 'invalid'}`;
}

/** Checks a parsed model_index.json; `path` names the file in the error. */
export function parseModelIndex(json: unknown, path: string): ModelIndex {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new LdmError('INVALID_CONFIG', `${path}: expected a JSON object`);
  }
  const record = json as Record<string, unknown>;
  if ('space' in record || 'sample_shape' in record) {
    const legacy = legacyIndex.safeParse(json);
    if (!legacy.success) {
      throw new LdmError(
        'INVALID_CONFIG',
        `${describeIssue(path, legacy.error.issues[0])} (an older ldm pipeline folder; retrain with ldm train, or load and save() it with @ldm/pipeline to convert)`,
      );
    }
    if (legacy.data.space === 'latent' && !legacy.data.vae) {
      throw new LdmError('INVALID_CONFIG', `${path}: key "vae": a latent pipeline must name its VAE folder`);
    }
    return { format: 'legacy', kind: legacy.data.space, json: legacy.data };
  }
  const className = record._class_name;
  if (className === 'LDMPipeline') {
    const r = ldmIndex.safeParse(json);
    if (!r.success) throw new LdmError('INVALID_CONFIG', describeIssue(path, r.error.issues[0]));
    return { format: 'diffusers', kind: 'latent', json: r.data };
  }
  if (className === 'DDPMPipeline') {
    const r = ddpmIndex.safeParse(json);
    if (!r.success) throw new LdmError('INVALID_CONFIG', describeIssue(path, r.error.issues[0]));
    return { format: 'diffusers', kind: 'pixel', json: r.data };
  }
  throw new LdmError('INVALID_CONFIG', `${path}: key "_class_name": expected "LDMPipeline" or "DDPMPipeline", got ${JSON.stringify(className)}`);
}

/** Reads and checks `dir/model_index.json` (a directory or an http(s) URL); a missing folder or file is a one-line error naming it. */
export async function readModelIndex(dir: string): Promise<ModelIndex> {
  const path = joinLocation(dir, MODEL_INDEX);
  let text: string;
  try {
    text = await readLocationText(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new LdmError('FILE_NOT_FOUND', `${dir} is not a pipeline folder: ${MODEL_INDEX} is missing (train one with ldm train)`);
    }
    throw new LdmError('FILE_NOT_FOUND', `${path}: cannot read (${code ?? (error as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new LdmError('CORRUPT_FILE', `${path} is not valid JSON (${(error as Error).message})`);
  }
  return parseModelIndex(json, path);
}

/** model_index.json as diffusers' `save_pretrained` writes it, plus the project's `_ldm` extras. */
export function modelIndexJson(
  kind: 'latent' | 'pixel',
  schedulerClass: 'DDPMScheduler' | 'DDIMScheduler',
  extras: { data?: string } = {},
): LdmModelIndex | DdpmModelIndex {
  const common = {
    _diffusers_version: DIFFUSERS_VERSION,
    scheduler: ['diffusers', schedulerClass] as ['diffusers', typeof schedulerClass],
    unet: ['diffusers', 'UNet2DModel'] as ['diffusers', 'UNet2DModel'],
    ...(Object.keys(extras).length > 0 ? { _ldm: extras } : {}),
  };
  return kind === 'latent' ? { _class_name: 'LDMPipeline', ...common, vqvae: ['diffusers', 'AutoencoderKL'] } : { _class_name: 'DDPMPipeline', ...common };
}

export async function writeModelIndex(dir: string, index: LdmModelIndex | DdpmModelIndex): Promise<void> {
  await writeFileAtomic(joinLocation(dir, MODEL_INDEX), `${JSON.stringify(index, null, 2)}\n`, { mkdir: true });
}
