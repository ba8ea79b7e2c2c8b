// The README example, kept runnable: node --conditions=@ldm/source --import tsx bench/readme-example.ts
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@ldm/backend';
import { DDPMScheduler, gaussianMixtureDenoiser, sample, variationalBound } from '@ldm/ddpm';

await initBackend({ backend: 'wasm' });
const scheduler = DDPMScheduler.fromConfig({ num_train_timesteps: 1000, beta_schedule: 'linear', clip_sample: false });
scheduler.setTimesteps(250); // fewer inference steps than training steps ('leading' spacing)
const mixture = { weights: [0.3, 0.7], means: [[-1.5], [1]], variances: [0.04, 0.25] };
const denoiser = gaussianMixtureDenoiser(mixture, scheduler.schedule.alphasCumprod, 'epsilon');
const x = sample({ denoiser, scheduler, shape: [1000, 1], seed: 0, onStep: ({ step, total }) => step % 50 === 0 && console.log(`${step}/${total}`) });
console.log(
  'fraction in the right-hand mode:',
  tf.tidy(() => tf.mean(tf.cast(tf.greater(x, 0), 'float32')).dataSync()[0]),
);
const bound = variationalBound({
  denoiser,
  schedule: scheduler.schedule,
  predictionType: 'epsilon',
  x0: x,
  seed: 1,
  decoder: 'gaussian',
  timesteps: { count: 100 },
});
console.log('bound (bits/dim):', bound.bitsPerDim.toFixed(3));
x.dispose();
