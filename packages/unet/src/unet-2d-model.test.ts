import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend, Generator, LdmError } from '@ldm/backend';
import { loadTorchStateDict, readSafetensorsFile, writeModelFolder } from '@ldm/nn';
import type { TensorRecord } from '@ldm/nn';
import { UNet2DModel, PIXEL_UNET_CONFIG, LATENT_UNET_CONFIG } from './index';
import { VECTORS } from '../../../test/vectors';

function nchwToNhwc(rec: TensorRecord): tf.Tensor {
  const t = tf.tensor(rec.data, rec.shape, 'float32');
  if (rec.shape.length !== 4) return t;
  const out = tf.transpose(t, [0, 2, 3, 1]);
  t.dispose();
  return out;
}

function maxRelError(got: tf.Tensor, ref: tf.Tensor): number {
  return tf.tidy(() => {
    const diff = tf.max(tf.abs(tf.sub(got, ref))).dataSync()[0]!;
    const scale = Math.max(1, tf.max(tf.abs(ref)).dataSync()[0]!);
    return diff / scale;
  });
}

describe.each(['wasm', 'cpu'] as const)('UNet2DModel against diffusers (unet_tiny) on %s', (backend) => {
  let tensors: Map<string, TensorRecord>;
  let config: Record<string, unknown>;
  beforeAll(async () => {
    await initBackend({ backend });
    tensors = (await readSafetensorsFile(join(VECTORS, 'unet_tiny.safetensors'))).tensors;
    config = JSON.parse(await readFile(join(VECTORS, 'unet_tiny.json'), 'utf8')).config;
  });

  it('reproduces the output and every debug activation within 1e-4', () => {
    const model = UNet2DModel.fromConfig(config);
    loadTorchStateDict(model, tensors, { ignorePrefixes: ['input.', 'output.', 'debug.'] });
    model.eval();
    expect(model.numParameters()).toBe(701_345);
    const before = tf.memory().numTensors;
    const x = nchwToNhwc(tensors.get('input.x')!) as tf.Tensor4D;
    const errors: Record<string, number> = {};
    const out = model.forward(x, [10, 700], (name, act) => {
      const ref = nchwToNhwc(tensors.get(`debug.${name}`)!);
      errors[name] = maxRelError(act, ref);
      ref.dispose();
    });
    const ref = nchwToNhwc(tensors.get('output.sample')!);
    errors.output = maxRelError(out, ref);
    expect(Object.keys(errors).sort()).toEqual([
      'conv_in',
      'conv_norm_out',
      'down_blocks.0',
      'down_blocks.1',
      'mid_block',
      'output',
      'time_embedding',
      'time_proj',
      'up_blocks.0',
      'up_blocks.1',
    ]);
    for (const [name, e] of Object.entries(errors)) expect(e, name).toBeLessThanOrEqual(1e-4);
    tf.dispose([x, out, ref]);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});

describe('UNet2DModel files and configs', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm' });
  });

  it('save → fromPretrained round-trips weights bit-exactly and writes diffusers config.json', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'unet-'));
    try {
      const model = new UNet2DModel({ ...LATENT_UNET_CONFIG, blockOutChannels: [16, 32], attentionHeadDim: 8 }, new Generator(7));
      await model.save(dir);
      const cfg = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
      expect(cfg._class_name).toBe('UNet2DModel');
      expect(cfg.block_out_channels).toEqual([16, 32]);
      expect(cfg.down_block_types).toEqual(['DownBlock2D', 'AttnDownBlock2D']);
      const { tensors } = await readSafetensorsFile(join(dir, 'diffusion_pytorch_model.safetensors'));
      // torch layout on disk: conv OIHW, linear [out, in]
      expect(tensors.get('conv_in.weight')!.shape).toEqual([16, 4, 3, 3]);
      expect(tensors.get('time_embedding.linear_1.weight')!.shape).toEqual([64, 16]);
      const loaded = await UNet2DModel.fromPretrained(dir);
      expect(loaded.config).toEqual(model.config);
      const a = model.parameters();
      for (const [name, v] of loaded.parameters()) {
        expect(Buffer.from((v.dataSync() as Float32Array).buffer).equals(Buffer.from((a.get(name)!.dataSync() as Float32Array).buffer)), name).toBe(true);
      }
      model.dispose();
      loaded.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('lists missing, unexpected and wrongly shaped keys', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'unet-'));
    try {
      const model = new UNet2DModel({ ...LATENT_UNET_CONFIG, blockOutChannels: [16, 32], attentionHeadDim: 8 });
      const { toTorchStateDict } = await import('@ldm/nn');
      const sd = toTorchStateDict(model);
      sd.delete('conv_out.bias');
      sd.set('extra.weight', { shape: [1], data: new Float32Array(1) });
      sd.set('conv_in.bias', { shape: [3], data: new Float32Array(3) });
      await writeModelFolder(dir, model.toConfig(), sd);
      const err = await UNet2DModel.fromPretrained(dir).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LdmError);
      const msg = (err as LdmError).message;
      expect(msg).toContain('conv_out.bias');
      expect(msg).toContain('extra.weight');
      expect(msg).toContain('conv_in.bias');
      model.dispose();
      await expect(UNet2DModel.fromPretrained(join(dir, 'nope'))).rejects.toThrow(/does not exist/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('toConfig() reproduces the config.json diffusers wrote, key for key', async () => {
    const ref = JSON.parse(await readFile(join(VECTORS, 'unet_tiny.json'), 'utf8')).config;
    const model = UNet2DModel.fromConfig(ref);
    expect(model.toConfig()).toEqual(ref);
    model.dispose();
  });

  it('rejects unknown and unsupported config keys by name', () => {
    expect(() => new UNet2DModel({ blockOutChanels: [32] } as Record<string, unknown>)).toThrow(/blockOutChanels/);
    expect(() => new UNet2DModel({ time_embedding_type: 'fourier' })).toThrow(/time_embedding_type/);
    expect(() => new UNet2DModel({ ...PIXEL_UNET_CONFIG, normNumGroups: 7 })).toThrow(/norm_num_groups/);
  });

  it('accepts one timestep for the whole batch or a 1-D tensor, and checks the count', () => {
    const model = new UNet2DModel({ ...LATENT_UNET_CONFIG, blockOutChannels: [16, 32], attentionHeadDim: 8 });
    model.eval();
    const x = tf.randomNormal([2, 8, 8, 4]) as tf.Tensor4D;
    const a = model.forward(x, 5);
    const tt = tf.tensor1d([5, 5], 'int32');
    const b = model.forward(x, tt);
    expect(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]).toBe(0);
    expect(() => model.forward(x, [1, 2, 3])).toThrow(/3 timesteps for a batch of 2/);
    tf.dispose([x, a, b, tt]);
    model.dispose();
  });
});
