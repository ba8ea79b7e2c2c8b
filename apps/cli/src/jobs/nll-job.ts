import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { Generator, LdmError } from '@ldm/backend';
import { NoiseSchedule, parseDiffusersSchedulerConfig, variationalBound } from '@ldm/ddpm';
import type { SchedulerConfig } from '@ldm/ddpm';
import { encodeToLatents, vaeElbo } from '@ldm/vae';
import type { NllArgs } from '../options/nll';
import { DEFAULTS } from '../defaults';
import { exists, startBackend } from './common';
import { firstImages, loadSplit } from './data';
import { isLatentPipeline, loadPipeline, MODEL_INDEX } from '@ldm/pipeline';
import { loadVae } from './samples';

/** The pipeline's scheduler_config.json, checked (as the scheduler class it names), with the file named in an error. */
function schedulerConfigOf(json: Record<string, unknown>, dir: string): SchedulerConfig {
  try {
    return parseDiffusersSchedulerConfig(json, json._class_name === 'DDIMScheduler' ? 'ddim' : 'ddpm');
  } catch (error) {
    if (LdmError.isInstance(error)) throw new LdmError(error.code, `${join(dir, 'scheduler', 'scheduler_config.json')}: ${error.message}`, { cause: error });
    throw error;
  }
}

/**
 * `ldm nll`: an upper bound on the negative log-likelihood of held-out data in bits/dim. A pixel DDPM
 * gives Ho et al.'s variational bound with the discretized decoder; a VAE gives its ELBO; a latent
 * DDPM gives its bound on the (continuous) scaled latents, which is a different quantity and labelled so.
 */
export async function nllJob(args: NllArgs): Promise<void> {
  await startBackend(args);
  // The model first: a broken model folder is told before the data set is read.
  const isPipeline = await exists(join(args.model, MODEL_INDEX));
  const pipeline = isPipeline ? await loadPipeline(args.model) : undefined;
  const config = pipeline ? schedulerConfigOf(pipeline.schedulerConfig, args.model) : undefined;
  const standaloneVae = isPipeline ? undefined : await loadVae(args.model, false);
  const { heldOut } = await loadSplit(args.data, DEFAULTS.heldOut, args.seed);
  const data = firstImages(heldOut, args.n);
  if (data.shape[0] === 0)
    throw new LdmError('BAD_DATA', `--data ${args.data}: no held-out images to evaluate (the data set is too small for a ${DEFAULTS.heldOut} held-out split)`);
  const generator = new Generator(args.seed).split('nll');
  let sum = 0;
  let count = 0;
  let label = '';
  if (standaloneVae) {
    const vae = standaloneVae;
    for (let start = 0; start < data.shape[0]; start += args.batchSize) {
      const b = Math.min(args.batchSize, data.shape[0] - start);
      const size = data.shape[1] * data.shape[2] * data.shape[3];
      const bpd = tf.tidy(() =>
        tf.sum(
          vaeElbo(vae, tf.tensor4d(data.data.subarray(start * size, (start + b) * size), [b, data.shape[1], data.shape[2], data.shape[3]]), { generator })
            .bitsPerDim,
        ),
      );
      sum += (await bpd.data())[0]!;
      bpd.dispose();
      count += b;
    }
    vae.dispose();
    label = 'VAE negative ELBO (discretized-Gaussian decoder), bits/dim of the images';
  } else if (pipeline && config) {
    const vae = isLatentPipeline(pipeline) ? pipeline.vae : undefined;
    const schedule = NoiseSchedule.fromOptions(config);
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
        predictionType: config.predictionType,
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
  const bitsPerDim = sum / count;
  if (!Number.isFinite(bitsPerDim)) {
    throw new LdmError(
      'NUMERICAL_ERROR',
      `--model ${args.model}: the bound came out ${bitsPerDim} bits/dim over ${count} images; the model's outputs are not finite (diverged training?)`,
    );
  }
  process.stdout.write(`${bitsPerDim.toFixed(4)} bits/dim over ${count} held-out images: ${label}\n`);
}
