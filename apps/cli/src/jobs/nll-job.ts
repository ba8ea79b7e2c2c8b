import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { Generator, LdmError } from '@ldm/backend';
import { NoiseSchedule, variationalBound } from '@ldm/ddpm';
import type { PredictionType } from '@ldm/ddpm';
import { encodeToLatents, vaeElbo } from '@ldm/vae';
import type { NllArgs } from '../commands/nll';
import { DEFAULTS } from '../defaults';
import { exists, PIPELINE_INDEX, startBackend } from './common';
import { firstImages, loadSplit } from './data';
import { isLatentPipeline, loadPipeline } from '@ldm/pipeline';
import { loadVae } from './samples';

/**
 * `ldm nll`: an upper bound on the negative log-likelihood of held-out data in bits/dim. A pixel DDPM
 * gives Ho et al.'s variational bound with the discretized decoder; a VAE gives its ELBO; a latent
 * DDPM gives its bound on the (continuous) scaled latents, which is a different quantity and labelled so.
 */
export async function nllJob(args: NllArgs): Promise<void> {
  if (!(await exists(args.model))) throw new LdmError('FILE_NOT_FOUND', `--model ${args.model} does not exist`);
  await startBackend(args.backend);
  const { heldOut } = await loadSplit(args.data, DEFAULTS.heldOut, args.seed);
  const data = firstImages(heldOut, args.n);
  const generator = new Generator(args.seed).split('nll');
  const isPipeline = await exists(join(args.model, PIPELINE_INDEX));
  let sum = 0;
  let count = 0;
  let label: string;
  if (!isPipeline) {
    const vae = await loadVae(args.model, false);
    for (let start = 0; start < data.shape[0]; start += args.batchSize) {
      const b = Math.min(args.batchSize, data.shape[0] - start);
      const size = data.shape[1] * data.shape[2] * data.shape[3];
      const bpd = tf.tidy(() => tf.sum(vaeElbo(vae, tf.tensor4d(data.data.subarray(start * size, (start + b) * size), [b, data.shape[1], data.shape[2], data.shape[3]]), { generator }).bitsPerDim));
      sum += (await bpd.data())[0]!;
      bpd.dispose();
      count += b;
    }
    vae.dispose();
    label = 'VAE negative ELBO (discretized-Gaussian decoder), bits/dim of the images';
  } else {
    const pipeline = await loadPipeline(args.model);
    const vae = isLatentPipeline(pipeline) ? pipeline.vae : undefined;
    const config = pipeline.schedulerConfig as { prediction_type?: PredictionType };
    const schedule = NoiseSchedule.fromOptions({
      numTrainTimesteps: Number(pipeline.schedulerConfig.num_train_timesteps ?? 1000),
      betaSchedule: (pipeline.schedulerConfig.beta_schedule ?? 'linear') as 'linear',
      betaStart: Number(pipeline.schedulerConfig.beta_start ?? 1e-4),
      betaEnd: Number(pipeline.schedulerConfig.beta_end ?? 0.02),
    });
    let x: { data: Float32Array; shape: [number, number, number, number] } = data;
    if (vae) {
      const latents = encodeToLatents(vae, { images: data.data, shape: data.shape, name: 'held-out' });
      x = { data: latents.images, shape: latents.shape };
    }
    const size = x.shape[1] * x.shape[2] * x.shape[3];
    const timesteps = args.timesteps >= schedule.numTrainTimesteps - 1 ? ('all' as const) : { count: args.timesteps, strategy: 'stratified' as const };
    for (let start = 0; start < x.shape[0]; start += args.batchSize) {
      const b = Math.min(args.batchSize, x.shape[0] - start);
      const x0 = tf.tensor4d(x.data.subarray(start * size, (start + b) * size), [b, x.shape[1], x.shape[2], x.shape[3]]);
      const result = variationalBound({
        denoiser: (xt, t) => pipeline.unet.forward(xt as tf.Tensor4D, t),
        schedule,
        predictionType: config.prediction_type ?? 'epsilon',
        x0,
        generator,
        decoder: vae ? 'gaussian' : 'discretized',
        clipDenoised: !vae,
        timesteps,
      });
      x0.dispose();
      sum += result.bitsPerDim * b;
      count += b;
      process.stderr.write(`\rnll ${count}/${x.shape[0]}`);
    }
    process.stderr.write('\n');
    pipeline.dispose();
    label = vae
      ? 'latent DDPM variational bound on the scaled latents (continuous Gaussian decoder), bits/dim of the latents — not comparable to image bits/dim'
      : `DDPM variational bound (Ho et al., discretized decoder${timesteps === 'all' ? ', all 1000 terms' : `, ${args.timesteps} stratified timesteps`}), bits/dim of the images`;
  }
  process.stdout.write(`${(sum / count).toFixed(4)} bits/dim over ${count} held-out images: ${label}\n`);
}
