import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend, Generator } from '@ldm/backend';
import { loadTorchStateDict, readSafetensorsFile } from '@ldm/nn';
import type { TensorRecord } from '@ldm/nn';
import { AutoencoderKL, DEFAULT_VAE_CONFIG, DiagonalGaussian, vaeElbo } from './index';
import { rand } from '@ldm/backend';
import { VECTORS } from '../../../test/vectors';

function nchwToNhwc(rec: TensorRecord): tf.Tensor {
  return tf.tidy(() => tf.transpose(tf.tensor(rec.data, rec.shape, 'float32'), [0, 2, 3, 1]));
}

function maxRelError(got: tf.Tensor, ref: tf.Tensor): number {
  return tf.tidy(() => {
    const diff = tf.max(tf.abs(tf.sub(got, ref))).dataSync()[0]!;
    return diff / Math.max(1, tf.max(tf.abs(ref)).dataSync()[0]!);
  });
}

describe.each(['wasm', 'cpu'] as const)('AutoencoderKL against diffusers (vae_tiny) on %s', (backend) => {
  let tensors: Map<string, TensorRecord>;
  let config: Record<string, unknown>;
  beforeAll(async () => {
    await initBackend({ backend });
    tensors = (await readSafetensorsFile(join(VECTORS, 'vae_tiny.safetensors'))).tensors;
    config = JSON.parse(await readFile(join(VECTORS, 'vae_tiny.json'), 'utf8')).config;
  });

  it('reproduces posterior mean/logvar, the decoded mean and every debug activation within 1e-4', () => {
    const vae = AutoencoderKL.fromConfig(config);
    loadTorchStateDict(vae, tensors, { ignorePrefixes: ['input.', 'output.', 'debug.'] });
    vae.eval();
    expect(vae.numParameters()).toBe(657_221);
    const before = tf.memory().numTensors;
    const errors: Record<string, number> = {};
    const trace = (name: string, act: tf.Tensor) => {
      const ref = nchwToNhwc(tensors.get(`debug.${name}`)!);
      errors[name] = maxRelError(act, ref);
      ref.dispose();
    };
    const x = nchwToNhwc(tensors.get('input.x')!) as tf.Tensor4D;
    const posterior = vae.encode(x, trace);
    const refMean = nchwToNhwc(tensors.get('output.posterior_mean')!);
    const refLogvar = nchwToNhwc(tensors.get('output.posterior_logvar')!);
    errors.posterior_mean = maxRelError(posterior.mean, refMean);
    errors.posterior_logvar = maxRelError(posterior.logvar, refLogvar);
    const decoded = vae.decode(posterior.mean, trace);
    const refDecoded = nchwToNhwc(tensors.get('output.decoded_mean')!);
    errors.decoded_mean = maxRelError(decoded, refDecoded);
    const expected = [...tensors.keys()].filter((k) => k.startsWith('debug.')).map((k) => k.slice(6));
    for (const name of expected) expect(errors, name).toHaveProperty([name]);
    for (const [name, e] of Object.entries(errors)) expect(e, name).toBeLessThanOrEqual(1e-4);
    tf.dispose([x, decoded, refMean, refLogvar, refDecoded]);
    posterior.dispose();
    expect(tf.memory().numTensors).toBe(before);
    vae.dispose();
  });
});

describe('AutoencoderKL posterior, ELBO, files', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm' });
  });

  const small = {
    ...DEFAULT_VAE_CONFIG,
    blockOutChannels: [8, 16],
    downBlockTypes: ['DownEncoderBlock2D', 'DownEncoderBlock2D'],
    upBlockTypes: ['UpDecoderBlock2D', 'UpDecoderBlock2D'],
    normNumGroups: 4,
  } as const;

  it('KL matches the closed form, logvar is clamped, sampling is seeded', async () => {
    const moments = tf.tensor4d([0.5, -1, 40, -50], [1, 1, 1, 4]);
    const q = DiagonalGaussian.fromMoments(moments);
    expect(Array.from(q.logvar.dataSync())).toEqual([20, -30]);
    const mu = [0.5, -1];
    const lv = [20, -30];
    const kl = 0.5 * mu.reduce((s, m, i) => s + m * m + Math.exp(lv[i]!) - 1 - lv[i]!, 0);
    expect(Math.abs(q.kl().dataSync()[0]! - kl) / kl).toBeLessThan(1e-6);
    const a = q.sample(new Generator(3)).dataSync();
    const b = q.sample(new Generator(3)).dataSync();
    expect(Array.from(a)).toEqual(Array.from(b));
    tf.dispose(moments);
    q.dispose();
  });

  it('ELBO: bits/dim = −elbo/(D ln 2), reconstruction is a probability (≥ 0 nats), β only changes loss', () => {
    const vae = new AutoencoderKL(small, new Generator(1));
    const x = tf.tidy(() => tf.sub(tf.mul(tf.round(tf.mul(rand([2, 16, 16, 1], new Generator(2)), 255)), 2 / 255), 1)) as tf.Tensor4D;
    const r1 = vaeElbo(vae, x, { generator: new Generator(5) });
    const r2 = vaeElbo(vae, x, { generator: new Generator(5), beta: 0.5 });
    const rec = Array.from(r1.reconstruction.dataSync());
    const kl = Array.from(r1.kl.dataSync());
    const elbo = Array.from(r1.elbo.dataSync());
    const bpd = Array.from(r1.bitsPerDim.dataSync());
    for (let i = 0; i < 2; i++) {
      expect(rec[i]!).toBeGreaterThan(0);
      expect(kl[i]!).toBeGreaterThan(0);
      expect(elbo[i]!).toBeCloseTo(-rec[i]! - kl[i]!, 2);
      expect(bpd[i]!).toBeCloseTo(-elbo[i]! / (256 * Math.LN2), 4);
    }
    expect(r1.loss.dataSync()[0]).toBeCloseTo((rec[0]! + rec[1]! + kl[0]! + kl[1]!) / 2, 1);
    expect(r2.loss.dataSync()[0]).toBeCloseTo((rec[0]! + rec[1]! + 0.5 * (kl[0]! + kl[1]!)) / 2, 1);
    tf.dispose([x, r1, r2] as unknown as tf.Tensor[]);
    vae.dispose();
  });

  it('toConfig() reproduces the config.json diffusers wrote, key for key', async () => {
    const ref = JSON.parse(await readFile(join(VECTORS, 'vae_tiny.json'), 'utf8')).config;
    const vae = AutoencoderKL.fromConfig(ref);
    expect(vae.toConfig()).toEqual(ref);
    vae.dispose();
  });

  it('save → fromPretrained round-trips bit-exactly', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vae-'));
    try {
      const vae = new AutoencoderKL(small, new Generator(9));
      await vae.save(dir);
      const cfg = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
      expect(cfg._class_name).toBe('AutoencoderKL');
      expect(cfg.latent_channels).toBe(4);
      const loaded = await AutoencoderKL.fromPretrained(dir);
      expect(loaded.config).toEqual(vae.config);
      const a = vae.parameters();
      for (const [name, v] of loaded.parameters()) {
        expect(Buffer.from((v.dataSync() as Float32Array).buffer).equals(Buffer.from((a.get(name)!.dataSync() as Float32Array).buffer)), name).toBe(true);
      }
      vae.dispose();
      loaded.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
